// SPDX-License-Identifier: Apache-2.0
// diffusers' DownBlock2D / AttnDownBlock2D: layers_per_block residual blocks (each followed by attention in the Attn
// variant) and, except at the last level, a stride-2 downsampler. Every output is kept as a skip connection.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import java.util.List;

/** Parameters {@code attentions.i.*} (Attn variant), {@code resnets.i.*}, {@code downsamplers.0.conv.*}. */
public final class DownBlock2D extends Module {
    private final ModuleList<AttentionBlock> attentions;
    private final ModuleList<ResnetBlock2D> resnets;
    private final Downsample2D downsampler;

    public DownBlock2D(UNetConfig cfg, Backend be, Generator gen, Generator dropoutGen, boolean attention, int in,
                       int out, boolean addDownsample) {
        int groups = cfg.normNumGroups();
        double eps = cfg.normEps();
        attentions = attention ? registerModule("attentions", new ModuleList<>()) : null;
        resnets = registerModule("resnets", new ModuleList<>());
        for (int i = 0; i < cfg.layersPerBlock(); i++) {
            resnets.add(new ResnetBlock2D(be, gen, i == 0 ? in : out, out, cfg.timeEmbedDim(), groups, eps,
                    cfg.dropout(), 1.0, dropoutGen));
            if (attention) attentions.add(new AttentionBlock(be, gen, out, cfg.headDim(out), groups, eps, 1.0));
        }
        downsampler = addDownsample
                ? registerModule("downsamplers", new ModuleList<Downsample2D>()).add(new Downsample2D(be, gen, out, cfg.downsamplePadding()))
                : null;
    }

    /** Runs the block, appending each residual (and the downsampled) output to {@code skips}. */
    public Tensor forward(Tensor x, Tensor temb, List<Tensor> skips) {
        for (int i = 0; i < resnets.size(); i++) {
            ResnetBlock2D res = resnets.get(i);
            Tensor in = x;
            x = scoped(in, () -> res.forward(in, temb));   // the input is a skip connection: it stays
            if (attentions != null) {
                AttentionBlock attn = attentions.get(i);
                Tensor r = x, a = scoped(r, () -> attn.forward(r));
                if (a != x) release(x);
                x = a;
            }
            skips.add(x);
        }
        if (downsampler != null) {
            x = downsampler.forward(x);
            skips.add(x);
        }
        return x;
    }
}
