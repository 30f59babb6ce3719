// SPDX-License-Identifier: Apache-2.0
// The U-Net attention block at C256 16x16 N8 (issue 2 item 7): GroupNorm(32), q/k/v projections, fused single-head
// attention softmax(q k^T / sqrt(C)) v, output projection, residual. FLOPs per forward (T = 256 positions):
// 2 N (4 C^2 T + 2 T^2 C) = 1.07 GFLOP; forward+backward ~3x. Peer: peer.py attention_n8_c256_16x16_{fwd,fwdbwd}.
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.GradMode;
import ddpm4j.core.Tensor;
import ddpm4j.nn.AttentionBlock;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/** nn.AttentionBlock (the diffusers block the U-Net uses), forward and forward+backward. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class AttentionBench {
    static final int N = 8, C = 256;

    @Param({"cpu"}) public String backend;
    /** Side of the feature map: 16 is the brief's shape; 14 (196 positions, not a multiple of the vector length)
     *  exercises the softmax rows' masked tail. */
    @Param({"16"}) public int hw;

    private Backend be;
    private AttentionBlock block;
    private Tensor x, dy;

    @Setup(Level.Trial)
    public void setup() {
        be = BenchSupport.backend(backend);
        block = new AttentionBlock(be, new Generator(7), C, C, 32, 1e-6, 1.0);
        x = BenchSupport.randn(be, 1, N, C, hw, hw).requiresGrad(true);
        dy = BenchSupport.randn(be, 2, N, C, hw, hw);
    }

    @TearDown(Level.Trial)
    public void tearDown() { block.close(); x.close(); dy.close(); }

    @Benchmark
    public int forward() {
        try (ddpm4j.core.Scope s = ddpm4j.core.Scope.open(); GradMode g = GradMode.off()) {
            Tensor y = block.forward(x);
            be.sync();
            return y.rank();
        }
    }

    @Benchmark
    public int forwardBackward() {
        BenchSupport.clearGrads(x);
        block.zeroGrad();
        try (ddpm4j.core.Scope s = ddpm4j.core.Scope.open()) {
            block.forward(x).backward(dy);
            be.sync();
            return x.grad().rank();
        }
    }
}
