// SPDX-License-Identifier: Apache-2.0
// `ddpm bpd`: the variational bound (Eq. 5 and 13) in bits/dim on test images, with the prior, decoder and per-step
// terms, and the rate/distortion of progressive coding (the paper's Fig. 5); --json prints them as JSON.
package ddpm4j.diffusion.cli;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import ddpm4j.core.io.Json;
import ddpm4j.diffusion.NoiseSchedule;
import ddpm4j.diffusion.VariationalBound;
import ddpm4j.diffusion.data.Datasets;
import ddpm4j.diffusion.data.ImageFolder;
import ddpm4j.diffusion.data.Images;
import ddpm4j.nn.UNetConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "bpd", mixinStandardHelpOptions = true,
        description = "Negative log-likelihood bound in bits/dim (paper Eq. 5, 13) on test images.")
public final class BpdCommand implements Callable<Integer> {
    @Mixin Main.Common common;
    @Option(names = "--model") Path model;
    @Option(names = "--data", defaultValue = "mnist", description = "mnist, fashion-mnist (test split) or an image folder") String data;
    @Option(names = "--data-dir") Path dataDir;
    @Option(names = "--limit", defaultValue = "16", description = "first N test images (default: ${DEFAULT-VALUE})") int limit;
    @Option(names = "--batch", defaultValue = "64") int batch;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--json", description = "print the result as JSON (total, prior, decoder, per-step terms)") boolean json;
    @Option(names = "--rate-distortion", paramLabel = "CSV", description = "write the rate/distortion table (paper Fig. 5): "
            + "per step t, the bits/dim sent so far (L_T + L_{T-1} + ... + L_t) and the RMSE of the predicted x_0 on the "
            + "[0, 255] scale") Path rateDistortion;

    @Override
    public Integer call() throws Exception {
        if (limit < 1) throw new IllegalArgumentException("--limit must be at least 1, got " + limit);
        Backend be = common.backend();
        try (ModelIo.Loaded m = ModelIo.load(model != null ? model : Main.bundledModel(), be)) {
            UNetConfig c = m.model().config();
            Images img;
            if (Files.isDirectory(Path.of(data))) {
                ImageFolder.Result r = ImageFolder.load(Path.of(data), c.sampleSize(), c.inChannels(), limit);
                if (!r.skipped().isEmpty()) System.err.println("bpd: skipped " + r.skipped().size() + " unreadable file(s)");
                img = r.images();
            } else {
                img = Datasets.load(data, dataDir, false, limit).images();
            }
            if (img.c() != c.inChannels() || (c.sampleSize() > 0 && (img.h() != c.sampleSize() || img.w() != c.sampleSize())))
                throw new IllegalArgumentException("the data is " + img.c() + "x" + img.h() + "x" + img.w() + " but the model expects "
                        + c.inChannels() + "x" + c.sampleSize() + "x" + c.sampleSize());
            NoiseSchedule ns = new NoiseSchedule(m.scheduler());
            VariationalBound vb = new VariationalBound(ns);
            int per = img.imageSize(), T = ns.steps();
            List<Double> total = new ArrayList<>(), prior = new ArrayList<>(), decoder = new ArrayList<>();
            double[] steps = new double[T], mse = new double[T];
            Generator gen = new Generator(seed);
            long t0 = System.nanoTime();
            for (int done = 0; done < img.n(); done += batch) {
                int b = Math.min(batch, img.n() - done);
                float[] x0 = java.util.Arrays.copyOfRange(img.data(), done * per, (done + b) * per);
                VariationalBound.Result r = vb.compute(m.model()::forward, be, x0, new int[] {b, img.c(), img.h(), img.w()},
                        (t, count) -> {
                            try (Tensor z = Tensor.randn(be, gen, count)) { return z.toFloatArray(); }
                        });
                for (int i = 0; i < b; i++) { total.add(r.total()[i]); prior.add(r.prior()[i]); decoder.add(r.decoder()[i]); }
                for (int t = 0; t < T; t++) { steps[t] += r.steps()[t] * b; mse[t] += r.stepMse()[t] * b; }
                System.err.printf(Locale.ROOT, "bpd: %d/%d images, running mean %.4f bits/dim%n", done + b, img.n(), mean(total));
            }
            for (int t = 0; t < T; t++) { steps[t] /= img.n(); mse[t] /= img.n(); }
            double secs = (System.nanoTime() - t0) / 1e9;
            // Paper step t = T .. 1 (index t - 1): the receiver holds x_t after L_T (x_T) and L_{T-1} .. L_t, where
            // per_step_bpd[s] is the paper's L_s for s >= 1 (per_step_bpd[0] is the decoder L_0, sent last); the
            // distortion is that of the x_0 predicted from the paper's x_t, the network's input at index t - 1.
            double[] rate = new double[T], rmse = new double[T];
            double sent = mean(prior);
            for (int t = T; t >= 1; t--) {
                if (t <= T - 1) sent += steps[t];
                rate[t - 1] = sent;
                rmse[t - 1] = Math.sqrt(mse[t - 1]) * 127.5;
            }
            if (rateDistortion != null) writeRateDistortion(rateDistortion, rate, rmse);
            if (json) {
                var o = new LinkedHashMap<String, Object>();
                o.put("images", (long) img.n());
                o.put("total_bpd", mean(total));
                o.put("prior_bpd", mean(prior));
                o.put("decoder_bpd", mean(decoder));
                o.put("per_image_total_bpd", new ArrayList<Object>(total));
                List<Object> st = new ArrayList<>();
                for (double v : steps) st.add(v);
                o.put("per_step_bpd", st);
                List<Object> rd = new ArrayList<>();
                for (double v : rmse) rd.add(v);
                o.put("per_step_distortion_rmse", rd);
                o.put("seconds", secs);
                System.out.println(Json.write(o));
            } else {
                System.out.printf(Locale.ROOT, "bits/dim on %d test images: %.4f (prior L_T %.6f, decoder L_0 %.4f, "
                        + "sum of L_1..L_%d %.4f) in %.1f s%n", img.n(), mean(total), mean(prior), mean(decoder), T - 1,
                        mean(total) - mean(prior) - mean(decoder), secs);
                System.out.println("rate/distortion (paper Fig. 5): step t, bits/dim sent so far, RMSE of predicted x_0 [0, 255]");
                int every = Math.max(1, T / 10), last = T;
                for (int t = T; t >= 1; t -= every) printRateDistortion(last = t, rate, rmse);
                if (last != 1) printRateDistortion(1, rate, rmse);
            }
            if (rateDistortion != null) System.err.println("bpd: wrote " + rateDistortion);
        }
        return 0;
    }

    private static void printRateDistortion(int t, double[] rate, double[] rmse) {
        System.out.printf(Locale.ROOT, "  t=%4d  rate %.4f  distortion %.3f%n", t, rate[t - 1], rmse[t - 1]);
    }

    // Written atomically: a temporary file, then a rename.
    private static void writeRateDistortion(Path out, double[] rate, double[] rmse) throws java.io.IOException {
        StringBuilder sb = new StringBuilder("t,rate_bits_per_dim,distortion_rmse\n");
        for (int t = rate.length; t >= 1; t--) {
            sb.append(String.format(Locale.ROOT, "%d,%.6f,%.4f%n", t, rate[t - 1], rmse[t - 1]));
        }
        ddpm4j.core.io.AtomicFiles.writeString(out, sb.toString());
    }

    private static double mean(List<Double> v) {
        double s = 0;
        for (double x : v) s += x;
        return s / v.size();
    }
}
