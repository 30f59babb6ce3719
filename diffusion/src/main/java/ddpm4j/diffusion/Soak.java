// SPDX-License-Identifier: Apache-2.0
// The soak run behind scripts/soak.sh (issue 7 item 3): trains (Algorithm 1), samples (DDIM) and writes/reads
// checkpoints for a stated time, logging resident memory (VmRSS), JVM native memory (NMT) and the backend's live
// tensor bytes to a CSV, then prints the growth after warm-up. Not part of the test suite.
package ddpm4j.diffusion;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import ddpm4j.diffusion.data.Datasets;
import ddpm4j.diffusion.data.Images;
import ddpm4j.nn.UNet2DModel;
import ddpm4j.nn.UNetConfig;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.ObjectName;

/**
 * {@code Soak --minutes N --out DIR [--device cpu] [--data-dir DIR] [--every-seconds S] [--warmup-fraction F]}.
 * Writes {@code DIR/soak.csv} (seconds, steps, samples, checkpoints, rss_kib, heap_used_kib, nmt_committed_kib,
 * live_bytes, peak_bytes) and prints one summary line per measure. Run the JVM with
 * {@code -XX:NativeMemoryTracking=summary} for the NMT column (else it is -1).
 */
public final class Soak {
    private Soak() {}

    record Row(double seconds, long steps, long samples, long checkpoints, long rssKib, long heapKib, long nmtKib,
               long live, long peak) {}

    public static void main(String[] args) throws Exception {
        double minutes = 10, every = 10, warmupFraction = 0.25;
        String device = "cpu";
        Path out = Path.of("soak-run"), dataDir = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--minutes" -> minutes = Double.parseDouble(args[++i]);
                case "--every-seconds" -> every = Double.parseDouble(args[++i]);
                case "--warmup-fraction" -> warmupFraction = Double.parseDouble(args[++i]);
                case "--device" -> device = args[++i];
                case "--out" -> out = Path.of(args[++i]);
                case "--data-dir" -> dataDir = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("soak: unknown argument '" + args[i]
                        + "'; expected --minutes, --every-seconds, --warmup-fraction, --device, --out, --data-dir");
            }
        }
        Files.createDirectories(out);
        Backend be = Backends.get(device);
        Images data = data(dataDir);
        UNetConfig cfg = new UNetConfig(data.h(), data.c(), data.c(), false, false, 1, List.of("DownBlock2D", "AttnDownBlock2D"),
                List.of("AttnUpBlock2D", "UpBlock2D"), List.of(16, 32), 1, 1, 0, 0.1, "silu", null, 8, null, 1e-6, true);
        NoiseSchedule schedule = new NoiseSchedule(SchedulerConfig.paperLinear());
        var tc = new DdpmTrainer.Config(16, 2e-4, 100, 1.0, 0.999f, false, 0);
        List<Row> rows = new ArrayList<>();
        long start = System.nanoTime(), end = start + (long) (minutes * 60e9);
        long nextRow = start, nextSample = start + 20_000_000_000L, nextCkpt = start + 30_000_000_000L;
        long samples = 0, checkpoints = 0;
        Path csv = out.resolve("soak.csv"), ck = out.resolve(TrainCheckpoint.FILE);
        System.err.printf(Locale.ROOT, "soak: %.1f min on %s, %d images %dx%dx%d, U-Net %s, batch %d; CSV %s%n", minutes,
                be.describe(), data.n(), data.c(), data.h(), data.w(), cfg.blockOutChannels(), tc.batchSize(), csv);
        try (UNet2DModel model = new UNet2DModel(cfg, be, new Generator(1));
             DdpmTrainer tr = new DdpmTrainer(model, model::forward, schedule, data, tc, be)) {
            while (true) {
                long now = System.nanoTime();
                if (now >= nextRow || now >= end) {
                    Row r = measure((now - start) / 1e9, tr.step(), samples, checkpoints, be);
                    rows.add(r);
                    writeCsv(csv, rows);
                    System.err.printf(Locale.ROOT, "soak: %6.0f s  step %6d  RSS %7.1f MiB  NMT committed %7.1f MiB  live %6.1f MiB%n",
                            r.seconds(), r.steps(), r.rssKib() / 1024.0, r.nmtKib() / 1024.0, r.live() / 1048576.0);
                    nextRow = now + (long) (every * 1e9);
                }
                if (now >= end) break;
                if (now >= nextSample) {
                    // sampling with the EMA weights, as the trainer's sample grids do
                    long sampleSeed = samples;
                    tr.withEmaWeights(() -> {
                        try (Tensor x = new DdimSampler(schedule, 10, 0).sample(model::forward, be,
                                new int[] {8, data.c(), data.h(), data.w()}, new Generator(sampleSeed), null)) {
                            return x.toFloatArray();
                        }
                    });
                    samples++;
                    nextSample = now + 20_000_000_000L;
                } else if (now >= nextCkpt) {
                    // write a checkpoint atomically and load it back (memory-mapped reads)
                    TrainCheckpoint.save(tr, ck);
                    TrainCheckpoint.load(tr, ck);
                    checkpoints++;
                    nextCkpt = now + 30_000_000_000L;
                } else {
                    tr.trainStep();
                }
            }
        }
        summary(rows, warmupFraction);
    }

    private static Images data(Path dir) {
        try {
            return Datasets.load("mnist", dir, true, 2048).images();
        } catch (IOException e) {
            System.err.println("soak: MNIST not found (" + e.getMessage().lines().findFirst().orElse("") + "); using random 28x28 images");
            var g = new java.util.Random(0);
            float[] x = new float[512 * 28 * 28];
            for (int i = 0; i < x.length; i++) x[i] = g.nextFloat() * 2 - 1;
            return new Images(x, 512, 1, 28, 28);
        }
    }

    static Row measure(double seconds, long steps, long samples, long ckpts, Backend be) throws IOException {
        long rss = -1;
        for (String l : Files.readAllLines(Path.of("/proc/self/status")))
            if (l.startsWith("VmRSS:")) rss = Long.parseLong(l.replaceAll("[^0-9]", ""));
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() / 1024;
        return new Row(seconds, steps, samples, ckpts, rss, heap, nmtCommittedKib(), be.liveBytes(), be.peakBytes());
    }

    private static final Pattern NMT_TOTAL = Pattern.compile("Total: reserved=(\\d+)KB, committed=(\\d+)KB");

    /** Total committed native memory from NMT (jcmd VM.native_memory summary, called in-process), or -1. */
    static long nmtCommittedKib() {
        try {
            var server = ManagementFactory.getPlatformMBeanServer();
            var name = new ObjectName("com.sun.management:type=DiagnosticCommand");
            String s = (String) server.invoke(name, "vmNativeMemory", new Object[] {new String[] {"summary", "scale=KB"}},
                    new String[] {String[].class.getName()});
            Matcher m = NMT_TOTAL.matcher(s);
            return m.find() ? Long.parseLong(m.group(2)) : -1;
        } catch (Exception e) {
            return -1;
        }
    }

    private static void writeCsv(Path csv, List<Row> rows) throws IOException {
        var sb = new StringBuilder("seconds,steps,samples,checkpoints,rss_kib,heap_used_kib,nmt_committed_kib,live_bytes,peak_bytes\n");
        for (Row r : rows)
            sb.append(String.format(Locale.ROOT, "%.1f,%d,%d,%d,%d,%d,%d,%d,%d%n", r.seconds(), r.steps(), r.samples(),
                    r.checkpoints(), r.rssKib(), r.heapKib(), r.nmtKib(), r.live(), r.peak()));
        ddpm4j.core.io.AtomicFiles.writeString(csv, sb.toString());
    }

    /** Growth from the first row after warm-up to the last, and the least-squares slope over those rows. */
    static void summary(List<Row> rows, double warmupFraction) {
        double total = rows.get(rows.size() - 1).seconds();
        List<Row> after = rows.stream().filter(r -> r.seconds() >= warmupFraction * total).toList();
        if (after.size() < 2) {
            System.out.println("soak: too short for a figure (" + rows.size() + " samples)");
            return;
        }
        Row a = after.get(0), b = after.get(after.size() - 1);
        System.out.printf(Locale.ROOT, "soak: %.1f min, %d training steps, %d sampling runs, %d checkpoints; after warm-up (%.0f s .. %.0f s):%n",
                total / 60, b.steps(), b.samples(), b.checkpoints(), a.seconds(), b.seconds());
        line("RSS", after, Row::rssKib);
        line("NMT committed", after, Row::nmtKib);
        line("heap used", after, Row::heapKib);
        line("live tensor bytes", after, r -> r.live() / 1024);
    }

    private static void line(String what, List<Row> rs, java.util.function.ToLongFunction<Row> f) {
        Row a = rs.get(0), b = rs.get(rs.size() - 1);
        long lo = rs.stream().mapToLong(f).min().orElse(0), hi = rs.stream().mapToLong(f).max().orElse(0);
        double n = rs.size(), sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (Row r : rs) { double x = r.seconds() / 3600, y = f.applyAsLong(r) / 1024.0; sx += x; sy += y; sxx += x * x; sxy += x * y; }
        double slope = (n * sxy - sx * sy) / Math.max(1e-12, n * sxx - sx * sx);
        System.out.printf(Locale.ROOT, "  %-18s %9.1f MiB -> %9.1f MiB  (growth %+.1f MiB, range %.1f..%.1f MiB, slope %+.2f MiB/h)%n",
                what, f.applyAsLong(a) / 1024.0, f.applyAsLong(b) / 1024.0, (f.applyAsLong(b) - f.applyAsLong(a)) / 1024.0,
                lo / 1024.0, hi / 1024.0, slope);
    }
}
