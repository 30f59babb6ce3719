// SPDX-License-Identifier: Apache-2.0
// The SiLU (swish) activation x * sigmoid(x), as a parameterless module.
package ddpm4j.nn;

import ddpm4j.core.Tensor;

/** {@code x * sigmoid(x)}. */
public final class SiLU extends Module {
    public Tensor forward(Tensor x) { return x.silu(); }
}
