// SPDX-License-Identifier: Apache-2.0
// diffusers' Upsample2D with use_conv: nearest-neighbour 2x upsampling, then a 3x3 convolution.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;

/** Doubles H and W; parameter {@code conv}. */
public final class Upsample2D extends Module {
    private final Conv2d conv;

    public Upsample2D(Backend be, Generator gen, int channels) {
        conv = registerModule("conv", new Conv2d(be, gen, channels, channels, 3, 1, 1));
    }

    public Tensor forward(Tensor x) {
        Tensor up = x.upsample2x();
        Tensor y = conv.forward(up);
        release(up);
        return y;
    }
}
