// SPDX-License-Identifier: Apache-2.0
// diffusers' Downsample2D with use_conv: a 3x3 stride-2 convolution; padding 0 means TensorFlow-style "SAME" padding
// of one row/column at the bottom/right only (the original DDPM code), otherwise symmetric padding.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;

/** Halves H and W; parameter {@code conv}. */
public final class Downsample2D extends Module {
    private final Conv2d conv;

    public Downsample2D(Backend be, Generator gen, int channels, int padding) {
        conv = registerModule("conv", padding == 0
                ? new Conv2d(be, gen, channels, channels, 3, 2, 0, 0, 1, 1)
                : new Conv2d(be, gen, channels, channels, 3, 2, padding));
    }

    public Tensor forward(Tensor x) { return conv.forward(x); }
}
