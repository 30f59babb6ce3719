// SPDX-License-Identifier: Apache-2.0
// The training driver around DdpmTrainer: progress bar (loss, steps/s, ETA) on stderr, CSV log, loss plot, EMA sample
// grids every N steps, atomic checkpoints every N steps, resume, and the stop on NaN/Inf. Used by `ddpm train`.
package ddpm4j.diffusion;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import ddpm4j.core.io.AtomicFiles;
import ddpm4j.diffusion.image.Png;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Files in the run folder: {@code checkpoint.safetensors} (full state, atomic), {@code train_log.csv}
 * (step,loss,grad_norm,lr,seconds), {@code loss.png}, {@code samples/step-NNNNNNN.png} (EMA weights, DDIM), and
 * whatever {@code exporter} writes (the EMA model in diffusers layout).
 */
public final class TrainRun {
    /**
     * @param steps           total steps of the run (the step count to reach)
     * @param checkpointEvery steps between checkpoints (0: only at the end)
     * @param sampleEvery     steps between sample grids (0: none)
     * @param sampleCount     images per grid
     * @param sampleSteps     DDIM steps of a grid
     * @param logEvery        steps between progress lines when stderr is not a terminal
     */
    public record Options(long steps, long checkpointEvery, long sampleEvery, int sampleCount, int sampleSteps,
                          long logEvery, Path outDir) {}

    /** Writes the current EMA model somewhere (called after each checkpoint, with EMA weights loaded). */
    @FunctionalInterface
    public interface Exporter {
        void export() throws IOException;
    }

    private final DdpmTrainer tr;
    private final Options o;
    private final EpsModel eps;
    private final int[] sampleShape;
    private final Backend be;
    private final Exporter exporter;
    private final PrintStream err;
    private final List<long[]> rowsStep = new ArrayList<>();
    private final List<String> csv = new ArrayList<>();
    private final List<Double> losses = new ArrayList<>();

    public TrainRun(DdpmTrainer tr, EpsModel eps, int[] sampleShape, Backend be, Options o, Exporter exporter, PrintStream err) {
        this.tr = tr;
        this.o = o;
        this.eps = eps;
        this.sampleShape = sampleShape;
        this.be = be;
        this.exporter = exporter;
        this.err = err;
    }

    Path checkpointFile() { return o.outDir().resolve(TrainCheckpoint.FILE); }

    /** Loads the checkpoint of the run folder and the log rows up to its step. Returns the step resumed from. */
    public long resume() throws IOException {
        Path ck = checkpointFile();
        if (!Files.isRegularFile(ck))
            throw new java.nio.file.NoSuchFileException(ck.toString(), null, "nothing to resume: no checkpoint in " + o.outDir());
        TrainCheckpoint.load(tr, ck);
        Path log = o.outDir().resolve("train_log.csv");
        if (Files.isRegularFile(log))
            for (String line : Files.readAllLines(log)) {
                if (line.startsWith("step")) continue;
                String[] f = line.split(",");
                try {
                    long s = Long.parseLong(f[0]);
                    if (s > tr.step()) break;
                    csv.add(line);
                    rowsStep.add(new long[] {s});
                    losses.add(Double.parseDouble(f[1]));
                } catch (RuntimeException e) {
                    break;
                }
            }
        return tr.step();
    }

    /** Trains until {@link Options#steps()}. Returns the losses of the steps run by this call. */
    public List<Double> run() throws IOException {
        Files.createDirectories(o.outDir());
        removeStrayTemps();
        List<Double> mine = new ArrayList<>();
        long start = System.nanoTime(), first = tr.step();
        double smooth = Double.NaN;
        boolean tty = System.console() != null;
        try {
            while (tr.step() < o.steps()) {
                DdpmTrainer.StepStats s = tr.trainStep();
                mine.add(s.loss());
                losses.add(s.loss());
                rowsStep.add(new long[] {s.step()});
                double secs = (System.nanoTime() - start) / 1e9;
                csv.add(String.format(Locale.ROOT, "%d,%.8g,%.6g,%.6g,%.3f", s.step(), s.loss(), s.gradNorm(), s.lr(), secs));
                smooth = Double.isNaN(smooth) ? s.loss() : 0.98 * smooth + 0.02 * s.loss();
                boolean last = s.step() == o.steps();
                if (tty || s.step() % Math.max(1, o.logEvery()) == 0 || last)
                    progress(s.step(), smooth, (s.step() - first) / Math.max(secs, 1e-9), tty, last);
                if (o.sampleEvery() > 0 && s.step() % o.sampleEvery() == 0) grid(s.step());
                if ((o.checkpointEvery() > 0 && s.step() % o.checkpointEvery() == 0) || last) checkpoint();
            }
        } catch (DdpmTrainer.NonFiniteException e) {
            if (tty) err.println();
            writeLogs();
            throw e;
        }
        return mine;
    }

    // AtomicFiles names its temp files .<name>.<hex>.tmp; a run killed mid-write leaves one (as large as a checkpoint).
    private static final java.util.regex.Pattern STRAY = java.util.regex.Pattern.compile("\\..+\\.[0-9a-f]{1,16}\\.tmp");

    /** Deletes the temp files a killed run left in the run folder (one trainer per folder, so none is in use). */
    private void removeStrayTemps() throws IOException {
        for (Path dir : List.of(o.outDir(), o.outDir().resolve("model"), o.outDir().resolve("samples"))) {
            if (!Files.isDirectory(dir)) continue;
            try (var files = Files.list(dir)) {
                for (Path f : files.toList())
                    if (STRAY.matcher(f.getFileName().toString()).matches()) Files.deleteIfExists(f);
            }
        }
    }

    private void progress(long step, double loss, double rate, boolean tty, boolean last) {
        double frac = (double) step / o.steps();
        int width = 30, filled = (int) Math.round(frac * width);
        long eta = rate > 0 ? (long) ((o.steps() - step) / rate) : 0;
        String line = String.format(Locale.ROOT, "[%s%s] %d/%d loss %.4f  %.2f steps/s  ETA %s",
                "#".repeat(filled), ".".repeat(width - filled), step, o.steps(), loss, rate, hms(eta));
        if (tty) err.print("\r" + line + (last ? "\n" : ""));
        else err.println(line);
        err.flush();
    }

    static String hms(long s) {
        return s >= 3600 ? String.format("%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60)
                : String.format("%dm%02ds", s / 60, s % 60);
    }

    private void grid(long step) throws IOException {
        Path file = o.outDir().resolve("samples").resolve(String.format("step-%07d.png", step));
        Files.createDirectories(file.getParent());
        int[] shape = sampleShape.clone();
        shape[0] = o.sampleCount();
        float[] x = tr.withEmaWeights(() -> {
            try (Tensor out = new DdimSampler(tr.schedule(), o.sampleSteps(), 0).sample(eps, be, shape, new Generator(1234), null)) {
                return out.toFloatArray();
            }
        });
        int nrow = (int) Math.ceil(Math.sqrt(shape[0]));
        Png.writeGrid(file, x, shape[0], shape[1], shape[2], shape[3], nrow, 2);
    }

    private void checkpoint() throws IOException {
        // The log first: resume() keeps the rows up to the checkpoint's step, so a log ahead of the checkpoint is
        // harmless, while one behind it (a kill between the two writes) would lose those steps' losses for good.
        writeLogs();
        TrainCheckpoint.save(tr, checkpointFile());
        if (exporter != null) tr.withEmaWeights(() -> {
            try {
                exporter.export();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return null;
        });
    }

    private void writeLogs() throws IOException {
        var sb = new StringBuilder("step,loss,grad_norm,lr,seconds\n");
        for (String r : csv) sb.append(r).append('\n');
        AtomicFiles.writeString(o.outDir().resolve("train_log.csv"), sb.toString());
        int n = losses.size();
        long[] st = new long[n];
        double[] l = new double[n];
        for (int i = 0; i < n; i++) { st[i] = rowsStep.get(i)[0]; l[i] = losses.get(i); }
        if (plotBroken) return;
        try {
            LossPlot.write(o.outDir().resolve("loss.png"), st, l, n, "DDPM training loss (L_simple), " + n + " steps");
        } catch (RuntimeException | InternalError e) {
            // java.awt needs fonts for the labels; a bare server (a GPU box in a container) may have none
            plotBroken = true;
            System.err.println("ddpm train: loss.png is not drawn on this machine (" + e.getMessage()
                    + "); train_log.csv has every logged step, and training goes on");
        }
    }

    /** Set once drawing loss.png failed (no fonts), so the run says it once and goes on. */
    private boolean plotBroken;
}
