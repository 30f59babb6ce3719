// SPDX-License-Identifier: Apache-2.0
// `ddpm bpd`: the variational bound (Eq. 5 and 13) in bits/dim on test images, with the prior, decoder and per-step
// terms; --json prints them as JSON.
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
            double[] steps = new double[T];
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
                for (int t = 0; t < T; t++) steps[t] += r.steps()[t] * b;
                System.err.printf(Locale.ROOT, "bpd: %d/%d images, running mean %.4f bits/dim%n", done + b, img.n(), mean(total));
            }
            for (int t = 0; t < T; t++) steps[t] /= img.n();
            double secs = (System.nanoTime() - t0) / 1e9;
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
                o.put("seconds", secs);
                System.out.println(Json.write(o));
            } else {
                System.out.printf(Locale.ROOT, "bits/dim on %d test images: %.4f (prior L_T %.6f, decoder L_0 %.4f, "
                        + "sum of L_1..L_%d %.4f) in %.1f s%n", img.n(), mean(total), mean(prior), mean(decoder), T - 1,
                        mean(total) - mean(prior) - mean(decoder), secs);
            }
        }
        return 0;
    }

    private static double mean(List<Double> v) {
        double s = 0;
        for (double x : v) s += x;
        return s / v.size();
    }
}
