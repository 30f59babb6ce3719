// SPDX-License-Identifier: Apache-2.0
// The small diffusers U-Net (golden checkpoint of UNetGoldenTest) on the CUDA backend: forward, loss and every
// parameter gradient against PyTorch's values. Here it runs on the emulated driver + host-compiled kernels built by the
// kernels module (kernels/target/emu, named by surefire properties in nn/pom.xml); on a GPU machine, on the real driver
// when -Dddpm4j.cuda.driverPath= (and the cublas/cudnn paths) are set empty.
package ddpm4j.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;
import ddpm4j.core.io.SafeTensors;
import ddpm4j.kernels.cuda.Cuda;
import ddpm4j.kernels.cuda.CudaBackend;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class UNetCudaTest {
    /** Relative to each gradient's largest element, the same bound UNetGoldenTest holds the reference backend to. */
    static final double TOL = 1e-4;

    @Test
    void smallUNetForwardAndGradientsOnCudaMatchPyTorch() throws Exception {
        assumeTrue(Cuda.available(), () -> "CUDA backend unavailable: " + Cuda.unavailableReason());
        CudaBackend be = new CudaBackend(0);
        Path dir = Golden.dir("unet-small");
        try (SafeTensors io = SafeTensors.open(dir.resolve("io.safetensors"));
             UNet2DModel model = DiffusersCheckpoint.load(dir, be);
             Scope s = Scope.open()) {
            Tensor x = Golden.tensor(be, io.readF32("sample"), io.shape("sample"));
            Tensor eps = model.forward(x, io.readI64("timestep"));
            Golden.assertRel("eps", io.readF32("eps"), eps.toFloatArray(), TOL);
            Tensor loss = eps.mul(Golden.tensor(be, io.readF32("R"), io.shape("R"))).mean();
            Golden.assertRel("loss", io.readF32("loss"), new float[] {(float) loss.item()}, TOL);
            loss.backward();
            double global = 0;
            for (String k : model.namedParameters().keySet())
                for (float v : io.readF32("grad." + k)) global = Math.max(global, Math.abs(v));
            List<String> bad = new ArrayList<>();
            for (var e : model.namedParameters().entrySet()) {
                float[] want = io.readF32("grad." + e.getKey()), got = e.getValue().grad().toFloatArray();
                double worst = 0, scale = 1e-3 * global;
                for (int i = 0; i < want.length; i++) {
                    worst = Math.max(worst, Math.abs((double) got[i] - want[i]));
                    scale = Math.max(scale, Math.abs(want[i]));
                }
                if (!(worst / scale <= TOL)) bad.add(e.getKey() + " (relative error " + worst / scale + ")");
            }
            assertTrue(bad.isEmpty(), "CUDA gradients differ from PyTorch: " + bad);
        } finally {
            be.close();
        }
    }
}
