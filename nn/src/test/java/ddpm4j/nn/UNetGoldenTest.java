// SPDX-License-Identifier: Apache-2.0
// The U-Net against PyTorch: forward outputs, the timestep embedding and every parameter gradient of the small
// config, F16/BF16 (old attention names) checkpoints, and the paper's CIFAR-10 network with regenerated hash weights.
package ddpm4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.GradMode;
import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;
import ddpm4j.core.cpu.CpuBackend;
import ddpm4j.core.testing.TestBackends;
import ddpm4j.core.io.SafeTensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class UNetGoldenTest {
    static final double TOL = 1e-4;
    /** Winograd F(4x4, 3x3)'s rounding is about 10x direct convolution's (WinogradConv2dTest measures it per layer). */
    static final double WINOGRAD_TOL = 1e-4;
    final Backend be = Backends.get("reference");

    /** The reference backend and the fast CPU backend (UNetCudaTest covers CUDA). */
    static Stream<Backend> cpuBackends() {
        return TestBackends.all().filter(b -> b.name().equals("reference") || b.name().equals("cpu"));
    }

    @ParameterizedTest
    @MethodSource("cpuBackends")
    void smallForwardAndEveryGradientMatchPyTorch(Backend be) throws Exception {
        checkSmall(be, TOL);
    }

    /**
     * The same with every 3x3 stride-1 convolution (forward, input and weight gradient, conv_in's single channel included)
     * through Winograd F(4x4, 3x3), which the default keeps for large layers this small network never reaches.
     */
    @Test
    void smallNetworkThroughWinogradMatchesPyTorch() throws Exception {
        Backend cpu = TestBackends.fast().filter(b -> b.name().equals("cpu")).findFirst().orElse(null);
        Assumptions.assumeTrue(cpu != null, "cpu backend not available");
        CpuBackend.Winograd was = CpuBackend.winograd();
        CpuBackend.winograd(CpuBackend.Winograd.ALL);
        try {
            checkSmall(cpu, WINOGRAD_TOL);
        } finally {
            CpuBackend.winograd(was);
        }
    }

    private static void checkSmall(Backend be, double tol) throws Exception {
        Path dir = Golden.dir("unet-small");
        try (SafeTensors io = SafeTensors.open(dir.resolve("io.safetensors"));
             UNet2DModel model = DiffusersCheckpoint.load(dir, be);
             Scope s = Scope.open()) {
            assertEquals(Long.parseLong(io.metadata().get("num_parameters")), model.parameterCount());
            long[] t = io.readI64("timestep");
            float[] tf = new float[t.length];
            for (int i = 0; i < t.length; i++) tf[i] = t[i];
            UNetConfig c = model.config();
            Golden.assertRel("t_emb", io.readF32("t_emb"),
                    TimestepEmbedding.sinusoidal(tf, c.blockOutChannels().get(0), c.flipSinToCos(), c.freqShift()), 1e-5);

            Tensor x = Golden.tensor(be, io.readF32("sample"), io.shape("sample"));
            Tensor eps = model.forward(x, t);
            Golden.assertRel("eps", io.readF32("eps"), eps.toFloatArray(), tol);

            // loss = mean(eps * R); every parameter's gradient against PyTorch's
            Tensor r = Golden.tensor(be, io.readF32("R"), io.shape("R"));
            Tensor loss = eps.mul(r).mean();
            Golden.assertRel("loss", io.readF32("loss"), new float[] {(float) loss.item()}, tol);
            loss.backward();
            // Errors are relative to each gradient's largest element, floored at 1e-3 of the largest gradient of all:
            // to_k.bias has an exactly zero gradient (softmax ignores a per-row shift), so PyTorch stores ~1e-19.
            double global = 0;
            for (String k : model.namedParameters().keySet())
                for (float v : io.readF32("grad." + k)) global = Math.max(global, Math.abs(v));
            List<String> bad = new ArrayList<>();
            int checked = 0;
            for (var e : model.namedParameters().entrySet()) {
                Tensor g = e.getValue().grad();
                assertTrue(g != null, "no gradient for " + e.getKey());
                float[] want = io.readF32("grad." + e.getKey()), got = g.toFloatArray();
                double worst = 0, scale = 1e-3 * global;
                for (int i = 0; i < want.length; i++) {
                    worst = Math.max(worst, Math.abs((double) got[i] - want[i]));
                    scale = Math.max(scale, Math.abs(want[i]));
                }
                if (!(worst / scale <= tol)) bad.add(e.getKey() + " (relative error " + worst / scale + ")");
                checked++;
            }
            assertEquals(model.namedParameters().size(), checked);
            assertTrue(bad.isEmpty(), "gradients differ from PyTorch: " + bad);
        }
    }

    @Test
    void halfPrecisionCheckpointsUpcastAndMatch() throws Exception {
        try (SafeTensors io = SafeTensors.open(Golden.dir("unet-small").resolve("io.safetensors"))) {
            Tensor x = Golden.tensor(be, io.readF32("sample"), io.shape("sample"));
            long[] t = io.readI64("timestep");
            for (String[] v : new String[][] {{"unet-small-f16", "eps_f16"}, {"unet-small-bf16-legacy", "eps_bf16"}}) {
                try (UNet2DModel model = DiffusersCheckpoint.load(Golden.dir(v[0]), be);
                     Scope s = Scope.open(); GradMode g = GradMode.off()) {
                    float[] eps = model.forward(x, t).toFloatArray();
                    Golden.assertRel(v[0], io.readF32(v[1]), eps, TOL);
                    // the rounded weights really differ: the F32 output is far outside the tolerance
                    assertTrue(Golden.relErr(io.readF32("eps"), eps) > 5 * TOL, v[0] + " looks like the F32 weights");
                }
            }
            x.close();
        }
    }

    /**
     * The paper's network (12.4 GFLOP per image): on the fast CPU backend (about 5 minutes on the reference backend,
     * which {@code -Dddpm4j.unet.cifarBackend=reference} selects).
     */
    @Test
    void cifar10ParameterCountAndForward() throws Exception {
        Path dir = Golden.dir("unet-cifar10");
        UNetConfig cfg = DiffusersCheckpoint.readConfig(dir);
        assertEquals(UNetConfig.cifar10(), cfg);
        String name = System.getProperty("ddpm4j.unet.cifarBackend", "cpu");
        Assumptions.assumeTrue(Backends.providers().stream().anyMatch(p -> p.name().equals(name) && p.available()),
                "backend " + name + " is not available");
        Backend be = Backends.get(name);
        try (SafeTensors io = SafeTensors.open(dir.resolve("io.safetensors"));
             UNet2DModel model = new UNet2DModel(cfg, be, null);
             Scope s = Scope.open(); GradMode g = GradMode.off()) {
            System.out.println("CIFAR-10 U-Net (google/ddpm-cifar10-32 config): " + model.parameterCount() + " parameters");
            assertEquals(35_746_307L, model.parameterCount());
            Golden.hashInit(model, Long.parseLong(io.metadata().get("seed")));
            model.eval();
            Tensor x = Golden.tensor(be, io.readF32("sample"), io.shape("sample"));
            long t0 = System.nanoTime();
            float[] eps = model.forward(x, io.readI64("timestep")).toFloatArray();
            System.out.printf("CIFAR-10 forward, batch %d, %s backend: %.2f s%n", x.dim(0), be.name(), (System.nanoTime() - t0) / 1e9);
            Golden.assertRel("cifar10 eps", io.readF32("eps"), eps, TOL);
        }
    }
}
