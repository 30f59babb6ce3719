// SPDX-License-Identifier: Apache-2.0
// 2-D convolution over NCHW with a KCRS weight and bias, per-side padding (diffusers' downsample_padding=0 pads
// right/bottom only).
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Shape;
import ddpm4j.core.Tensor;

/** Square-kernel convolution; x: (N, in, H, W) -> (N, out, Ho, Wo). Parameters {@code weight} (out, in, k, k), {@code bias}. */
public final class Conv2d extends Module {
    private final int in, out, kernel, stride, padTop, padLeft, padBottom, padRight;
    private final Tensor weight, bias;

    /** Symmetric padding. */
    public Conv2d(Backend be, Generator gen, int in, int out, int kernel, int stride, int pad) {
        this(be, gen, in, out, kernel, stride, pad, pad, pad, pad);
    }

    /** Per-side padding (top, left, bottom, right); PyTorch's default initialisation, or zeros when gen is null. */
    public Conv2d(Backend be, Generator gen, int in, int out, int kernel, int stride,
                  int padTop, int padLeft, int padBottom, int padRight) {
        this.in = in;
        this.out = out;
        this.kernel = kernel;
        this.stride = stride;
        this.padTop = padTop;
        this.padLeft = padLeft;
        this.padBottom = padBottom;
        this.padRight = padRight;
        long fanIn = (long) in * kernel * kernel;
        weight = registerParameter("weight", uniformInit(be, gen, fanIn, out, in, kernel, kernel));
        bias = registerParameter("bias", uniformInit(be, gen, fanIn, out));
    }

    public Tensor forward(Tensor x) {
        if (x.rank() != 4 || x.dim(1) != in)
            throw new IllegalArgumentException("Conv2d(" + in + " -> " + out + ", " + kernel + "x" + kernel + "): input "
                    + Shape.str(x.shape()) + " should be (N, " + in + ", H, W)");
        return x.conv2d(weight, bias, stride, padTop, padLeft, padBottom, padRight);
    }

    public int inChannels() { return in; }

    public int outChannels() { return out; }
}
