// SPDX-License-Identifier: Apache-2.0
// Model folders in diffusers layout: config.json + diffusion_pytorch_model.safetensors (F32 or F16) +
// scheduler_config.json. Loading checks the scheduler config is there before touching the weights.
package ddpm4j.diffusion.cli;

import ddpm4j.core.Backend;
import ddpm4j.core.io.AtomicFiles;
import ddpm4j.core.io.Json;
import ddpm4j.core.io.SafeTensors;
import ddpm4j.core.io.SafeTensorsEntry;
import ddpm4j.diffusion.SchedulerConfig;
import ddpm4j.nn.DiffusersCheckpoint;
import ddpm4j.nn.UNet2DModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

final class ModelIo {
    private ModelIo() {}

    /** A loaded model folder. */
    record Loaded(UNet2DModel model, SchedulerConfig scheduler, Path dir) implements AutoCloseable {
        @Override public void close() { model.close(); }
    }

    static Loaded load(Path dir, Backend be) throws IOException {
        if (!Files.isDirectory(dir))
            throw new NoSuchFileException(dir.toString(), null, "model folder not found (expected config.json, "
                    + DiffusersCheckpoint.WEIGHTS + " and " + SchedulerConfig.FILE + ")");
        SchedulerConfig sc = SchedulerConfig.read(dir);
        UNet2DModel m = DiffusersCheckpoint.load(dir, be);
        m.eval();
        return new Loaded(m, sc, dir);
    }

    /** Writes the model's current weights (F32, or F16 to halve the size) and both configs, each file atomically. */
    static void save(UNet2DModel model, SchedulerConfig sc, Path dir, boolean f16) throws IOException {
        Files.createDirectories(dir);
        var entries = new LinkedHashMap<String, SafeTensorsEntry>();
        for (var e : model.stateDict().entrySet()) {
            int[] s = e.getValue().shape();
            long[] l = new long[s.length];
            for (int i = 0; i < s.length; i++) l[i] = s[i];
            float[] v = e.getValue().toFloatArray();
            entries.put(e.getKey(), f16 ? SafeTensorsEntry.f16(l, v) : SafeTensorsEntry.f32(l, v));
        }
        SafeTensors.write(dir.resolve(DiffusersCheckpoint.WEIGHTS), entries, Map.of("format", "pt"));
        AtomicFiles.writeString(dir.resolve(DiffusersCheckpoint.CONFIG), Json.write(model.config().toJson()) + "\n");
        sc.write(dir);
    }
}
