// SPDX-License-Identifier: Apache-2.0
// Issue 7: a training checkpoint edited by hand or by an attacker (metadata values, tensor sizes) is refused at load
// with a FormatException naming the file, and the trainer is left usable. Complements the fuzzers (FORMATS.md).
package ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.SafeTensors;
import ddpm4j.core.io.SafeTensorsEntry;
import ddpm4j.nn.UNet2DModel;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class CheckpointHostileTest {
    final Backend be = Backends.get("cpu");
    @TempDir Path tmp;

    record Edit(String what, Consumer<Map<String, String>> meta, Consumer<Map<String, SafeTensorsEntry>> tensors) {
        @Override public String toString() { return what; }
    }

    static Stream<Arguments> edits() {
        return Stream.of(
                new Edit("step -5", m -> m.put("step", "-5"), t -> {}),
                new Edit("step not a number", m -> m.put("step", "five"), t -> {}),
                new Edit("adam_steps -1", m -> m.put("adam_steps", "-1"), t -> {}),
                new Edit("epoch -1", m -> m.put("epoch", "-1"), t -> {}),
                new Edit("position -1", m -> m.put("position", "-1"), t -> {}),
                new Edit("gen_offset -4", m -> m.put("gen_offset", "-4"), t -> {}),
                new Edit("no format", m -> m.remove("format"), t -> {}),
                new Edit("no gen_seed", m -> m.remove("gen_seed"), t -> {}),
                new Edit("batch size 3", m -> m.put("batch_size", "3"), t -> {}),
                new Edit("adam moment too short", m -> {}, t -> t.put("adam.m.0", SafeTensorsEntry.f32(new long[] {1}, new float[] {0f}))),
                new Edit("adam moment missing", m -> {}, t -> t.remove("adam.v.3")),
                new Edit("model tensor too long", m -> {}, t -> t.put("model.conv_in.bias", SafeTensorsEntry.f32(new long[] {9}, new float[9]))),
                new Edit("ema tensor missing", m -> {}, t -> t.remove("ema.conv_out.weight"))
        ).map(Arguments::of);
    }

    @ParameterizedTest
    @MethodSource("edits")
    void editedCheckpointIsRefusedAtLoad(Edit edit) throws Exception {
        try (UNet2DModel m = Tiny.model(be, 2); DdpmTrainer tr = Tiny.trainer(m, Tiny.images(6, 1), 1e-3, 3, be)) {
            tr.trainStep();
            Path good = tmp.resolve("good.safetensors"), bad = tmp.resolve("bad.safetensors");
            TrainCheckpoint.save(tr, good);
            var entries = new LinkedHashMap<String, SafeTensorsEntry>();
            Map<String, String> meta;
            try (SafeTensors st = SafeTensors.open(good)) {
                for (String n : st.names()) entries.put(n, SafeTensorsEntry.f32(st.shape(n), st.readF32(n)));
                meta = new LinkedHashMap<>(st.metadata());
            }
            edit.meta().accept(meta);
            edit.tensors().accept(entries);
            SafeTensors.write(bad, entries, meta);
            var e = assertThrows(FormatException.class, () -> TrainCheckpoint.load(tr, bad), edit.what());
            assertTrue(e.getMessage().contains(bad.toString()), "message names the file: " + e.getMessage());
            assertEquals(1, tr.step(), "a refused file must leave the trainer as it was");
            // the trainer still loads the good file and trains on
            TrainCheckpoint.load(tr, good);
            assertEquals(1, tr.step());
            tr.trainStep();
        }
    }
}
