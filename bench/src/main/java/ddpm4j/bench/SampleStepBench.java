// SPDX-License-Identifier: Apache-2.0
// One ancestral sampling step of Algorithm 2 (issue 6 item 1b) at batch 16, as DdpmSampler runs it: U-Net forward
// (eval, no grad) plus the fused posterior-mean update with fresh noise; images/s = 16 / score. Peer: sample_<config>.
package ddpm4j.bench;

import ddpm4j.core.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/** DdpmSampler.step at a mid-schedule timestep, t = 500 (the cost does not depend on t). */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2)   // steady state: the first calls run before C2 has compiled the per-op glue
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class SampleStepBench {
    @Param({"cpu"}) public String backend;
    @Param({"mnist", "cifar10"}) public String config;
    @Param({"16"}) public int batch;

    private DdpmWorkload w;
    private Tensor xt;

    @Setup(Level.Trial)
    public void setup() {
        w = new DdpmWorkload(BenchSupport.backend(backend), config, batch, false);
        xt = w.noise(5);
    }

    @TearDown(Level.Trial)
    public void tearDown() { xt.close(); w.close(); }

    @Benchmark
    public Tensor sampleStep() {
        Tensor out = w.ancestralStep(xt, DdpmWorkload.T - 1 - 500);
        w.be.sync();
        out.close();
        return out;
    }
}
