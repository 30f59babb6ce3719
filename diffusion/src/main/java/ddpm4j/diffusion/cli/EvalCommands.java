// SPDX-License-Identifier: Apache-2.0
// `ddpm classifier` (train the MNIST classifier of the quality figures) and `ddpm eval` (generate digits, then the
// confidence share, class histogram and Frechet distance against the test set). Pairs with eval/MnistClassifier, Quality.
package ddpm4j.diffusion.cli;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import ddpm4j.core.io.AtomicFiles;
import ddpm4j.core.io.Json;
import ddpm4j.diffusion.NoiseSchedule;
import ddpm4j.diffusion.Sampler;
import ddpm4j.diffusion.data.Datasets;
import ddpm4j.diffusion.data.Idx;
import ddpm4j.diffusion.data.Images;
import ddpm4j.diffusion.eval.MnistClassifier;
import ddpm4j.diffusion.eval.Quality;
import ddpm4j.diffusion.image.Png;
import ddpm4j.nn.UNetConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

final class EvalCommands {
    private EvalCommands() {}

    @Command(name = "classifier", mixinStandardHelpOptions = true,
            description = "Train the MNIST classifier used by `ddpm eval` and print its test accuracy.")
    static final class Train implements Callable<Integer> {
        @Mixin Main.Common common;
        @Option(names = "--data-dir", description = "folder with the MNIST IDX files (default: see `ddpm data`)") Path dataDir;
        @Option(names = "--out", required = true, description = "classifier folder to write") Path out;
        @Option(names = "--epochs", defaultValue = "3") int epochs;
        @Option(names = "--batch", defaultValue = "64") int batch;
        @Option(names = "--lr", defaultValue = "2e-3", description = "peak Adam learning rate (warmup, then cosine decay)") double lr;
        @Option(names = "--warmup", defaultValue = "200") int warmup;
        @Option(names = "--seed", defaultValue = "0") long seed;
        @Option(names = "--train-limit", defaultValue = "0", description = "use only the first N training images (0: all)") int trainLimit;

        @Override
        public Integer call() throws Exception {
            if (epochs < 1 || batch < 1) throw new IllegalArgumentException("--epochs and --batch must be at least 1");
            Backend be = common.backend();
            Datasets.Split train = Datasets.load("mnist", dataDir, true, trainLimit), test = Datasets.load("mnist", dataDir, false, 0);
            long t0 = System.nanoTime();
            try (MnistClassifier c = new MnistClassifier(be, new Generator(seed))) {
                var o = new MnistClassifier.FitOptions(epochs, batch, lr, warmup, seed + 1);
                c.fit(train.images(), train.labels(), o, System.err);
                double secs = (System.nanoTime() - t0) / 1e9;
                double acc = c.accuracy(test.images(), test.labels());
                var info = new LinkedHashMap<String, Object>();
                info.put("test_accuracy", acc);
                info.put("test_images", (long) test.images().n());
                info.put("train_images", (long) train.images().n());
                info.put("epochs", (long) epochs);
                info.put("batch", (long) batch);
                info.put("lr", lr);
                info.put("warmup", (long) warmup);
                info.put("seed", seed);
                info.put("train_seconds", Math.round(secs * 10) / 10.0);
                info.put("backend", be.name());
                c.save(out, info);
                System.out.printf(Locale.ROOT, "test accuracy %.4f on %d MNIST test images (%d epochs, %.0f s); wrote %s%n",
                        acc, test.images().n(), epochs, secs, out);
            }
            return 0;
        }
    }

    @Command(name = "eval", mixinStandardHelpOptions = true,
            description = "Generate digits and report the share classified with confidence > 0.9, the class histogram and "
                    + "the Frechet distance to the MNIST test set in the classifier's feature layer (floor: test half vs half).")
    static final class Measure implements Callable<Integer> {
        @Mixin Main.Common common;
        @Option(names = "--model", description = "model folder (default: the bundled models/ddpm-mnist)") Path model;
        @Option(names = "--classifier", required = true, description = "classifier folder (from `ddpm classifier`)") Path classifier;
        @Option(names = "--data-dir", description = "folder with the MNIST IDX files (default: see `ddpm data`)") Path dataDir;
        @Option(names = {"-n", "--n"}, defaultValue = "1000", description = "images to generate, or the most read with --samples (default: ${DEFAULT-VALUE})") int n;
        @Option(names = "--sampler", defaultValue = "ddim", description = "ddpm or ddim (default: ${DEFAULT-VALUE})") String sampler;
        @Option(names = "--steps", description = "DDIM steps (default 50)") Integer steps;
        @Option(names = "--eta", defaultValue = "0") double eta;
        @Option(names = "--batch", defaultValue = "100", description = "images per forward pass") int batch;
        @Option(names = "--seed", defaultValue = "0") long seed;
        @Option(names = "--threshold", defaultValue = "0.9", description = "confidence threshold") double threshold;
        @Option(names = "--test-limit", defaultValue = "0", description = "use only the first N test images (0: all 10,000)") int testLimit;
        @Option(names = "--json", description = "print the figures as JSON") boolean json;
        @Option(names = "--out", description = "also write the JSON figures to this file") Path out;
        @Option(names = "--grid", description = "write the first (up to) 100 images as a 10-wide grid PNG") Path grid;
        @Option(names = "--save-samples", description = "write the generated images as an IDX ubyte file") Path saveSamples;
        @Option(names = "--samples", description = "evaluate images from this IDX ubyte file instead of generating") Path samples;
        @Option(names = "--max-seconds", defaultValue = "0", description = "stop generating after the batch that passes this "
                + "many seconds and evaluate the images made so far (0: no limit; the JSON's \"generated\" says how many)") double maxSeconds;

        @Override
        public Integer call() throws Exception {
            if (n < 2) throw new IllegalArgumentException("-n must be at least 2, got " + n);
            if (batch < 1) throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
            Backend be = common.backend();
            // classifier and test set first: a bad path should fail before minutes of sampling
            try (MnistClassifier c = MnistClassifier.load(classifier, be)) {
                return run(be, c, Datasets.load("mnist", dataDir, false, testLimit).images());
            }
        }

        private int run(Backend be, MnistClassifier c, Images test) throws IOException {
            var r = new LinkedHashMap<String, Object>();
            Images gen;
            long t0 = System.nanoTime();
            if (samples != null) {
                gen = Idx.readImages(samples, n);
                r.put("samples", samples.toString());
            } else {
                Path dir = model != null ? model : Main.bundledModel();
                gen = quantize(generate(dir, be));
                r.put("model", dir.toString());
                r.put("sampler", sampler);
                r.put("steps", (long) (steps != null ? steps : sampler.equalsIgnoreCase("ddim") ? 50 : 0));
                if (sampler.equalsIgnoreCase("ddim")) r.put("eta", eta);
                r.put("seed", seed);
            }
            double genSecs = (System.nanoTime() - t0) / 1e9;
            if (saveSamples != null) AtomicFiles.write(saveSamples, idxBytes(gen));
            if (grid != null) {
                int k = Math.min(gen.n(), 100);
                Png.writeGrid(grid, java.util.Arrays.copyOf(gen.data(), k * 784), k, 1, 28, 28, 10, 2);
            }
            long t1 = System.nanoTime();
            Quality q = Quality.measure(c, gen, test, threshold, 500);
            r.put("classifier", classifier.toString());
            r.putAll(q.toJson());
            r.put("generation_seconds", Math.round(genSecs * 10) / 10.0);
            r.put("metric_seconds", Math.round((System.nanoTime() - t1) / 1e8) / 10.0);
            r.put("backend", be.name());
            String text = Json.write(r);
            if (out != null) AtomicFiles.writeString(out, text + "\n");
            System.out.println(json ? text : q.summary().stripTrailing());
            if (grid != null) System.err.println("wrote " + grid);
            if (saveSamples != null) System.err.println("wrote " + saveSamples);
            if (out != null) System.err.println("wrote " + out);
            return 0;
        }

        private Images generate(Path dir, Backend be) throws IOException {
            try (ModelIo.Loaded m = ModelIo.load(dir, be)) {
                UNetConfig c = m.model().config();
                if (c.inChannels() != 1 || c.sampleSize() != 28)
                    throw new IllegalArgumentException("model " + dir + " makes " + c.inChannels() + "x" + c.sampleSize() + "x"
                            + c.sampleSize() + " images; the MNIST classifier takes 1x28x28");
                Sampler s = SampleCommand.sampler(new NoiseSchedule(m.scheduler()), sampler, steps, eta);
                float[] all = new float[n * 784];
                Generator g = new Generator(seed);
                long t0 = System.nanoTime();
                int made = 0;
                while (made < n) {
                    int b = Math.min(batch, n - made);
                    try (Tensor x = s.sample(m.model()::forward, be, new int[] {b, 1, 28, 28}, g, null)) {
                        System.arraycopy(x.toFloatArray(), 0, all, made * 784, b * 784);
                    }
                    made += b;
                    double secs = (System.nanoTime() - t0) / 1e9;
                    System.err.printf(Locale.ROOT, "eval: %d/%d generated, %.1f s (%.2f images/s, ETA %.0f s)%n",
                            made, n, secs, made / secs, secs / made * (n - made));
                    if (maxSeconds > 0 && secs >= maxSeconds && made < n) {
                        System.err.printf(Locale.ROOT, "eval: --max-seconds %.0f reached; evaluating the %d images made%n", maxSeconds, made);
                        break;
                    }
                }
                return new Images(java.util.Arrays.copyOf(all, made * 784), made, 1, 28, 28);
            }
        }
    }

    /** Rounds generated values to the 256 pixel levels the test images have (as a PNG of them would), in [-1, 1]. */
    static Images quantize(Images x) {
        float[] q = new float[x.data().length];
        for (int i = 0; i < q.length; i++) q[i] = Png.toByte(x.data()[i]) / 127.5f - 1f;
        return new Images(q, x.n(), x.c(), x.h(), x.w());
    }

    /** An IDX ubyte image file (magic 0x00000803, dims N, H, W) of images in [-1, 1]. */
    static byte[] idxBytes(Images x) {
        ByteBuffer b = ByteBuffer.allocate(16 + x.data().length);
        b.putInt(0x00000803).putInt(x.n()).putInt(x.h()).putInt(x.w());
        for (float v : x.data()) b.put((byte) Png.toByte(v));
        return b.array();
    }
}
