// SPDX-License-Identifier: Apache-2.0
// One recorded op in the autograd graph: what produced a tensor, from which inputs, with which saved tensors.
package ddpm4j.core.autograd;

import ddpm4j.core.Op;
import ddpm4j.core.Tensor;

/** Inputs may contain nulls (optional arguments such as a missing bias). */
public record Node(Op op, Tensor[] inputs, Tensor[] saved) {}
