// SPDX-License-Identifier: Apache-2.0
// Clipping by global gradient norm (torch.nn.utils.clip_grad_norm_): scale = min(1, maxNorm / (norm + 1e-6)),
// computed on the device as a one-element tensor that Adam multiplies into the gradients, so no host round trip.
package ddpm4j.core.optim;

import ddpm4j.core.Backend.ReduceOp;
import ddpm4j.core.GradMode;
import ddpm4j.core.Tensor;
import java.util.List;

/** Global-norm gradient clipping. */
public final class GradClip {
    private GradClip() {}

    /** The total norm and the factor to apply; both one-element tensors on the parameters' backend. */
    public record Result(Tensor norm, Tensor scale) implements AutoCloseable {
        @Override public void close() { norm.close(); scale.close(); }
    }

    public static Result byGlobalNorm(List<Tensor> params, double maxNorm) {
        try (GradMode g = GradMode.off()) {
            Tensor total = null;
            for (Tensor p : params) {
                Tensor grad = p.grad();
                if (grad == null) continue;
                Tensor sq = Tensor.empty(grad.backend(), grad.dtype(), 1, 1);
                grad.backend().reduce(ReduceOp.SUMSQ, sq, grad, 1, (int) grad.numel(), 1);
                if (total == null) total = sq;
                else { total.addInPlace(sq); sq.close(); }
            }
            if (total == null) throw new IllegalStateException("clip: no parameter has a gradient (was backward() called?)");
            Tensor norm = total.sqrt();
            total.close();
            Tensor denom = norm.add(1e-6), max = Tensor.scalar(norm.backend(), norm.dtype(), maxNorm);
            Tensor ratio = max.div(denom);
            denom.close();
            max.close();
            Tensor one = Tensor.scalar(norm.backend(), norm.dtype(), 1);
            Tensor scale = ratio.minimum(one);
            ratio.close();
            one.close();
            return new Result(norm.reshape(1), scale.reshape(1));
        }
    }
}
