// SPDX-License-Identifier: Apache-2.0
// diffusers' UpBlock2D / AttnUpBlock2D: layers_per_block + 1 residual blocks, each on the concatenation [x, skip] with
// the most recent skip connection (attention after each in the Attn variant), then, except at the last level, an
// upsampler.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Ops;
import ddpm4j.core.Shape;
import ddpm4j.core.Tensor;
import java.util.List;

/** Parameters {@code attentions.i.*} (Attn variant), {@code resnets.i.*}, {@code upsamplers.0.conv.*}. */
public final class UpBlock2D extends Module {
    private final ModuleList<AttentionBlock> attentions;
    private final ModuleList<ResnetBlock2D> resnets;
    private final Upsample2D upsampler;

    /**
     * @param in   channels of this level's down-path input (the skip of the last resnet)
     * @param out  channels of this level
     * @param prev channels coming from the coarser level
     */
    public UpBlock2D(UNetConfig cfg, Backend be, Generator gen, Generator dropoutGen, boolean attention, int in,
                     int out, int prev, boolean addUpsample) {
        int groups = cfg.normNumGroups(), layers = cfg.layersPerBlock() + 1;
        double eps = cfg.normEps();
        attentions = attention ? registerModule("attentions", new ModuleList<>()) : null;
        resnets = registerModule("resnets", new ModuleList<>());
        for (int i = 0; i < layers; i++) {
            int skip = i == layers - 1 ? in : out;
            int resIn = i == 0 ? prev : out;
            resnets.add(new ResnetBlock2D(be, gen, resIn + skip, out, cfg.timeEmbedDim(), groups, eps, cfg.dropout(),
                    1.0, dropoutGen));
            if (attention) attentions.add(new AttentionBlock(be, gen, out, cfg.headDim(out), groups, eps, 1.0));
        }
        upsampler = addUpsample ? registerModule("upsamplers", new ModuleList<Upsample2D>()).add(new Upsample2D(be, gen, out)) : null;
    }

    /** Number of skip connections this block consumes. */
    public int skipsNeeded() { return resnets.size(); }

    /** Runs the block, taking skips from the end of {@code skips} (removing them). */
    public Tensor forward(Tensor x, Tensor temb, List<Tensor> skips) {
        for (int i = 0; i < resnets.size(); i++) {
            Tensor skip = skips.removeLast();
            if (skip.dim(2) != x.dim(2) || skip.dim(3) != x.dim(3))
                throw new IllegalArgumentException("UpBlock2D: skip connection " + Shape.str(skip.shape())
                        + " does not match the upsampled " + Shape.str(x.shape()) + " (input size not divisible?)");
            x = resnets.get(i).forward(Ops.concat(1, x, skip), temb);
            if (attentions != null) x = attentions.get(i).forward(x);
        }
        return upsampler == null ? x : upsampler.forward(x);
    }
}
