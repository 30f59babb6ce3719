// SPDX-License-Identifier: Apache-2.0
// `ddpm eps` logic: reads sample/timestep, writes eps matching PyTorch; bad input files give errors naming the key.
package ddpm4j.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.SafeTensors;
import ddpm4j.core.io.SafeTensorsEntry;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EpsCommandTest {
    final Backend be = Backends.get("reference");
    @TempDir Path tmp;

    @Test
    void writesEpsMatchingPyTorch() throws Exception {
        Path model = Golden.dir("unet-small"), out = tmp.resolve("eps.safetensors");
        // io.safetensors itself is a valid input: it holds sample (F32) and timestep (I64); batch 1 splits it
        var r = EpsCommand.run(model, model.resolve("io.safetensors"), out, be, 1);
        assertTrue(r.toString().startsWith("eps (2, 3, 8, 8) on reference"), r.toString());
        try (SafeTensors io = SafeTensors.open(model.resolve("io.safetensors")); SafeTensors got = SafeTensors.open(out)) {
            assertArrayEquals(io.shape("eps"), got.shape("eps"));
            Golden.assertRel("eps", io.readF32("eps"), got.readF32("eps"), 1e-4);
        }
    }

    @Test
    void floatTimestepsAreAccepted() throws Exception {
        Path model = Golden.dir("unet-small"), in = tmp.resolve("in.safetensors"), out = tmp.resolve("out.safetensors");
        try (SafeTensors io = SafeTensors.open(model.resolve("io.safetensors"))) {
            var m = new LinkedHashMap<String, SafeTensorsEntry>();
            m.put("sample", SafeTensorsEntry.f32(io.shape("sample"), io.readF32("sample")));
            m.put("timestep", SafeTensorsEntry.f32(new long[] {2}, new float[] {7, 863}));
            SafeTensors.write(in, m, Map.of());
            EpsCommand.run(model, in, out, be, 8);
            try (SafeTensors got = SafeTensors.open(out)) {
                Golden.assertRel("eps", io.readF32("eps"), got.readF32("eps"), 1e-4);
            }
        }
    }

    @Test
    void badInputsNameTheKey() throws Exception {
        Path model = Golden.dir("unet-small"), in = tmp.resolve("bad.safetensors"), out = tmp.resolve("o.safetensors");
        var m = new LinkedHashMap<String, SafeTensorsEntry>();
        m.put("sample", SafeTensorsEntry.f32(new long[] {1, 1, 8, 8}, new float[64]));
        m.put("timestep", SafeTensorsEntry.i64(new long[] {1}, new long[] {3}));
        SafeTensors.write(in, m, Map.of());
        var e = assertThrows(FormatException.class, () -> EpsCommand.run(model, in, out, be, 1));
        assertTrue(e.getMessage().contains("'sample' has 1 channels") && e.getMessage().contains("in_channels = 3"), e.getMessage());
        m.put("sample", SafeTensorsEntry.f32(new long[] {2, 3, 8, 8}, new float[384]));
        m.put("timestep", SafeTensorsEntry.i64(new long[] {3}, new long[] {1, 2, 3}));
        SafeTensors.write(in, m, Map.of());
        e = assertThrows(FormatException.class, () -> EpsCommand.run(model, in, out, be, 1));
        assertTrue(e.getMessage().contains("'timestep' has shape [3], expected (2,)"), e.getMessage());
        m.remove("timestep");
        SafeTensors.write(in, m, Map.of());
        e = assertThrows(FormatException.class, () -> EpsCommand.run(model, in, out, be, 1));
        assertTrue(e.getMessage().contains("expected tensors 'sample'") && e.getMessage().contains(in.toString()), e.getMessage());
    }
}
