// SPDX-License-Identifier: Apache-2.0
// diffusers' UNetMidBlock2D at the coarsest level: resnet, attention (unless add_attention is false), resnet, all with
// output scale mid_block_scale_factor.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;

/** Parameters {@code attentions.0.*} and {@code resnets.0/1.*}. */
public final class MidBlock2D extends Module {
    private final AttentionBlock attention;
    private final ModuleList<ResnetBlock2D> resnets;

    public MidBlock2D(UNetConfig cfg, Backend be, Generator gen, Generator dropoutGen, int channels) {
        double s = cfg.midBlockScaleFactor(), eps = cfg.normEps();
        int groups = cfg.normNumGroups();
        int attnGroups = cfg.attnNormNumGroups() == null ? groups : cfg.attnNormNumGroups();
        attention = cfg.addAttention()
                ? registerModule("attentions", new ModuleList<AttentionBlock>())
                        .add(new AttentionBlock(be, gen, channels, cfg.headDim(channels), attnGroups, eps, s))
                : null;
        resnets = registerModule("resnets", new ModuleList<>());
        for (int i = 0; i < 2; i++)
            resnets.add(new ResnetBlock2D(be, gen, channels, channels, cfg.timeEmbedDim(), groups, eps, cfg.dropout(), s,
                    dropoutGen));
    }

    public Tensor forward(Tensor x, Tensor temb) {
        Tensor h = scoped(x, () -> resnets.get(0).forward(x, temb));
        if (attention != null) {
            Tensor r = h, a = scoped(r, () -> attention.forward(r));
            if (a != h) release(h);
            h = a;
        }
        Tensor in = h, y = scoped(in, () -> resnets.get(1).forward(in, temb));
        release(h);
        return y;
    }
}
