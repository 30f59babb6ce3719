// SPDX-License-Identifier: Apache-2.0
// `ddpm classifier` and `ddpm eval` end to end on tiny inputs: a classifier trained on 64 IDX images for one epoch, a
// tiny 28x28 U-Net sampled with 2 DDIM steps; the JSON figures are consistent, --samples re-reads what --save-samples
// wrote, and a missing classifier folder is a clear error.
package ddpm4j.diffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.io.Json;
import ddpm4j.diffusion.SchedulerConfig;
import ddpm4j.nn.UNet2DModel;
import ddpm4j.nn.UNetConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalCliTest {
    @TempDir Path dir;

    @SuppressWarnings("unchecked")
    static Map<String, Object> json(String s) throws Exception { return (Map<String, Object>) Json.parse(s, "eval output"); }

    @Test
    void classifierThenEval() throws Exception {
        Path data = dir.resolve("data"), clf = dir.resolve("clf"), model = dir.resolve("model");
        CliTest.idx(data, 64, 28);
        var cfg = new UNetConfig(28, 1, 1, false, false, 1, List.of("DownBlock2D", "DownBlock2D"),
                List.of("UpBlock2D", "UpBlock2D"), List.of(8, 8), 1, 1, 0, 0, "silu", null, 4, null, 1e-6, true);
        try (UNet2DModel m = new UNet2DModel(cfg, Backends.get("cpu"), new Generator(5))) {
            ModelIo.save(m, SchedulerConfig.paperLinear().withTimesteps(20), model, false);
        }
        CliTest.Run t = CliTest.ddpm("classifier", "--device=cpu", "--data-dir", data.toString(), "--out", clf.toString(),
                "--epochs", "1", "--batch", "32", "--warmup", "1");
        assertEquals(0, t.code(), t.err());
        assertTrue(t.out().contains("on 64 MNIST test images"), t.out());
        Map<String, Object> saved = json(Files.readString(clf.resolve("classifier.json")));
        assertEquals(64L, saved.get("train_images"));

        Path samples = dir.resolve("gen.idx"), grid = dir.resolve("grid.png"), out = dir.resolve("q.json");
        CliTest.Run e = CliTest.ddpm("eval", "--device=cpu", "--model", model.toString(), "--classifier", clf.toString(),
                "--data-dir", data.toString(), "--n", "5", "--batch", "3", "--sampler", "ddim", "--steps", "2", "--seed", "0",
                "--json", "--save-samples", samples.toString(), "--grid", grid.toString(), "--out", out.toString());
        assertEquals(0, e.code(), e.err());
        Map<String, Object> j = json(e.out());
        assertEquals(j, json(Files.readString(out)));
        assertEquals(5L, j.get("generated"));
        assertEquals(64L, j.get("test_images"));
        assertEquals(32L, j.get("floor_half_size"));
        assertEquals(2L, j.get("steps"));
        long total = 0;
        for (Object c : (List<?>) j.get("class_histogram")) total += ((Number) c).longValue();
        assertEquals(5, total);
        double share = ((Number) j.get("confident_share")).doubleValue(), fd = ((Number) j.get("frechet_distance")).doubleValue();
        assertTrue(share >= 0 && share <= 1 && share * 5 == Math.rint(share * 5), "share " + share);
        assertTrue(fd > 0 && Double.isFinite(fd), "Frechet " + fd);
        assertTrue(Files.size(grid) > 0 && e.err().contains("5/5 generated"), e.err());
        assertEquals(16 + 5 * 784, Files.size(samples));

        // the saved (quantized) samples give the same figures without generating again
        CliTest.Run again = CliTest.ddpm("eval", "--device=cpu", "--samples", samples.toString(), "--classifier", clf.toString(),
                "--data-dir", data.toString(), "--n", "5", "--json");
        assertEquals(0, again.code(), again.err());
        Map<String, Object> k = json(again.out());
        for (String key : List.of("class_histogram", "confident_share", "frechet_distance", "frechet_floor_test_halves",
                "frechet_floor_test_random_halves"))
            assertEquals(j.get(key), k.get(key), key);

        // a time limit stops after the first batch that passes it
        CliTest.Run capped = CliTest.ddpm("eval", "--device=cpu", "--model", model.toString(), "--classifier", clf.toString(),
                "--data-dir", data.toString(), "--n", "9", "--batch", "2", "--steps", "1", "--max-seconds", "1e-9", "--json");
        assertEquals(0, capped.code(), capped.err());
        assertEquals(2L, json(capped.out()).get("generated"));
        assertTrue(capped.err().contains("--max-seconds 0 reached; evaluating the 2 images made"), capped.err());

        CliTest.Run bad = CliTest.ddpm("eval", "--device=cpu", "--model", model.toString(), "--classifier", dir.resolve("none").toString(),
                "--data-dir", data.toString(), "--n", "2", "--steps", "1");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("classifier.json") && bad.err().contains("ddpm classifier"), bad.err());
    }
}
