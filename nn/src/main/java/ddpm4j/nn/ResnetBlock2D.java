// SPDX-License-Identifier: Apache-2.0
// diffusers' ResnetBlock2D (the DDPM residual block): GroupNorm-SiLU-conv, plus the projected time embedding,
// GroupNorm-SiLU-dropout-conv, a 1x1 shortcut when channels change, and (x + h) / output_scale_factor.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Shape;
import ddpm4j.core.Tensor;

/** Parameters: norm1, conv1, time_emb_proj, norm2, conv2 and (when in != out) conv_shortcut. */
public final class ResnetBlock2D extends Module {
    private final int in, out;
    private final double outputScaleFactor;
    private final GroupNorm norm1, norm2;
    private final Conv2d conv1, conv2, convShortcut;
    private final Linear timeEmbProj;
    private final Dropout dropout;

    public ResnetBlock2D(Backend be, Generator gen, int in, int out, int tembChannels, int groups, double eps,
                         double dropoutP, double outputScaleFactor, Generator dropoutGen) {
        this.in = in;
        this.out = out;
        this.outputScaleFactor = outputScaleFactor;
        norm1 = registerModule("norm1", new GroupNorm(be, groups, in, eps));
        conv1 = registerModule("conv1", new Conv2d(be, gen, in, out, 3, 1, 1));
        timeEmbProj = registerModule("time_emb_proj", new Linear(be, gen, tembChannels, out));
        norm2 = registerModule("norm2", new GroupNorm(be, groups, out, eps));
        dropout = registerModule("dropout", new Dropout(dropoutP, dropoutGen));
        conv2 = registerModule("conv2", new Conv2d(be, gen, out, out, 3, 1, 1));
        convShortcut = in != out ? registerModule("conv_shortcut", new Conv2d(be, gen, in, out, 1, 1, 0)) : null;
    }

    /** x: (N, in, H, W), temb: (N, tembChannels) -> (N, out, H, W). */
    public Tensor forward(Tensor x, Tensor temb) {
        if (x.rank() != 4 || x.dim(1) != in)
            throw new IllegalArgumentException("ResnetBlock2D(" + in + " -> " + out + "): input " + Shape.str(x.shape())
                    + " should be (N, " + in + ", H, W)");
        // each temporary is released as soon as it is dead (a no-op while autograd records: see Module.release)
        // 1. h = conv1(SiLU(norm1(x))) + time_emb_proj(SiLU(temb)), broadcast over H and W
        Tensor a = norm1.forwardSilu(x);
        Tensor h1 = conv1.forward(a);
        release(a);
        Tensor ts = temb.silu();
        Tensor t = timeEmbProj.forward(ts);
        Tensor tv = t.reshape(t.dim(0), out, 1, 1);
        Tensor h2 = h1.add(tv);
        release(ts, t, tv, h1);
        // 2. h = conv2(dropout(SiLU(norm2(h))))
        Tensor b = norm2.forwardSilu(h2);
        release(h2);
        Tensor d = dropout.forward(b);
        Tensor h = conv2.forward(d);
        release(d, b);
        // 3. (shortcut(x) + h) / output_scale_factor
        Tensor skip = convShortcut == null ? x : convShortcut.forward(x);
        Tensor y = skip.add(h);
        release(h);
        if (skip != x) release(skip);
        if (outputScaleFactor == 1) return y;
        Tensor z = y.div(outputScaleFactor);
        release(y);
        return z;
    }
}
