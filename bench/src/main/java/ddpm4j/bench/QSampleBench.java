// SPDX-License-Identifier: Apache-2.0
// Fused add-noise x_t = a_i x0 + b_i eps (Eq. 4, per-sample coefficients) against the same from library ops
// (two broadcast multiplies and an add). Fused bytes per call: read x0, eps, write x_t = 12 n d B (GB/s = that / score).
// The unfused form moves 36 n d B through three kernels. Peer: peer.py qsample_<n>x<d> (PyTorch's mul/mul/add).
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.DType;
import ddpm4j.core.GradMode;
import ddpm4j.core.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/** Backend.qSample into a preallocated output vs x0 * a + eps * b composed of Tensor ops. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class QSampleBench {
    @Param({"cpu"}) public String backend;
    /** "nxd": a CIFAR-10 sampling batch (16 x 3x32x32, in cache) and 64 x 512x512 (64 MB per tensor, DRAM). */
    @Param({"16x3072", "64x262144"}) public String shape;

    private Backend be;
    private int n, d;
    private Tensor x0, eps, a, b, out;

    @Setup(Level.Trial)
    public void setup() {
        be = BenchSupport.backend(backend);
        String[] s = shape.split("x");
        n = Integer.parseInt(s[0]);
        d = Integer.parseInt(s[1]);
        x0 = BenchSupport.uniform(be, 1, -1, 1, n, d);
        eps = BenchSupport.randn(be, 2, n, d);
        a = BenchSupport.uniform(be, 3, 0.01, 1, n, 1);
        b = BenchSupport.uniform(be, 4, 0.01, 1, n, 1);
        out = Tensor.empty(be, DType.F32, n, d).detachFromScope();
    }

    @TearDown(Level.Trial)
    public void tearDown() { x0.close(); eps.close(); a.close(); b.close(); out.close(); }

    @Benchmark
    public Tensor fused() {
        be.qSample(out, x0, eps, a, b, n, d);
        be.sync();
        return out;
    }

    @Benchmark
    public int unfused() {
        try (ddpm4j.core.Scope s = ddpm4j.core.Scope.open(); GradMode g = GradMode.off()) {
            Tensor xt = x0.mul(a).add(eps.mul(b));
            be.sync();
            return xt.rank();
        }
    }
}
