// SPDX-License-Identifier: Apache-2.0
// The U-Net epsTheta at batch 16 (issue 3 item 6), forward (no grad, eval) and forward+backward of a scalar loss, for
// the small MNIST config (32x32x1) and the paper's CIFAR-10 config (12.4 GFLOP per image forward, TOOLCHAIN.md).
// Peer: peer.py unet_<config>_b16_{fwd,fwdbwd}.
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.GradMode;
import ddpm4j.core.Tensor;
import ddpm4j.nn.UNet2DModel;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/** UNet2DModel.forward, and forward + backward of sum(eps * R) into every parameter. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2)   // steady state: the first calls run before C2 has compiled the per-op glue
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class UNetBench {
    @Param({"cpu"}) public String backend;
    @Param({"mnist", "cifar10"}) public String config;
    @Param({"16"}) public int batch;

    private Backend be;
    private UNet2DModel model;
    private Tensor x, dy;
    private int[] t;

    @Setup(Level.Trial)
    public void setup() {
        be = BenchSupport.backend(backend);
        var cfg = BenchSupport.config(config);
        model = new UNet2DModel(cfg, be, new Generator(42));
        int c = cfg.inChannels(), hw = cfg.sampleSize();
        x = BenchSupport.randn(be, 1, batch, c, hw, hw);
        dy = BenchSupport.randn(be, 2, batch, c, hw, hw);
        t = new int[batch];
        for (int i = 0; i < batch; i++) t[i] = (37 * i + 11) % 1000;
    }

    @TearDown(Level.Trial)
    public void tearDown() { model.close(); x.close(); dy.close(); }

    @Benchmark
    public int forward() {
        model.eval();
        try (ddpm4j.core.Scope s = ddpm4j.core.Scope.open(); GradMode g = GradMode.off()) {
            Tensor eps = model.forward(x, t);
            be.sync();
            return eps.rank();
        }
    }

    @Benchmark
    public int forwardBackward() {
        model.train(true);
        model.zeroGrad();
        try (ddpm4j.core.Scope s = ddpm4j.core.Scope.open()) {
            model.forward(x, t).backward(dy);
            be.sync();
            return dy.rank();
        }
    }
}
