// SPDX-License-Identifier: Apache-2.0
// The module API: dotted names in diffusers' layout, parameter counts, train/eval and dropout, lifetime; and the
// U-Net's input checks (wrong channels, sizes it cannot halve, timestep count).
package ddpm4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.GradMode;
import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class ModuleTest {
    final Backend be = Backends.get("reference");

    static UNetConfig small() throws Exception { return DiffusersCheckpoint.readConfig(Golden.dir("unet-small")); }

    @Test
    void namesFollowDiffusersLayout() throws Exception {
        try (UNet2DModel m = new UNet2DModel(small(), be, new Generator(1))) {
            var names = m.namedParameters().keySet();
            for (String n : List.of("conv_in.weight", "time_embedding.linear_1.weight", "time_embedding.linear_2.bias",
                    "down_blocks.0.resnets.0.norm1.weight", "down_blocks.0.downsamplers.0.conv.weight",
                    "down_blocks.1.resnets.0.conv_shortcut.weight", "down_blocks.1.attentions.0.group_norm.bias",
                    "down_blocks.1.attentions.0.to_out.0.weight", "mid_block.resnets.1.time_emb_proj.weight",
                    "mid_block.attentions.0.to_v.bias", "up_blocks.0.resnets.1.conv_shortcut.bias",
                    "up_blocks.0.upsamplers.0.conv.weight", "up_blocks.1.resnets.1.conv2.weight", "conv_norm_out.weight",
                    "conv_out.bias"))
                assertTrue(names.contains(n), n + " missing from " + names);
            assertFalse(names.contains("down_blocks.1.downsamplers.0.conv.weight"), "the last level does not downsample");
            assertEquals(177_427, m.parameterCount());   // PyTorch's count for this config (io.safetensors metadata)
            assertEquals(m.namedParameters().keySet(), m.stateDict().keySet());
            for (Tensor p : m.parameters()) assertTrue(p.requiresGrad());
        }
    }

    @Test
    void dropoutOnlyInTraining() {
        try (Scope s = Scope.open(); GradMode g = GradMode.off()) {
            Dropout d = new Dropout(0.5, new Generator(3));
            Tensor x = Tensor.ones(be, 10_000);
            float[] y = d.forward(x).toFloatArray();
            int zeros = 0;
            for (float v : y) {
                if (v == 0) zeros++;
                else assertEquals(2.0f, v);   // inverted dropout scales kept values by 1/(1-p)
            }
            assertTrue(zeros > 4_700 && zeros < 5_300, zeros + " zeros of 10000 at p = 0.5");
            d.eval();
            assertSame(x, d.forward(x));
            assertThrows(IllegalArgumentException.class, () -> new Dropout(1.0, null));
        }
    }

    @Test
    void trainAndEvalReachEveryChild() throws Exception {
        try (UNet2DModel m = new UNet2DModel(small().withDropout(0.1), be, new Generator(1))) {
            assertTrue(m.isTraining());
            m.eval();
            assertFalse(m.children().get("mid_block").isTraining());
            assertFalse(m.children().get("up_blocks").children().get("1").isTraining());
            m.train(true);
            assertTrue(m.children().get("down_blocks").children().get("0").isTraining());
        }
    }

    @Test
    void closeFreesEveryParameter() throws Exception {
        UNet2DModel m = new UNet2DModel(small(), be, null);
        List<Tensor> ps = m.parameters();
        m.close();
        for (Tensor p : ps) assertTrue(p.isClosed());
        m.close();
    }

    @Test
    void badInputsNameShapeAndExpectation() throws Exception {
        try (UNet2DModel m = new UNet2DModel(small(), be, new Generator(1)); Scope s = Scope.open();
             GradMode g = GradMode.off()) {
            var e = assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(be, 1, 1, 8, 8), new long[] {1}));
            assertTrue(e.getMessage().contains("(1, 1, 8, 8) has 1 channels, the model expects in_channels = 3"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(be, 1, 3, 7, 8), new long[] {1}));
            assertTrue(e.getMessage().contains("size 7x8") && e.getMessage().contains("multiples of 2"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(be, 2, 3, 8, 8), new long[] {1, 2, 3}));
            assertTrue(e.getMessage().contains("3 timesteps for a batch of 2"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(be, 3, 8, 8), new long[] {1}));
            assertTrue(e.getMessage().contains("should be (N, C, H, W)"), e.getMessage());
            // one timestep broadcasts over the batch, and a non-square size that halves works
            Tensor x = Tensor.zeros(be, 2, 3, 4, 6);
            assertEquals(List.of(2, 3, 4, 6), java.util.Arrays.stream(m.forward(x, new long[] {5}).shape()).boxed().toList());
        }
    }
}
