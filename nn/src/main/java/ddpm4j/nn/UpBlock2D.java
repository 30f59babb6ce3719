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

    /**
     * Runs the block, taking skips from the end of {@code skips} (removing them; without autograd each is released
     * once used, see {@link Module#release}).
     */
    public Tensor forward(Tensor x, Tensor temb, List<Tensor> skips) {
        Tensor h = x;
        for (int i = 0; i < resnets.size(); i++) {
            Tensor skip = skips.removeLast();
            if (skip.dim(2) != h.dim(2) || skip.dim(3) != h.dim(3))
                throw new IllegalArgumentException("UpBlock2D: skip connection " + Shape.str(skip.shape())
                        + " does not match the upsampled " + Shape.str(h.shape()) + " (input size not divisible?)");
            Tensor cat = Ops.concat(1, h, skip);
            release(skip);
            if (h != x) release(h);
            ResnetBlock2D res = resnets.get(i);
            h = scoped(cat, () -> res.forward(cat, temb));
            release(cat);
            if (attentions != null) {
                AttentionBlock attn = attentions.get(i);
                Tensor r = h, a = scoped(r, () -> attn.forward(r));
                if (a != h) release(h);
                h = a;
            }
        }
        if (upsampler == null) return h;
        Tensor y = upsampler.forward(h);
        if (h != x) release(h);
        return y;
    }
}
