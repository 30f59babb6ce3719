// SPDX-License-Identifier: Apache-2.0
// GroupNorm(32) with affine weights, optionally fused with SiLU (issue 2 item 7). Napkin bytes (E = N C H W floats):
// forward reads x once and writes y once (8 E B); forward+backward also reads x, dy and writes dx (20 E B).
// Peer: peer.py groupnorm32[_silu]_n<N>_c<C>_<H>x<W>_{fwd,fwdbwd}.
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.GradMode;
import ddpm4j.core.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/** Tensor.groupNorm (one fused kernel forward, one backward) under a scope. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class GroupNormBench {
    @Param({"cpu"}) public String backend;
    /** "NxCxHW": the brief's C128 16x16 N16, and C64 32x32 N16 (the first level of the U-Nets). */
    @Param({"16x128x16", "16x64x32"}) public String shape;
    @Param({"true", "false"}) public boolean silu;

    private Backend be;
    private Tensor x, w, b, dy;

    @Setup(Level.Trial)
    public void setup() {
        be = BenchSupport.backend(backend);
        String[] s = shape.split("x");
        int n = Integer.parseInt(s[0]), c = Integer.parseInt(s[1]), hw = Integer.parseInt(s[2]);
        x = BenchSupport.randn(be, 1, n, c, hw, hw).requiresGrad(true);
        w = BenchSupport.uniform(be, 2, 0.75, 1.25, c).requiresGrad(true);
        b = BenchSupport.uniform(be, 3, -0.25, 0.25, c).requiresGrad(true);
        dy = BenchSupport.randn(be, 4, n, c, hw, hw);
    }

    @TearDown(Level.Trial)
    public void tearDown() { x.close(); w.close(); b.close(); dy.close(); }

    @Benchmark
    public int forward() {
        try (ddpm4j.core.Scope s = ddpm4j.core.Scope.open(); GradMode g = GradMode.off()) {
            Tensor y = x.groupNorm(32, w, b, 1e-5f, silu);
            be.sync();
            return y.rank();
        }
    }

    @Benchmark
    public int forwardBackward() {
        BenchSupport.clearGrads(x, w, b);
        try (ddpm4j.core.Scope s = ddpm4j.core.Scope.open()) {
            x.groupNorm(32, w, b, 1e-5f, silu).backward(dy);
            be.sync();
            return x.grad().rank();
        }
    }
}
