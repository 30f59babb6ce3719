// SPDX-License-Identifier: Apache-2.0
// The ddpm command end to end on a tiny model folder and tiny IDX files: each command writes what it says, and bad
// input (unknown option values, t out of range, missing scheduler config, wrong-size data) gives a clear message and
// a non-zero exit code.
package ddpm4j.diffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.io.Json;
import ddpm4j.diffusion.SchedulerConfig;
import ddpm4j.nn.UNet2DModel;
import ddpm4j.nn.UNetConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CliTest {
    @TempDir static Path dir;
    static Path model, data, wrongData;

    record Run(int code, String out, String err) {}

    static Run ddpm(String... args) {
        PrintStream o = System.out, e = System.err;
        var bo = new ByteArrayOutputStream();
        var be = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bo, true));
        System.setErr(new PrintStream(be, true));
        try {
            boolean named = java.util.Arrays.stream(args).anyMatch(a -> a.startsWith("--device"));
            String[] all = args;
            if (!named) {
                all = new String[args.length + 1];
                all[0] = args[0];
                all[1] = "--device=auto";
                System.arraycopy(args, 1, all, 2, args.length - 1);
            }
            return new Run(Main.execute(all), bo.toString(), be.toString());
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    /** Writes the four MNIST-named IDX files with n images of side x side. */
    static void idx(Path d, int n, int side) throws Exception {
        Files.createDirectories(d);
        for (String split : List.of("train", "t10k")) {
            ByteBuffer img = ByteBuffer.allocate(16 + n * side * side);
            img.putInt(0x00000803).putInt(n).putInt(side).putInt(side);
            for (int i = 0; i < n * side * side; i++) img.put((byte) ((i * 37) % 256));
            Files.write(d.resolve(split + "-images-idx3-ubyte"), img.array());
            ByteBuffer lbl = ByteBuffer.allocate(8 + n);
            lbl.putInt(0x00000801).putInt(n);
            for (int i = 0; i < n; i++) lbl.put((byte) (i % 10));
            Files.write(d.resolve(split + "-labels-idx1-ubyte"), lbl.array());
        }
    }

    @BeforeAll
    static void setUp() throws Exception {
        model = dir.resolve("model");
        var cfg = new UNetConfig(8, 1, 1, false, false, 1, List.of("DownBlock2D", "AttnDownBlock2D"),
                List.of("AttnUpBlock2D", "UpBlock2D"), List.of(8, 16), 1, 1, 0, 0, "silu", null, 4, null, 1e-6, true);
        try (UNet2DModel m = new UNet2DModel(cfg, Backends.get("reference"), new Generator(5))) {
            ModelIo.save(m, SchedulerConfig.paperLinear().withTimesteps(20), model, true);
        }
        data = dir.resolve("data");
        idx(data, 3, 8);
        wrongData = dir.resolve("wrong");
        idx(wrongData, 3, 12);
    }

    @Test
    void sampleWritesAGridAndOnePngPerImage() throws Exception {
        Path out = dir.resolve("grid.png"), each = dir.resolve("each");
        Run r = ddpm("sample", "--model", model.toString(), "-n", "3", "--seed", "1", "--out", out.toString(), "--out-dir", each.toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("wrote " + out), r.out);
        var img = ImageIO.read(out.toFile());
        assertEquals(2 + 2 * (8 + 2), img.getWidth(), "2 columns of 8 px with 2 px padding");
        try (var files = Files.list(each)) { assertEquals(3, files.count()); }
        Run ddim = ddpm("sample", "--model", model.toString(), "-n", "2", "--sampler", "ddim", "--steps", "5", "--out", out.toString());
        assertEquals(0, ddim.code, ddim.err);
        assertTrue(ddim.out.contains("ddim sampler, 5 steps"), ddim.out);
    }

    @Test
    void progressiveInterpolateBpdAndInfo() throws Exception {
        Path prog = dir.resolve("prog.png");
        Run p = ddpm("progressive", "--model", model.toString(), "-n", "2", "--every", "5", "--out", prog.toString());
        assertEquals(0, p.code, p.err);
        assertTrue(Files.exists(prog) && Files.exists(dir.resolve("prog-xt.png")), p.out);
        assertTrue(p.out.contains("t = [15, 10, 5, 0]"), p.out);
        Path interp = dir.resolve("interp.png");
        Run i = ddpm("interpolate", "--model", model.toString(), "--data-dir", data.toString(), "--pair", "0,2", "--t", "10",
                "--mixes", "4", "--out", interp.toString());
        assertEquals(0, i.code, i.err);
        assertEquals(2 + 6 * 10, ImageIO.read(interp.toFile()).getWidth(), "source, 4 mixes, source");
        Path rd = dir.resolve("rd.csv");
        Run b = ddpm("bpd", "--model", model.toString(), "--data-dir", data.toString(), "--limit", "2", "--json",
                "--rate-distortion", rd.toString());
        assertEquals(0, b.code, b.err);
        List<String> rows = Files.readAllLines(rd);
        assertEquals("t,rate_bits_per_dim,distortion_rmse", rows.get(0));
        assertEquals(21, rows.size(), "a row per step, t = 20 .. 1");
        assertTrue(rows.get(1).startsWith("20,") && rows.get(20).startsWith("1,"), rows.toString());
        @SuppressWarnings("unchecked") Map<String, Object> j = (Map<String, Object>) Json.parse(b.out, "bpd output");
        assertEquals(2L, j.get("images"));
        assertEquals(20, ((List<?>) j.get("per_step_bpd")).size());
        double total = ((Number) j.get("total_bpd")).doubleValue(), sum = ((Number) j.get("prior_bpd")).doubleValue();
        for (Object v : (List<?>) j.get("per_step_bpd")) sum += ((Number) v).doubleValue();
        assertEquals(total, sum, 1e-9);
        assertTrue(total > 0 && Double.isFinite(total), "bits/dim " + total);
        // the rate at t = 1 is everything but the decoder term L_0: total - per_step_bpd[0]
        double rateAt1 = Double.parseDouble(rows.get(20).split(",")[1]);
        assertEquals(total - ((Number) ((List<?>) j.get("per_step_bpd")).get(0)).doubleValue(), rateAt1, 1e-5);
        assertEquals(20, ((List<?>) j.get("per_step_distortion_rmse")).size());
        Run info = ddpm("info", "--model", model.toString());
        assertEquals(0, info.code, info.err);
        assertTrue(info.out.contains("parameters: ") && info.out.contains("DDPMScheduler"), info.out);
        Path copy = dir.resolve("exported");
        Run x = ddpm("export", "--model", model.toString(), "--out", copy.toString());
        assertEquals(0, x.code, x.err);
        try (var sa = ddpm4j.core.io.SafeTensors.open(copy.resolve("diffusion_pytorch_model.safetensors"));
             var sb = ddpm4j.core.io.SafeTensors.open(model.resolve("diffusion_pytorch_model.safetensors"))) {
            assertEquals(sb.names(), sa.names());
            assertEquals(ddpm4j.core.io.SafeTensors.Dtype.F32, sa.dtype(sa.names().get(0)));
            assertEquals(java.util.Arrays.toString(sb.readF32(sb.names().get(0))), java.util.Arrays.toString(sa.readF32(sa.names().get(0))),
                    "F16 values widened to F32 are kept exactly");
        }
    }

    /**
     * `train --data FOLDER` end to end: PNG and JPEG files of mixed sizes (resized and center-cropped to --size), one
     * corrupt file skipped and counted, then the exported RGB model samples.
     */
    @Test
    void trainOnAnImageFolderThenSample() throws Exception {
        Path folder = dir.resolve("photos");
        Files.createDirectories(folder);
        int[][] sizes = {{10, 14}, {20, 12}, {9, 9}, {16, 24}, {12, 12}};
        for (int i = 0; i < sizes.length; i++) {
            var im = new java.awt.image.BufferedImage(sizes[i][0], sizes[i][1], java.awt.image.BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < im.getHeight(); y++)
                for (int x = 0; x < im.getWidth(); x++) im.setRGB(x, y, (x * 20 + i * 40) << 16 | (y * 15) << 8 | (x + y) * 7);
            ImageIO.write(im, i == 2 ? "jpg" : "png", folder.resolve("img" + i + (i == 2 ? ".jpg" : ".png")).toFile());
        }
        Files.write(folder.resolve("broken.png"), new byte[] {1, 2, 3, 4, 5});
        Path run = dir.resolve("folder-run");
        Run t = ddpm("train", "--data", folder.toString(), "--size", "8", "--channels", "8,8", "--attn-levels", "-1",
                "--layers", "1", "--groups", "4", "--timesteps", "20", "--batch", "2", "--steps", "3", "--warmup", "1",
                "--checkpoint-every", "3", "--sample-every", "3", "--sample-steps", "2", "--log-every", "1", "--seed", "3",
                "--out", run.toString());
        assertEquals(0, t.code, t.err);
        assertTrue(t.err.contains("skipped 1 unreadable file(s)") && t.err.contains("broken.png"), t.err);
        @SuppressWarnings("unchecked") Map<String, Object> cfg = (Map<String, Object>) Json.parse(
                Files.readString(run.resolve("model").resolve("config.json")), "config.json");
        assertEquals(3L, cfg.get("in_channels"));
        assertEquals(8L, cfg.get("sample_size"));
        assertTrue(Files.exists(run.resolve("checkpoint.safetensors")) && Files.exists(run.resolve("loss.png")));
        List<String> log = Files.readAllLines(run.resolve("train_log.csv"));
        assertEquals(4, log.size(), "header and one row per step: " + log);
        Path grid = dir.resolve("folder-grid.png");
        Run s = ddpm("sample", "--model", run.resolve("model").toString(), "-n", "2", "--sampler", "ddim", "--steps", "3",
                "--out", grid.toString());
        assertEquals(0, s.code, s.err);
        var img = ImageIO.read(grid.toFile());
        assertEquals(2 + 2 * (8 + 2), img.getWidth(), "2 columns of 8 px");
        assertTrue(img.getColorModel().getNumColorComponents() == 3, "an RGB grid");
    }

    @Test
    void badInputIsAClearErrorWithNonZeroExit() throws Exception {
        Run r = ddpm("sample", "--model", model.toString(), "--sampler", "euler");
        assertNotEquals(0, r.code);
        assertTrue(r.err.contains("unknown --sampler 'euler'"), r.err);
        r = ddpm("sample", "--model", model.toString(), "--sampler", "ddpm", "--steps", "5");
        assertNotEquals(0, r.code);
        assertTrue(r.err.contains("use --sampler ddim"), r.err);
        r = ddpm("interpolate", "--model", model.toString(), "--data-dir", data.toString(), "--t", "20");
        assertNotEquals(0, r.code);
        assertTrue(r.err.contains("timestep 20 is out of range [0, 19]"), r.err);
        Path noSched = dir.resolve("no-scheduler");
        Files.createDirectories(noSched);
        for (String f : List.of("config.json", "diffusion_pytorch_model.safetensors"))
            Files.copy(model.resolve(f), noSched.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        r = ddpm("sample", "--model", noSched.toString());
        assertNotEquals(0, r.code);
        assertTrue(r.err.contains("scheduler_config.json"), r.err);
        r = ddpm("bpd", "--model", model.toString(), "--data-dir", wrongData.toString(), "--limit", "1");
        assertNotEquals(0, r.code);
        assertTrue(r.err.contains("the data is 1x12x12 but the model expects 1x8x8"), r.err);
        r = ddpm("sample", "--model", dir.resolve("nowhere").toString());
        assertNotEquals(0, r.code);
        assertTrue(r.err.contains("model folder not found"), r.err);
        r = ddpm("sample", "--model", model.toString(), "-n", "0");
        assertNotEquals(0, r.code);
        assertTrue(r.err.contains("-n must be at least 1"), r.err);
        assertEquals(2, Main.execute("sample", "--no-such-option"), "usage errors exit with 2");
        r = ddpm("info", "--model", model.toString(), "--device=tpu");
        assertNotEquals(0, r.code);
        assertTrue(r.err.contains("tpu"), r.err);
    }
}
