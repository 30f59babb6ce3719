// SPDX-License-Identifier: Apache-2.0
// `ddpm progressive`: the paper's Figure 6 -- x_t and the predicted x_0 every k steps of one reverse run, as PNG grids
// (one row per image, one column per recorded step, noisiest on the left).
package ddpm4j.diffusion.cli;

import ddpm4j.core.Backend;
import ddpm4j.core.GradMode;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import ddpm4j.diffusion.NoiseSchedule;
import ddpm4j.diffusion.Sampler;
import ddpm4j.diffusion.image.Png;
import ddpm4j.nn.UNetConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "progressive", mixinStandardHelpOptions = true,
        description = "Progressive generation (paper Fig. 6): x_t and predicted x_0 every k steps.")
public final class ProgressiveCommand implements Callable<Integer> {
    @Mixin Main.Common common;
    @Option(names = "--model") Path model;
    @Option(names = {"-n", "--num"}, defaultValue = "4") int n;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--sampler", defaultValue = "ddpm") String sampler;
    @Option(names = "--steps") Integer steps;
    @Option(names = "--every", defaultValue = "100", description = "record every k-th timestep (and the last)") int every;
    @Option(names = "--out", defaultValue = "progressive.png", description = "predicted x_0 grid; x_t goes to <name>-xt.png") Path out;

    @Override
    public Integer call() throws Exception {
        if (every < 1) throw new IllegalArgumentException("--every must be at least 1, got " + every);
        Backend be = common.backend();
        try (ModelIo.Loaded m = ModelIo.load(model != null ? model : Main.bundledModel(), be)) {
            NoiseSchedule ns = new NoiseSchedule(m.scheduler());
            Sampler s = SampleCommand.sampler(ns, sampler, steps, 0);
            UNetConfig c = m.model().config();
            int side = c.sampleSize() > 0 ? c.sampleSize() : 32, ch = c.inChannels(), per = ch * side * side;
            List<float[]> xs = new ArrayList<>(), x0s = new ArrayList<>();
            List<Integer> ts = new ArrayList<>();
            Sampler.StepObserver obs = (t, xt, eps) -> {
                if (t % every != 0 && t != 0) return;
                try (GradMode g = GradMode.off(); Tensor x0 = Sampler.predictX0(ns, xt, eps, t, true)) {
                    xs.add(xt.toFloatArray());
                    x0s.add(x0.toFloatArray());
                    ts.add(t);
                }
            };
            try (Tensor x = s.sample(m.model()::forward, be, new int[] {n, ch, side, side}, new Generator(seed), obs)) {
                xs.add(x.toFloatArray());
                x0s.add(x.toFloatArray());
                ts.add(-1);
            }
            int cols = xs.size();
            float[] gx = new float[n * cols * per], g0 = new float[n * cols * per];
            for (int i = 0; i < n; i++)
                for (int k = 0; k < cols; k++) {
                    System.arraycopy(xs.get(k), i * per, gx, (i * cols + k) * per, per);
                    System.arraycopy(x0s.get(k), i * per, g0, (i * cols + k) * per, per);
                }
            String name = out.getFileName().toString().replaceFirst("\\.png$", "");
            Path xtFile = out.resolveSibling(name + "-xt.png");
            Png.writeGrid(out, g0, n * cols, ch, side, side, cols, 2);
            Png.writeGrid(xtFile, gx, n * cols, ch, side, side, cols, 2);
            System.out.println("wrote " + out + " (predicted x_0) and " + xtFile + " (x_t): " + n + " rows, columns at t = "
                    + ts.subList(0, ts.size() - 1) + " then the final sample");
        }
        return 0;
    }
}
