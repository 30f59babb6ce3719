// SPDX-License-Identifier: Apache-2.0
// `ddpm sample`: Algorithm 2 (or DDIM) from a model folder (default: the bundled MNIST model) to a grid PNG and,
// with --out-dir, one PNG per image.
package ddpm4j.diffusion.cli;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import ddpm4j.diffusion.DdimSampler;
import ddpm4j.diffusion.DdpmSampler;
import ddpm4j.diffusion.NoiseSchedule;
import ddpm4j.diffusion.Sampler;
import ddpm4j.diffusion.image.Png;
import ddpm4j.nn.UNetConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "sample", mixinStandardHelpOptions = true, description = "Generate images (Algorithm 2 or DDIM).")
public final class SampleCommand implements Callable<Integer> {
    @Mixin Main.Common common;
    @Option(names = "--model", description = "model folder in diffusers layout (default: the bundled models/ddpm-mnist)") Path model;
    @Option(names = {"-n", "--num"}, defaultValue = "16", description = "number of images (default: ${DEFAULT-VALUE})") int n;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--sampler", defaultValue = "ddim",
            description = "ddim (default, --steps of the T steps) or ddpm (Algorithm 2, all T steps)") String sampler;
    @Option(names = "--steps", description = "DDIM steps S (default: 50, or T if smaller)") Integer steps;
    @Option(names = "--eta", defaultValue = "0", description = "DDIM eta") double eta;
    @Option(names = "--batch", defaultValue = "64", description = "images per forward pass") int batch;
    @Option(names = "--out", defaultValue = "samples.png", description = "grid PNG (default: ${DEFAULT-VALUE})") Path out;
    @Option(names = "--out-dir", description = "also write one PNG per image here") Path outDir;
    @Option(names = "--nrow", description = "images per grid row (default: sqrt(n))") Integer nrow;

    /** The sampler named by --sampler/--steps/--eta. */
    static Sampler sampler(NoiseSchedule ns, String name, Integer steps, double eta) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "ddpm" -> {
                if (steps != null && steps != ns.steps())
                    throw new IllegalArgumentException("--steps " + steps + ": the ddpm sampler runs all T = " + ns.steps()
                            + " steps; use --sampler ddim for fewer");
                yield new DdpmSampler(ns);
            }
            case "ddim" -> new DdimSampler(ns, steps == null ? Math.min(50, ns.steps()) : steps, eta);
            default -> throw new IllegalArgumentException("unknown --sampler '" + name + "'; expected ddpm or ddim");
        };
    }

    @Override
    public Integer call() throws Exception {
        if (n < 1) throw new IllegalArgumentException("-n must be at least 1, got " + n);
        if (batch < 1) throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
        Backend be = common.backend();
        Path dir = model != null ? model : Main.bundledModel();
        long t0 = System.nanoTime();
        try (ModelIo.Loaded m = ModelIo.load(dir, be)) {
            NoiseSchedule ns = new NoiseSchedule(m.scheduler());
            Sampler s = sampler(ns, sampler, steps, eta);
            UNetConfig c = m.model().config();
            int side = c.sampleSize() > 0 ? c.sampleSize() : 32, ch = c.inChannels(), per = ch * side * side;
            float[] all = new float[n * per];
            Generator gen = new Generator(seed);
            for (int done = 0; done < n; done += batch) {
                int b = Math.min(batch, n - done);
                try (Tensor x = s.sample(m.model()::forward, be, new int[] {b, ch, side, side}, gen, null)) {
                    System.arraycopy(x.toFloatArray(), 0, all, done * per, b * per);
                }
                System.err.printf("sample: %d/%d images%n", done + b, n);
            }
            int rows = nrow != null ? nrow : (int) Math.ceil(Math.sqrt(n));
            Png.writeGrid(out, all, n, ch, side, side, rows, 2);
            System.out.printf("wrote %s (%d images, %s sampler, %d steps, %.1f s on %s)%n", out, n, sampler,
                    s.timesteps().length, (System.nanoTime() - t0) / 1e9, be.name());
            if (outDir != null) {
                List<Path> files = Png.writeEach(outDir, "sample-", all, n, ch, side, side);
                System.out.println("wrote " + files.size() + " PNGs to " + outDir);
            }
        }
        return 0;
    }
}
