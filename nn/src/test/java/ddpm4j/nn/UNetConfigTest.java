// SPDX-License-Identifier: Apache-2.0
// config.json parsing: the hub's CIFAR-10 config, defaults, round trip, and errors that name the field.
package ddpm4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.Json;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UNetConfigTest {
    @SuppressWarnings("unchecked")
    static Map<String, Object> cifarJson() throws Exception {
        return (Map<String, Object>) Json.parse(Golden.dir("unet-cifar10").resolve("config.json"));
    }

    @Test
    void hubCifar10ConfigParses() throws Exception {
        UNetConfig c = UNetConfig.fromJson(cifarJson(), "cifar");
        assertEquals(UNetConfig.cifar10(), c);
        assertEquals(512, c.timeEmbedDim());
        assertEquals(8, c.sizeMultiple());
        assertEquals(256, c.headDim(256));   // attention_head_dim null: one head
        assertEquals(1e-6, c.normEps());
        assertEquals(0, c.downsamplePadding());
    }

    @Test
    void roundTripThroughJson() throws Exception {
        UNetConfig c = UNetConfig.fromJson(Json.parse(Golden.dir("unet-small").resolve("config.json")), "small");
        assertEquals(8, c.headDim(32));
        assertEquals(1.5, c.midBlockScaleFactor());
        UNetConfig back = UNetConfig.fromJson(Json.parse(Json.write(c.toJson()), "written"), "written");
        assertEquals(c, back);
    }

    @Test
    void diffusersDefaultsApplyToMissingFields() throws Exception {
        UNetConfig c = UNetConfig.fromJson(Map.of(), "empty");
        assertEquals(List.of(224, 448, 672, 896), c.blockOutChannels());
        assertEquals(8, c.attentionHeadDim());
        assertEquals(1e-5, c.normEps());
        assertTrue(c.flipSinToCos());
        assertEquals(0.0, c.freqShift());
        assertEquals(1, c.downsamplePadding());
    }

    private static String error(String key, Object value) throws Exception {
        Map<String, Object> m = new LinkedHashMap<>(cifarJson());
        m.put(key, value);
        return assertThrows(FormatException.class, () -> UNetConfig.fromJson(m, "config.json")).getMessage();
    }

    private static void expectError(String part, String key, Object value) throws Exception {
        String msg = error(key, value);
        assertTrue(msg.contains(part), "expected \"" + part + "\" in: " + msg);
    }

    @Test
    void unsupportedValuesNameTheField() throws Exception {
        expectError("'down_block_types'", "down_block_types", List.of("DownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D", "DownBlock2D"));
        expectError("'up_block_types' has 1 entries", "up_block_types", List.of("UpBlock2D"));
        expectError("'time_embedding_type'", "time_embedding_type", "fourier");
        expectError("'act_fn'", "act_fn", "gelu");
        expectError("'resnet_time_scale_shift'", "resnet_time_scale_shift", "scale_shift");
        expectError("not divisible by 'norm_num_groups' = 24", "norm_num_groups", 24);
        expectError("'attention_head_dim' = 96", "attention_head_dim", 96);
        expectError("field 'layers_per_block' is \"two\", expected an integer", "layers_per_block", "two");
        expectError("'block_out_channels'", "block_out_channels", List.of(128, 256.5, 256, 256));
        expectError("'class_embed_type'", "class_embed_type", "timestep");
        expectError("'dropout'", "dropout", 1.5);
        expectError("unknown field(s) [cross_attention_dim]", "cross_attention_dim", 768);
        expectError("'_class_name'", "_class_name", "UNet2DConditionModel");
        expectError("'downsample_type'", "downsample_type", "resnet");
        expectError("'freq_shift'", "freq_shift", 64);
    }
}
