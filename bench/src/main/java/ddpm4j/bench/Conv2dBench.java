// SPDX-License-Identifier: Apache-2.0
// conv2d 3x3, stride 1, pad 1, bias, at the U-Net's ResBlock shapes (issue 2 item 7). Forward: 2 N K C 9 H W FLOPs;
// forward+backward (input and weight gradients): 3x that. Peer: peer.py conv3x3_n<N>_c<C>_<H>x<W>_{fwd,fwdbwd}.
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.GradMode;
import ddpm4j.core.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/** Convolution through Tensor.conv2d (the autograd path the U-Net uses), output memory from the scope's pool. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class Conv2dBench {
    @Param({"cpu"}) public String backend;
    /** "NxCxHW": N16 C64->64 32x32 (2.42 GFLOP forward) and N16 C128->128 16x16 (2.42 GFLOP forward). */
    @Param({"16x64x32", "16x128x16"}) public String shape;

    private Backend be;
    private Tensor x, w, b, dy;

    @Setup(Level.Trial)
    public void setup() {
        be = BenchSupport.backend(backend);
        String[] s = shape.split("x");
        int n = Integer.parseInt(s[0]), c = Integer.parseInt(s[1]), hw = Integer.parseInt(s[2]);
        x = BenchSupport.randn(be, 1, n, c, hw, hw).requiresGrad(true);
        w = BenchSupport.uniform(be, 2, -1 / Math.sqrt(9.0 * c), 1 / Math.sqrt(9.0 * c), c, c, 3, 3).requiresGrad(true);
        b = BenchSupport.uniform(be, 3, -0.1, 0.1, c).requiresGrad(true);
        dy = BenchSupport.randn(be, 4, n, c, hw, hw);
    }

    @TearDown(Level.Trial)
    public void tearDown() { x.close(); w.close(); b.close(); dy.close(); }

    @Benchmark
    public float forward() {
        try (ddpm4j.core.Scope s = ddpm4j.core.Scope.open(); GradMode g = GradMode.off()) {
            Tensor y = x.conv2d(w, b, 1, 1);
            be.sync();
            return y.shape()[1];
        }
    }

    @Benchmark
    public float forwardBackward() {
        BenchSupport.clearGrads(x, w, b);
        try (ddpm4j.core.Scope s = ddpm4j.core.Scope.open()) {
            x.conv2d(w, b, 1, 1).backward(dy);
            be.sync();
            return w.grad().shape()[0];
        }
    }
}
