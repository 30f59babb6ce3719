// SPDX-License-Identifier: Apache-2.0
// Issue 7 item 2: `ddpm train` in a child JVM is killed with SIGKILL 20+ times (4 in the quick suite) (half of them while a checkpoint is
// being written) and resumed each time; every file on disk always loads, and the final state and losses equal an
// uninterrupted run's bit for bit (CPU backend, one thread). Helpers: ChildJvm. Pairs with TrainRun/TrainCheckpoint.
package ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.io.SafeTensors;
import ddpm4j.diffusion.data.Images;
import ddpm4j.nn.DiffusersCheckpoint;
import ddpm4j.nn.UNet2DModel;
import ddpm4j.nn.UNetConfig;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KilledRunTest {
    static final int BATCH = 2, SIDE = 8;
    static final String CKPT_TMP = "." + TrainCheckpoint.FILE + ".";

    @TempDir Path tmp;

    private int steps;

    private List<String> trainArgs(Path out, boolean resume) {
        List<String> a = new ArrayList<>(List.of("train", "--data", "mnist", "--data-dir", tmp.resolve("data").toString(),
                "--device", "cpu", "--channels", "8,8", "--attn-levels", "1", "--layers", "1", "--groups", "4",
                "--timesteps", "50", "--batch", "" + BATCH, "--steps", "" + steps, "--checkpoint-every", "1",
                "--sample-every", "6", "--sample-steps", "2", "--warmup", "10", "--ema", "0.9", "--seed", "7",
                "--log-every", "1", "--out", out.toString()));
        if (resume) a.add("--resume");
        return a;
    }

    private ChildJvm start(Path out, boolean resume) throws IOException {
        return ChildJvm.start(ChildJvm.command(1, List.of(), "ddpm4j.diffusion.cli.Main", trainArgs(out, resume)), tmp);
    }

    /** The suite's quick version: 4 kills, 2 of them mid-write (about 20 s on an idle 2-core machine). */
    @Test
    void fourKillsThenResumeEqualsUninterruptedRun() throws Exception {
        killAndResume(4);
    }

    /** Issue 7's figure: 20 kills or more ({@code -Dddpm4j.kills=N}), half mid-write; about a minute idle, 2+ loaded. */
    @Test
    @Tag("slow")
    void twentyKillsThenResumeEqualsUninterruptedRun() throws Exception {
        killAndResume(Math.max(20, Integer.getInteger("ddpm4j.kills", 20)));
    }

    private void killAndResume(int target) throws Exception {
        steps = target * 3 / 2 + 6;
        final int STEPS = steps;   // about 1 step of progress per kill, plus some after the last
        ChildJvm.writeTinyMnist(tmp.resolve("data"), 16, SIDE, 11);
        long seed = Long.getLong("ddpm4j.killSeed", 20261122L);
        var rnd = new Random(seed);

        // 1. The uninterrupted run; its timings pace the random kills.
        Path ref = tmp.resolve("ref");
        long t0 = System.nanoTime();
        ChildJvm r = start(ref, false);
        long firstLine = 0;
        while (r.process.isAlive() && r.progressLines.get() == 0) LockSupport.parkNanos(1_000_000);
        firstLine = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(0, r.waitFor(), "uninterrupted run failed:\n" + r.output());
        long stepMs = Math.max(20, ((System.nanoTime() - t0) / 1_000_000 - firstLine) / (STEPS - 1));
        List<String[]> refLog = log(ref);
        assertEquals(STEPS, refLog.size(), "uninterrupted log rows");

        // 2. The killed run: kill, check every file, resume, until target kills are done and the run completes.
        Path run = tmp.resolve("killed");
        Verifier check = new Verifier(UNetConfig.read(ref.resolve("model").resolve(DiffusersCheckpoint.CONFIG)));
        Set<String> leftovers = new HashSet<>();
        int kills = 0, midWrite = 0, attempts = 0;
        long lastStep = 0;
        StringBuilder trace = new StringBuilder("kill seed " + seed + ", step time " + stepMs + " ms\n");
        while (true) {
            if (++attempts > 4 * target + 10) fail("no progress after " + attempts + " attempts:\n" + trace);
            ChildJvm c = start(run, Files.exists(run.resolve(TrainCheckpoint.FILE)));
            boolean killed = false;
            String how = "";
            if (kills < target) {
                if (kills % 2 == 0) {
                    // a) kill right after the j-th checkpoint temp file of this child appears (mid-write)
                    int j = 1 + rnd.nextInt(3);
                    Set<String> seen = new HashSet<>();
                    while (c.process.isAlive() && seen.size() < j) {
                        for (String n : tempFiles(run)) if (!leftovers.contains(n)) seen.add(n);
                        if (seen.size() < j) LockSupport.parkNanos(150_000);
                    }
                    int spinUs = rnd.nextInt(500);   // short: on a fast disk the whole write takes well under a millisecond
                    LockSupport.parkNanos(spinUs * 1000L);
                    how = "at checkpoint write " + j + " +" + spinUs + "us";
                } else {
                    // b) kill at a random moment: during start-up/resume, or within a step after the k-th step
                    int k = rnd.nextInt(3);
                    long delay = k == 0 ? rnd.nextLong(firstLine + 1) : rnd.nextLong(stepMs + 1);
                    while (c.process.isAlive() && c.progressLines.get() < k) LockSupport.parkNanos(1_000_000);
                    c.process.waitFor(delay, TimeUnit.MILLISECONDS);
                    how = "after " + k + " step(s) +" + delay + "ms";
                }
                killed = c.process.isAlive();
                if (killed) c.process.destroyForcibly();
            }
            int rc = c.waitFor();
            if (!killed) {
                assertEquals(0, rc, "final resumed run failed:\n" + c.output() + "\n" + trace);
                break;
            }
            kills++;
            Set<String> now = tempFiles(run);
            now.removeAll(leftovers);
            if (!now.isEmpty()) midWrite++;
            leftovers.addAll(now);
            long step = check.all(run);
            trace.append("kill ").append(kills).append(' ').append(how).append(": checkpoint step ").append(step)
                    .append(now.isEmpty() ? "" : " (temp file left: killed mid-write)").append('\n');
            assertTrue(step >= lastStep, "checkpoint went back from step " + lastStep + " to " + step + "\n" + trace);
            lastStep = step;
        }
        System.out.println(trace + "kills: " + kills + ", mid checkpoint write: " + midWrite + ", attempts: " + attempts);
        assertTrue(kills >= target, "only " + kills + " kills before the run completed\n" + trace);
        assertTrue(midWrite >= target / 4, "only " + midWrite + " kills landed mid-write\n" + trace);

        // 3. Bit-for-bit equal to the uninterrupted run: checkpoint tensors and metadata, EMA export, losses.
        assertSameTensors(ref.resolve(TrainCheckpoint.FILE), run.resolve(TrainCheckpoint.FILE));
        Path w = Path.of("model", DiffusersCheckpoint.WEIGHTS);
        assertEquals(-1L, Files.mismatch(ref.resolve(w), run.resolve(w)), "exported EMA weights differ");
        assertEquals(Set.of(), tempFiles(run), "the resumed run removes the temp files that kills left behind");
        List<String[]> got = log(run);
        assertEquals(STEPS, got.size(), "resumed log rows");
        for (int i = 0; i < STEPS; i++)
            for (int col = 0; col < 4; col++)   // step, loss, grad_norm, lr (not seconds)
                assertEquals(refLog.get(i)[col], got.get(i)[col], "log row " + (i + 1) + " column " + col);
    }

    static Set<String> tempFiles(Path dir) {
        Set<String> s = new HashSet<>();
        if (!Files.isDirectory(dir)) return s;
        try (Stream<Path> l = Files.list(dir)) {
            l.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(CKPT_TMP) && n.endsWith(".tmp")).forEach(s::add);
        } catch (IOException e) {
            // listing raced with a rename; the next poll sees it
        }
        return s;
    }

    /** Rows of train_log.csv split by commas, header dropped; steps must run 1, 2, 3, ... */
    static List<String[]> log(Path run) throws IOException {
        List<String[]> rows = new ArrayList<>();
        Path f = run.resolve("train_log.csv");
        if (!Files.exists(f)) return rows;
        List<String> lines = Files.readAllLines(f);
        assertEquals("step,loss,grad_norm,lr,seconds", lines.get(0), f + " header");
        for (String l : lines.subList(1, lines.size())) {
            String[] c = l.split(",");
            assertEquals(5, c.length, f + ": bad row '" + l + "'");
            assertEquals(rows.size() + 1, Long.parseLong(c[0]), f + ": steps must be consecutive");
            Double.parseDouble(c[1]);
            rows.add(c);
        }
        return rows;
    }

    static void assertSameTensors(Path a, Path b) throws IOException {
        try (SafeTensors x = SafeTensors.open(a); SafeTensors y = SafeTensors.open(b)) {
            assertEquals(x.metadata(), y.metadata(), "checkpoint metadata");
            assertEquals(x.names(), y.names(), "checkpoint tensor names");
            for (String n : x.names()) {
                MemorySegment p = x.segment(n), q = y.segment(n);
                long at = p.mismatch(q);
                assertEquals(-1L, at, "tensor '" + n + "' differs at byte " + at);
            }
        }
    }

    /** Loads everything a killed run left: the checkpoint (into a live trainer), the EMA export, log and plot. */
    static final class Verifier {
        final UNetConfig cfg;
        final Backend be = Backends.get("cpu");

        Verifier(UNetConfig cfg) { this.cfg = cfg; }

        /** Returns the checkpoint's step (0 if there is none yet). */
        long all(Path run) throws IOException {
            long step = 0;
            Path ck = run.resolve(TrainCheckpoint.FILE);
            if (Files.exists(ck)) {
                var images = new Images(new float[4 * SIDE * SIDE], 4, 1, SIDE, SIDE);
                var tc = new DdpmTrainer.Config(BATCH, 2e-4, 10, 1.0, 0.9f, false, 7);
                try (UNet2DModel m = new UNet2DModel(cfg, be, new Generator(0));
                     DdpmTrainer tr = new DdpmTrainer(m, m::forward, new NoiseSchedule(SchedulerConfig.paperLinear().withTimesteps(50)),
                             images, tc, be)) {
                    TrainCheckpoint.load(tr, ck);
                    step = tr.step();
                }
            }
            Path model = run.resolve("model");
            if (Files.exists(model.resolve(DiffusersCheckpoint.WEIGHTS))) {
                try (UNet2DModel m = DiffusersCheckpoint.load(model, be)) {
                    assertEquals(cfg, m.config(), "exported config");
                }
                SchedulerConfig.read(model);
            }
            List<String[]> rows = log(run);
            assertTrue(rows.size() >= step, "train_log.csv has " + rows.size() + " rows but the checkpoint is at step "
                    + step + ": a resume would lose losses");
            if (Files.exists(run.resolve("loss.png")))
                assertNotNull(javax.imageio.ImageIO.read(run.resolve("loss.png").toFile()), "loss.png unreadable");
            return step;
        }
    }
}
