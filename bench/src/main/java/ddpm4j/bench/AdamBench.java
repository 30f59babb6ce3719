// SPDX-License-Identifier: Apache-2.0
// Fused Adam and EMA updates over P parameters against the same from library ops. Fused bytes per call: Adam reads
// p, g, m, v and writes p, m, v = 28 P B; EMA reads shadow, param and writes shadow = 12 P B. P = 35,746,307 is the
// CIFAR-10 U-Net. Peer: peer.py adam_<P> (torch.optim.Adam, single-tensor) and ema_<P> (mul_ then add_).
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.DType;
import ddpm4j.core.GradMode;
import ddpm4j.core.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/** Backend.adamUpdate / emaUpdate on one flat parameter vs the same arithmetic in Tensor ops, written back in place. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class AdamBench {
    static final float LR = 2e-4f, B1 = 0.9f, B2 = 0.999f, EPS = 1e-8f, DECAY = 0.9999f;

    @Param({"cpu"}) public String backend;
    @Param({"1048576", "35746307"}) public int p;

    private Backend be;
    private Tensor param, grad, m, v, scale, shadow;

    @Setup(Level.Trial)
    public void setup() {
        be = BenchSupport.backend(backend);
        param = BenchSupport.randn(be, 1, p);
        grad = BenchSupport.randn(be, 2, p);
        m = Tensor.zeros(be, p).detachFromScope();
        v = Tensor.zeros(be, p).detachFromScope();
        shadow = param.copy().detachFromScope();
        scale = Tensor.full(be, DType.F32, 0.5, 1).detachFromScope();
    }

    @TearDown(Level.Trial)
    public void tearDown() { for (Tensor t : new Tensor[] {param, grad, m, v, scale, shadow}) t.close(); }

    @Benchmark
    public Tensor adamFused() {
        be.adamUpdate(param, grad, m, v, scale, LR, B1, B2, EPS, 0.5f, 0.1f);
        be.sync();
        return param;
    }

    @Benchmark
    public Tensor adamUnfused() {
        try (ddpm4j.core.Scope s = ddpm4j.core.Scope.open(); GradMode g = GradMode.off()) {
            Tensor gs = grad.mul(scale);
            Tensor m1 = m.mul(B1).add(gs.mul(1 - B1));
            Tensor v1 = v.mul(B2).add(gs.square().mul(1 - B2));
            Tensor step = m1.div(0.5).div(v1.div(0.1).sqrt().add(EPS)).mul(LR);
            param.copyFrom(param.sub(step));
            m.copyFrom(m1);
            v.copyFrom(v1);
            be.sync();
            return param;
        }
    }

    @Benchmark
    public Tensor emaFused() {
        be.emaUpdate(shadow, param, DECAY);
        be.sync();
        return shadow;
    }

    @Benchmark
    public Tensor emaUnfused() {
        try (ddpm4j.core.Scope s = ddpm4j.core.Scope.open(); GradMode g = GradMode.off()) {
            shadow.copyFrom(shadow.mul(DECAY).add(param.mul(1 - DECAY)));
            be.sync();
            return shadow;
        }
    }
}
