// SPDX-License-Identifier: Apache-2.0
// GroupNorm with affine weight/bias (PyTorch's nn.GroupNorm), optionally fused with the SiLU that follows it.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Shape;
import ddpm4j.core.Tensor;

/** Normalises each (sample, group) over its (C / groups) * H * W values; parameters {@code weight} = 1, {@code bias} = 0. */
public final class GroupNorm extends Module {
    private final int groups, channels;
    private final float eps;
    private final Tensor weight, bias;

    public GroupNorm(Backend be, int groups, int channels, double eps) {
        if (groups <= 0 || channels % groups != 0)
            throw new IllegalArgumentException("GroupNorm: " + channels + " channels do not divide into " + groups + " groups");
        this.groups = groups;
        this.channels = channels;
        this.eps = (float) eps;
        weight = registerParameter("weight", Tensor.ones(be, channels));
        bias = registerParameter("bias", Tensor.zeros(be, channels));
    }

    /** GroupNorm(x); x: (N, C, ...). */
    public Tensor forward(Tensor x) { return apply(x, false); }

    /** SiLU(GroupNorm(x)) in one fused op. */
    public Tensor forwardSilu(Tensor x) { return apply(x, true); }

    private Tensor apply(Tensor x, boolean silu) {
        if (x.rank() < 2 || x.dim(1) != channels)
            throw new IllegalArgumentException("GroupNorm(" + groups + ", " + channels + "): input " + Shape.str(x.shape())
                    + " should be (N, " + channels + ", ...)");
        return x.groupNorm(groups, weight, bias, eps, silu);
    }
}
