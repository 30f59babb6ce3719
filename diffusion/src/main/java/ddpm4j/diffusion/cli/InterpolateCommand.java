// SPDX-License-Identifier: Apache-2.0
// `ddpm interpolate`: the paper's Sec. 4.4 / Figure 8 -- two images diffused to step t with the same noise, their
// linear mixes decoded by the reverse process, as a PNG grid (sources at both ends).
package ddpm4j.diffusion.cli;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.GradMode;
import ddpm4j.core.Ops;
import ddpm4j.core.Tensor;
import ddpm4j.diffusion.NoiseSchedule;
import ddpm4j.diffusion.Sampler;
import ddpm4j.diffusion.data.Datasets;
import ddpm4j.diffusion.data.Images;
import ddpm4j.diffusion.image.Png;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "interpolate", mixinStandardHelpOptions = true,
        description = "Interpolate two test images in latent space (paper Sec. 4.4, Fig. 8).")
public final class InterpolateCommand implements Callable<Integer> {
    @Mixin Main.Common common;
    @Option(names = "--model") Path model;
    @Option(names = "--data", defaultValue = "mnist", description = "mnist or fashion-mnist (test split)") String data;
    @Option(names = "--data-dir") Path dataDir;
    @Option(names = "--pair", defaultValue = "0,1", split = ",", description = "indices of the two test images") List<Integer> pair;
    @Option(names = "--t", defaultValue = "500", description = "diffusion timestep of the latents, 0..T-1") int t;
    @Option(names = "--mixes", defaultValue = "9", description = "number of lambdas in [0, 1]") int mixes;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--out", defaultValue = "interpolate.png") Path out;

    @Override
    public Integer call() throws Exception {
        if (pair.size() != 2) throw new IllegalArgumentException("--pair takes two indices, got " + pair);
        if (mixes < 2) throw new IllegalArgumentException("--mixes must be at least 2, got " + mixes);
        Backend be = common.backend();
        try (ModelIo.Loaded m = ModelIo.load(model != null ? model : Main.bundledModel(), be)) {
            NoiseSchedule ns = new NoiseSchedule(m.scheduler());
            ns.check(t);
            int maxIdx = Math.max(pair.get(0), pair.get(1)) + 1;
            Images img = Datasets.load(data, dataDir, false, maxIdx).images();
            if (pair.get(0) < 0 || pair.get(1) < 0 || pair.get(0) >= img.n() || pair.get(1) >= img.n())
                throw new IllegalArgumentException("--pair " + pair + " is outside the test set of " + img.n() + " images");
            int side = img.h(), ch = img.c(), per = img.imageSize();
            if (m.model().config().inChannels() != ch)
                throw new IllegalArgumentException("the model takes " + m.model().config().inChannels() + " channels, the data has " + ch);
            Generator gen = new Generator(seed);
            float[] grid = new float[(mixes + 2) * per];
            try (GradMode g = GradMode.off()) {
                // 1. x_t for both images with the same eps (Eq. 4)
                float[] two = new float[2 * per];
                System.arraycopy(img.data(), pair.get(0) * per, two, 0, per);
                System.arraycopy(img.data(), pair.get(1) * per, two, per, per);
                Tensor x0 = Tensor.of(be, two, 2, ch, side, side);
                Tensor eps1 = Tensor.randn(be, gen, 1, ch, side, side);
                Tensor eps = Ops.concat(0, eps1, eps1);
                float a = (float) ns.sqrtAlphaBar(t), b = (float) ns.sqrtOneMinusAlphaBar(t);
                float[] xt = Ops.qSample(x0, eps, Tensor.of(be, new float[] {a, a}, 2), Tensor.of(be, new float[] {b, b}, 2)).toFloatArray();
                // 2. mixes (1 - lambda) x_t^a + lambda x_t^b, decoded by the reverse process from t
                float[] mix = new float[mixes * per];
                for (int k = 0; k < mixes; k++) {
                    float lam = (float) k / (mixes - 1);
                    for (int j = 0; j < per; j++) mix[k * per + j] = (1 - lam) * xt[j] + lam * xt[per + j];
                }
                Sampler s = SampleCommand.sampler(ns, "ddpm", null, 0);
                try (Tensor xm = Tensor.of(be, mix, mixes, ch, side, side);
                     Tensor dec = s.denoise(m.model()::forward, xm, t, gen, null)) {
                    System.arraycopy(two, 0, grid, 0, per);
                    System.arraycopy(dec.toFloatArray(), 0, grid, per, mixes * per);
                    System.arraycopy(two, per, grid, (mixes + 1) * per, per);
                }
            }
            Png.writeGrid(out, grid, mixes + 2, ch, side, side, mixes + 2, 2);
            System.out.println("wrote " + out + ": source " + pair.get(0) + ", " + mixes + " decoded mixes at t = " + t
                    + ", source " + pair.get(1));
        }
        return 0;
    }
}
