// SPDX-License-Identifier: Apache-2.0
// Jazzer fuzz targets for the readers issue 7 lists beyond the raw formats: a diffusers config.json turned into a
// UNetConfig, a scheduler_config.json turned into a SchedulerConfig and its NoiseSchedule, and a trainer checkpoint
// loaded into a live trainer. `mvn test` replays the seeds (each target also mutates a valid document or checkpoint
// made in-process, so even an empty corpus reaches deep code); JAZZER_FUZZ=1 fuzzes (docs/FORMATS.md).
package ddpm4j.diffusion;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.FuzzChecks;
import ddpm4j.core.io.Json;
import ddpm4j.nn.UNet2DModel;
import ddpm4j.nn.UNetConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

class ConfigCheckpointFuzzTest {
    private static final Backend BE = Backends.get("cpu");
    private static final byte[] UNET_JSON = Json.write(Tiny.config().toJson()).getBytes(StandardCharsets.UTF_8);
    private static final byte[] SCHED_JSON = Json.write(SchedulerConfig.paperLinear().toJson()).getBytes(StandardCharsets.UTF_8);
    private static byte[] checkpoint;

    /** A valid document with a few fuzzer-chosen bytes overwritten, or the fuzzer's bytes as they are. */
    private static byte[] input(FuzzedDataProvider in, byte[] valid) {
        if (in.consumeBoolean()) return in.consumeRemainingAsBytes();
        byte[] b = valid.clone();
        int edits = in.consumeInt(1, 8);
        for (int i = 0; i < edits && in.remainingBytes() > 0; i++) b[in.consumeInt(0, b.length - 1)] = in.consumeByte();
        return b;
    }

    /** config.json bytes: a UNetConfig, or a FormatException naming the file. */
    @FuzzTest(maxDuration = "2m")
    void unetConfig(FuzzedDataProvider in) {
        byte[] data = input(in, UNET_JSON);
        try {
            UNetConfig.fromJson(Json.parse(data, "fuzz/config.json"), "fuzz/config.json");
        } catch (FormatException expected) {
            FuzzChecks.namesSource(expected, "fuzz/config.json");
        }
    }

    /** scheduler_config.json bytes: a SchedulerConfig whose NoiseSchedule builds, or a FormatException naming the file. */
    @FuzzTest(maxDuration = "2m")
    void schedulerConfig(FuzzedDataProvider in) {
        byte[] data = input(in, SCHED_JSON);
        SchedulerConfig c;
        try {
            c = SchedulerConfig.fromJson(Json.parse(data, "fuzz/scheduler_config.json"), "fuzz/scheduler_config.json");
        } catch (FormatException expected) {
            FuzzChecks.namesSource(expected, "fuzz/scheduler_config.json");
            return;
        }
        new NoiseSchedule(c);
    }

    /** Checkpoint bytes: loaded into a live trainer, or a FormatException naming the file. */
    @FuzzTest(maxDuration = "2m")
    void trainCheckpoint(FuzzedDataProvider in) throws IOException {
        Path dir = Files.createTempDirectory("ddpm4j-fuzz-ckpt");
        Path file = dir.resolve("checkpoint.safetensors");
        try (UNet2DModel m = Tiny.model(BE, 2); DdpmTrainer tr = Tiny.trainer(m, Tiny.images(6, 1), 1e-3, 3, BE)) {
            if (checkpoint == null) {
                tr.trainStep();
                TrainCheckpoint.save(tr, file);
                checkpoint = Files.readAllBytes(file);
            }
            Files.write(file, input(in, checkpoint));
            try {
                TrainCheckpoint.load(tr, file);
            } catch (FormatException expected) {
                FuzzChecks.namesSource(expected, file.toString());
            }
        } finally {
            try (var s = Files.list(dir)) {
                s.forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Files.deleteIfExists(dir);
        }
    }
}
