// SPDX-License-Identifier: Apache-2.0
// Algorithm 1 on a tiny U-Net: the loss falls; N steps + checkpoint + resume + N steps equals 2N steps bit for bit
// (losses and parameters, dropout and flips on, across an epoch boundary); a NaN stops the run and keeps the last
// good checkpoint.
package ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import ddpm4j.core.testing.TestBackends;
import ddpm4j.diffusion.data.Images;
import ddpm4j.nn.UNet2DModel;
import ddpm4j.nn.UNetConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DdpmTrainerTest {
    static UNetConfig tiny(double dropout) {
        return new UNetConfig(8, 1, 1, false, false, 1, List.of("DownBlock2D", "DownBlock2D"),
                List.of("UpBlock2D", "UpBlock2D"), List.of(8, 16), 1, 1, 0, dropout, "silu", null, 4, null, 1e-6, false);
    }

    /** 12 images of 8x8: bars at different places, so there is structure to learn. */
    static Images data() {
        int n = 12;
        float[] x = new float[n * 64];
        for (int i = 0; i < n; i++)
            for (int p = 0; p < 64; p++) x[i * 64 + p] = (p % 8 == i % 8 || p / 8 == i % 5) ? 1f : -1f;
        return new Images(x, n, 1, 8, 8);
    }

    static Backend backend() {
        return TestBackends.fast().findFirst().orElse(TestBackends.reference());
    }

    static final SchedulerConfig SCHED = SchedulerConfig.paperLinear().withTimesteps(100);

    /** Runs {@code steps} steps; returns the losses; optionally resumes from / saves to a checkpoint. */
    static List<Double> run(Backend be, long initSeed, int steps, Path resumeFrom, Path saveTo, float[][] finalParams) throws Exception {
        List<Double> losses = new ArrayList<>();
        var cfg = new DdpmTrainer.Config(4, 1e-3, 3, 1.0, 0.9f, true, 11);
        try (UNet2DModel m = new UNet2DModel(tiny(0.1), be, new Generator(initSeed));
             DdpmTrainer tr = new DdpmTrainer(m, m::forward, new NoiseSchedule(SCHED), data(), cfg, be)) {
            if (resumeFrom != null) TrainCheckpoint.load(tr, resumeFrom);
            for (int i = 0; i < steps; i++) losses.add(tr.trainStep().loss());
            if (saveTo != null) TrainCheckpoint.save(tr, saveTo);
            if (finalParams != null) {
                List<Tensor> ps = m.parameters();
                for (int i = 0; i < ps.size(); i++) finalParams[i] = ps.get(i).toFloatArray();
                finalParams[ps.size()] = tr.withEmaWeights(() -> m.parameters().get(0).toFloatArray());
            }
        }
        return losses;
    }

    @Test
    void resumeRepeatsTheUninterruptedRunBitForBit(@TempDir Path dir) throws Exception {
        // the reference backend: deterministic run to run (the cpu backend's multi-threaded reductions are not yet)
        Backend be = TestBackends.reference();
        int params = new UNet2DModel(tiny(0.1), be, new Generator(1)).parameters().size();
        float[][] straight = new float[params + 1][], resumed = new float[params + 1][];
        List<Double> all = run(be, 1, 8, null, null, straight);           // 8 steps of 4 over 12 images: 2+ epochs
        Path ck = dir.resolve("ck.safetensors");
        List<Double> first = run(be, 1, 4, null, ck, null);
        assertEquals(4, TrainCheckpoint.stepOf(ck));
        List<Double> second = run(be, 999, 4, ck, null, resumed);         // other init: everything comes from the file
        List<Double> joined = new ArrayList<>(first);
        joined.addAll(second);
        assertEquals(all, joined, "losses of 4 + resume + 4 steps equal those of 8 steps on " + be.name());
        for (int i = 0; i <= params; i++) assertArrayEquals(straight[i], resumed[i], "parameter " + i + " (last: EMA)");
    }

    @Test
    void lossFallsOnASmallDataset() throws Exception {
        Backend be = backend();
        var cfg = new DdpmTrainer.Config(12, 3e-3, 5, 1.0, 0.99f, false, 5);
        try (UNet2DModel m = new UNet2DModel(tiny(0), be, new Generator(2));
             DdpmTrainer tr = new DdpmTrainer(m, m::forward, new NoiseSchedule(SCHED), data(), cfg, be)) {
            double early = 0, late = 0;
            for (int i = 0; i < 60; i++) {
                double l = tr.trainStep().loss();
                if (i < 10) early += l / 10;
                if (i >= 50) late += l / 10;
            }
            assertTrue(late < 0.6 * early, "L_simple should fall: first 10 steps " + early + ", last 10 " + late);
        }
    }

    @Test
    void nonFiniteLossStopsAndKeepsTheLastGoodCheckpoint(@TempDir Path dir) throws Exception {
        Backend be = backend();
        var cfg = new DdpmTrainer.Config(4, 1e-3, 0, 1.0, 0.9f, false, 3);
        try (UNet2DModel m = new UNet2DModel(tiny(0), be, new Generator(2))) {
            int[] calls = {0};
            EpsModel poisoned = (x, t) -> ++calls[0] >= 3 ? m.forward(x, t).mul(Double.NaN) : m.forward(x, t);
            try (DdpmTrainer tr = new DdpmTrainer(m, poisoned, new NoiseSchedule(SCHED), data(), cfg, be)) {
                var opts = new TrainRun.Options(10, 1, 0, 4, 5, 100, dir);
                TrainRun run = new TrainRun(tr, m::forward, new int[] {4, 1, 8, 8}, be, opts, null, System.err);
                var e = assertThrows(DdpmTrainer.NonFiniteException.class, run::run);
                assertEquals(3, e.step);
                assertTrue(e.getMessage().contains("step 3") && e.getMessage().contains("NaN"), e.getMessage());
                assertEquals(2, tr.step());
            }
        }
        Path ck = dir.resolve(TrainCheckpoint.FILE);
        assertEquals(2, TrainCheckpoint.stepOf(ck), "the checkpoint of step 2 is kept");
        assertTrue(Files.readString(dir.resolve("train_log.csv")).lines().count() == 3, "log has the header and 2 good steps");
        try (var dirs = Files.list(dir)) {
            assertTrue(dirs.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temporary files left");
        }
    }

    @Test
    void checkpointOfAnotherBatchSizeIsRefused(@TempDir Path dir) throws Exception {
        Backend be = backend();
        Path ck = dir.resolve("ck.safetensors");
        run(be, 1, 1, null, ck, null);
        var cfg = new DdpmTrainer.Config(6, 1e-3, 3, 1.0, 0.9f, true, 11);
        try (UNet2DModel m = new UNet2DModel(tiny(0.1), be, new Generator(1));
             DdpmTrainer tr = new DdpmTrainer(m, m::forward, new NoiseSchedule(SCHED), data(), cfg, be)) {
            var e = assertThrows(ddpm4j.core.io.FormatException.class, () -> TrainCheckpoint.load(tr, ck));
            assertTrue(e.getMessage().contains("batch size 4"), e.getMessage());
        }
        assertTrue(Backends.providers().size() > 0);
    }
}
