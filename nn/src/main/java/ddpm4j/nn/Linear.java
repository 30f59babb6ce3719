// SPDX-License-Identifier: Apache-2.0
// Fully connected layer y = x W^T + b, W: (out, in) as PyTorch/diffusers store it.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;

/** {@code y = x W^T + b} over the last axis; x: (..., in) -> (..., out). Parameters {@code weight}, {@code bias}. */
public final class Linear extends Module {
    private final int in, out;
    private final Tensor weight, bias;

    /** PyTorch's default initialisation from {@code gen}, or zeros when {@code gen} is null. */
    public Linear(Backend be, Generator gen, int in, int out) {
        this.in = in;
        this.out = out;
        weight = registerParameter("weight", uniformInit(be, gen, in, out, in));
        bias = registerParameter("bias", uniformInit(be, gen, in, out));
    }

    public Tensor forward(Tensor x) {
        if (x.rank() < 1 || x.dim(-1) != in)
            throw new IllegalArgumentException("Linear(" + in + " -> " + out + "): input " + ddpm4j.core.Shape.str(x.shape())
                    + " should end in " + in + " features");
        Tensor wt = weight.transpose(0, 1), xw = x.matmul(wt);
        Tensor y = xw.add(bias);
        release(wt, xw);
        return y;
    }

    public Tensor weight() { return weight; }

    public Tensor bias() { return bias; }
}
