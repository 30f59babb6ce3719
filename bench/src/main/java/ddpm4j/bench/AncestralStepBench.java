// SPDX-License-Identifier: Apache-2.0
// Fused ancestral update (Alg. 2, line 4, posterior-mean form with x0 clipped to [-1, 1]) against the same from
// library ops. Fused bytes per call: read x_t, eps, z, write x_{t-1} = 16 n d B. The unfused form runs nine kernels
// (about 9 x 12 n d B). Peer: peer.py ancestral_<n>x<d> (the same arithmetic in PyTorch ops).
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.DType;
import ddpm4j.core.GradMode;
import ddpm4j.core.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/** Backend.ancestralStep vs x0 = clamp(c0 x_t - c1 eps), out = mu0 x0 + muT x_t + sigma z in Tensor ops. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class AncestralStepBench {
    @Param({"cpu"}) public String backend;
    /** "nxd": a CIFAR-10 sampling batch (16 x 3x32x32) and 64 x 512x512 (64 MB per tensor). */
    @Param({"16x3072", "64x262144"}) public String shape;

    private Backend be;
    private int n, d;
    private Tensor xt, eps, z, coef, out, c0, c1, mu0, muT, sigma, lo, hi;

    @Setup(Level.Trial)
    public void setup() {
        be = BenchSupport.backend(backend);
        String[] s = shape.split("x");
        n = Integer.parseInt(s[0]);
        d = Integer.parseInt(s[1]);
        xt = BenchSupport.randn(be, 1, n, d);
        eps = BenchSupport.randn(be, 2, n, d);
        z = BenchSupport.randn(be, 3, n, d);
        // t = 500 of the linear schedule, the same row for every sample
        float[] row = {1.4142f, 1.0f, 0.0061f, 0.9935f, 0.0998f};
        float[] rows = new float[5 * n];
        for (int i = 0; i < n; i++) System.arraycopy(row, 0, rows, 5 * i, 5);
        coef = Tensor.of(be, rows, n, 5).detachFromScope();
        c0 = column(row[0]); c1 = column(row[1]); mu0 = column(row[2]); muT = column(row[3]); sigma = column(row[4]);
        lo = Tensor.scalar(be, DType.F32, -1).detachFromScope();
        hi = Tensor.scalar(be, DType.F32, 1).detachFromScope();
        out = Tensor.empty(be, DType.F32, n, d).detachFromScope();
    }

    private Tensor column(float v) { return Tensor.full(be, DType.F32, v, n, 1).detachFromScope(); }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {xt, eps, z, coef, out, c0, c1, mu0, muT, sigma, lo, hi}) t.close();
    }

    @Benchmark
    public Tensor fused() {
        be.ancestralStep(out, xt, eps, z, coef, n, d, true);
        be.sync();
        return out;
    }

    @Benchmark
    public int unfused() {
        try (ddpm4j.core.Scope s = ddpm4j.core.Scope.open(); GradMode g = GradMode.off()) {
            Tensor x0 = xt.mul(c0).sub(eps.mul(c1)).maximum(lo).minimum(hi);
            Tensor y = x0.mul(mu0).add(xt.mul(muT)).add(z.mul(sigma));
            be.sync();
            return y.rank();
        }
    }
}
