// SPDX-License-Identifier: Apache-2.0
// One full training step of Algorithm 1 (issue 6 item 1a), DdpmTrainer.trainStep: q_sample, U-Net forward, L_simple,
// backward, global-norm clipping, Adam, EMA; images/s = batch / score. Batch 16 for the MNIST U-Net, 8 for CIFAR-10.
// Peer: peer.py train_<config>.
package ddpm4j.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/** DdpmTrainer.trainStep over an in-memory data set of one batch (reading files is not part of the measurement). */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2)   // steady state: the first calls run before C2 has compiled the per-op glue
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class TrainStepBench {
    @Param({"cpu"}) public String backend;
    /** "config:batch". */
    @Param({"mnist:16", "cifar10:8"}) public String workload;

    private DdpmWorkload w;

    @Setup(Level.Trial)
    public void setup() {
        String[] s = workload.split(":");
        w = new DdpmWorkload(BenchSupport.backend(backend), s[0], Integer.parseInt(s[1]), true);
    }

    @TearDown(Level.Trial)
    public void tearDown() { w.close(); }

    @Benchmark
    public double trainStep() { return w.trainStep(); }
}
