// SPDX-License-Identifier: Apache-2.0
// Saving and loading diffusers folders: round trip, old attention names, and errors for a config that does not match
// the weights, truncated or corrupt files and missing files.
package ddpm4j.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.SafeTensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    final Backend be = Backends.get("reference");
    @TempDir Path tmp;

    private Path copyOf(String golden) throws Exception {
        Path d = Files.createDirectories(tmp.resolve(golden));
        for (String f : new String[] {DiffusersCheckpoint.CONFIG, DiffusersCheckpoint.WEIGHTS})
            Files.copy(Golden.dir(golden).resolve(f), d.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        return d;
    }

    @Test
    void saveThenLoadGivesTheSameState() throws Exception {
        UNetConfig cfg = DiffusersCheckpoint.readConfig(Golden.dir("unet-small"));
        Path out = tmp.resolve("saved");
        try (UNet2DModel a = new UNet2DModel(cfg, be, new Generator(7))) {
            DiffusersCheckpoint.save(a, out);
            try (UNet2DModel b = DiffusersCheckpoint.load(out, be)) {
                assertEquals(a.config(), b.config());
                assertEquals(a.stateDict().keySet(), b.stateDict().keySet());
                for (var e : a.stateDict().entrySet())
                    assertArrayEquals(e.getValue().toFloatArray(), b.stateDict().get(e.getKey()).toFloatArray(), e.getKey());
            }
        }
        try (SafeTensors st = SafeTensors.open(out.resolve(DiffusersCheckpoint.WEIGHTS))) {
            assertTrue(st.contains("mid_block.attentions.0.to_out.0.weight"));
        }
    }

    @Test
    void oldAttentionNamesMapToNewOnes() throws Exception {
        assertEquals("mid_block.attentions.0.to_out.0.bias",
                DiffusersCheckpoint.canonicalName("mid_block.attentions.0.proj_attn.bias"));
        assertEquals("down_blocks.1.attentions.0.to_q.weight",
                DiffusersCheckpoint.canonicalName("down_blocks.1.attentions.0.query.weight"));
        assertEquals("down_blocks.1.resnets.0.conv1.weight",
                DiffusersCheckpoint.canonicalName("down_blocks.1.resnets.0.conv1.weight"));
        try (SafeTensors st = SafeTensors.open(Golden.dir("unet-small-bf16-legacy").resolve(DiffusersCheckpoint.WEIGHTS));
             UNet2DModel m = DiffusersCheckpoint.load(Golden.dir("unet-small-bf16-legacy"), be)) {
            assertTrue(st.contains("mid_block.attentions.0.query.weight"));
            float[] want = st.readF32("mid_block.attentions.0.query.weight");
            assertArrayEquals(want, m.stateDict().get("mid_block.attentions.0.to_q.weight").toFloatArray());
        }
    }

    @Test
    void configThatDoesNotMatchTheWeightsListsEveryKey() throws Exception {
        Path d = copyOf("unet-small");
        String cfg = Files.readString(d.resolve("config.json"));
        // one more channel level and wider blocks: missing, unexpected and mis-shaped keys at once
        Files.writeString(d.resolve("config.json"), cfg.replace("\"block_out_channels\": [\n    16,\n    32\n  ]",
                "\"block_out_channels\": [\n    16,\n    48\n  ]").replace("\"layers_per_block\": 1", "\"layers_per_block\": 2"));
        var e = assertThrows(FormatException.class, () -> DiffusersCheckpoint.load(d, be));
        String msg = e.getMessage();
        assertTrue(msg.contains(d.resolve(DiffusersCheckpoint.WEIGHTS).toString()), msg);
        assertTrue(msg.contains("missing keys:") && msg.contains("down_blocks.0.resnets.1.conv1.weight"), msg);
        assertTrue(msg.contains("mis-shaped keys:")
                && msg.contains("down_blocks.1.resnets.0.conv1.weight: file [32, 16, 3, 3], model [48, 16, 3, 3]"), msg);
        Files.writeString(d.resolve("config.json"), cfg.replace("\"layers_per_block\": 1", "\"layers_per_block\": 0"));
        assertTrue(assertThrows(FormatException.class, () -> DiffusersCheckpoint.load(d, be)).getMessage()
                .contains("'layers_per_block' is 0"));
    }

    @Test
    void truncatedOrMissingWeightsAreClearErrors() throws Exception {
        Path d = copyOf("unet-small");
        Path w = d.resolve(DiffusersCheckpoint.WEIGHTS);
        byte[] all = Files.readAllBytes(w);
        Files.write(w, java.util.Arrays.copyOf(all, all.length - 1000));
        var e = assertThrows(FormatException.class, () -> DiffusersCheckpoint.load(d, be));
        assertTrue(e.getMessage().contains(w.toString()) && e.getMessage().contains("truncated"), e.getMessage());
        Files.write(w, new byte[] {1, 2, 3});
        assertThrows(FormatException.class, () -> DiffusersCheckpoint.load(d, be));
        Files.delete(w);
        assertTrue(assertThrows(FormatException.class, () -> DiffusersCheckpoint.load(d, be)).getMessage()
                .contains(DiffusersCheckpoint.WEIGHTS + " is missing"));
        Files.delete(d.resolve("config.json"));
        assertTrue(assertThrows(FormatException.class, () -> DiffusersCheckpoint.load(d, be)).getMessage()
                .contains("config.json is missing"));
    }
}
