// SPDX-License-Identifier: Apache-2.0
// `ddpm train`: Algorithm 1 on MNIST, Fashion-MNIST or a folder of images; writes checkpoints, log, plot, grids and
// the EMA model in diffusers layout (config.json, diffusion_pytorch_model.safetensors, scheduler_config.json).
package ddpm4j.diffusion.cli;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.diffusion.DdpmTrainer;
import ddpm4j.diffusion.NoiseSchedule;
import ddpm4j.diffusion.SchedulerConfig;
import ddpm4j.diffusion.TrainRun;
import ddpm4j.diffusion.data.Datasets;
import ddpm4j.diffusion.data.ImageFolder;
import ddpm4j.diffusion.data.Images;
import ddpm4j.nn.UNet2DModel;
import ddpm4j.nn.UNetConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "train", mixinStandardHelpOptions = true, description = "Train a DDPM (Algorithm 1).")
public final class TrainCommand implements Callable<Integer> {
    @Mixin Main.Common common;
    @Option(names = "--data", required = true, description = "mnist, fashion-mnist, or a folder of PNG/JPEG images")
    String data;
    @Option(names = "--data-dir", description = "where MNIST/Fashion-MNIST IDX files are (default: ~/.cache/ddpm4j/data)")
    Path dataDir;
    @Option(names = "--limit", defaultValue = "0", description = "use at most N training images (0: all)") int limit;
    @Option(names = "--size", defaultValue = "32", description = "image side for image folders (default: ${DEFAULT-VALUE})") int size;
    @Option(names = "--out", required = true, description = "run folder (checkpoints, log, plot, samples, model/)") Path out;
    @Option(names = "--steps", defaultValue = "10000") long steps;
    @Option(names = "--batch", defaultValue = "64") int batch;
    @Option(names = "--lr", defaultValue = "2e-4") double lr;
    @Option(names = "--warmup", defaultValue = "5000") long warmup;
    @Option(names = "--clip", defaultValue = "1.0") double clip;
    @Option(names = "--ema", defaultValue = "0.9999") float ema;
    @Option(names = "--dropout", defaultValue = "0.1") double dropout;
    @Option(names = "--hflip", negatable = true, description = "random horizontal flips (default: on for image folders, off for digits)")
    Boolean hflip;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--channels", defaultValue = "32,64,64", split = ",", description = "block_out_channels") List<Integer> channels;
    @Option(names = "--attn-levels", defaultValue = "1", split = ",", description = "levels with attention (0-based; -1: none)") List<Integer> attnLevels;
    @Option(names = "--layers", defaultValue = "1", description = "residual blocks per level") int layers;
    @Option(names = "--groups", defaultValue = "8", description = "GroupNorm groups") int groups;
    @Option(names = "--timesteps", defaultValue = "1000", description = "T") int timesteps;
    @Option(names = "--schedule", defaultValue = "linear", description = "linear or squaredcos_cap_v2") String schedule;
    @Option(names = "--checkpoint-every", defaultValue = "500") long checkpointEvery;
    @Option(names = "--sample-every", defaultValue = "1000") long sampleEvery;
    @Option(names = "--sample-steps", defaultValue = "50", description = "DDIM steps of the grids written while training") int sampleSteps;
    @Option(names = "--log-every", defaultValue = "50") long logEvery;
    @Option(names = "--resume", description = "continue from the run folder's checkpoint") boolean resume;

    @Override
    public Integer call() throws Exception {
        Backend be = common.backend();
        Images images;
        boolean digits = !Files.isDirectory(Path.of(data)) && Datasets.names().contains(data.toLowerCase());
        if (digits) {
            images = Datasets.load(data, dataDir, true, limit).images();
        } else {
            Path dir = Path.of(data);
            if (!Files.isDirectory(dir))
                throw new IllegalArgumentException("--data '" + data + "' is neither a folder nor one of " + Datasets.names());
            ImageFolder.Result r = ImageFolder.load(dir, size, 3, limit);
            if (!r.skipped().isEmpty()) System.err.println("train: skipped " + r.skipped().size() + " unreadable file(s), e.g. " + r.skipped().get(0));
            images = r.images();
        }
        List<String> down = new ArrayList<>(), up = new ArrayList<>();
        int levels = channels.size();
        for (int i = 0; i < levels; i++) down.add(attnLevels.contains(i) ? "AttnDownBlock2D" : "DownBlock2D");
        for (int i = levels - 1; i >= 0; i--) up.add(attnLevels.contains(i) ? "AttnUpBlock2D" : "UpBlock2D");
        UNetConfig cfg = new UNetConfig(images.h(), images.c(), images.c(), false, false, 1, down, up, channels, layers,
                1, 0, dropout, "silu", null, groups, null, 1e-6, true);
        if (images.h() % cfg.sizeMultiple() != 0 || images.w() % cfg.sizeMultiple() != 0)
            throw new IllegalArgumentException("images are " + images.h() + "x" + images.w() + " but a U-Net with " + levels
                    + " levels needs sides divisible by " + cfg.sizeMultiple());
        SchedulerConfig sc = SchedulerConfig.paperLinear().withTimesteps(timesteps).withSchedule(schedule);
        NoiseSchedule ns = new NoiseSchedule(sc);
        boolean flip = hflip != null ? hflip : !digits;
        var tc = new DdpmTrainer.Config(batch, lr, warmup, clip, ema, flip, seed);
        try (UNet2DModel model = new UNet2DModel(cfg, be, new Generator(seed + 2));
             DdpmTrainer tr = new DdpmTrainer(model, model::forward, ns, images, tc, be)) {
            System.err.printf("train: %d images %dx%dx%d, U-Net %s (%,d parameters), T=%d %s, batch %d, %s backend%n",
                    images.n(), images.c(), images.h(), images.w(), channels, model.parameterCount(), timesteps, schedule,
                    batch, be.describe());
            Path modelDir = out.resolve("model");
            var opts = new TrainRun.Options(steps, checkpointEvery, sampleEvery, 16, sampleSteps, logEvery, out);
            TrainRun run = new TrainRun(tr, model::forward, new int[] {16, images.c(), images.h(), images.w()}, be, opts,
                    () -> ModelIo.save(model, sc, modelDir, false), System.err);
            if (resume) System.err.println("train: resumed from step " + run.resume() + " (" + out.resolve("checkpoint.safetensors") + ")");
            try {
                run.run();
            } catch (DdpmTrainer.NonFiniteException e) {
                System.err.println("train: error: " + e.getMessage());
                return 3;
            }
            System.out.println("wrote checkpoint " + out.resolve("checkpoint.safetensors") + ", EMA model " + modelDir
                    + ", log " + out.resolve("train_log.csv") + ", plot " + out.resolve("loss.png")
                    + (sampleEvery > 0 ? ", sample grids in " + out.resolve("samples") : ""));
        }
        return 0;
    }
}
