// SPDX-License-Identifier: Apache-2.0
// One reverse step through the backend's fused ancestral kernel, shared by DdpmSampler (Alg. 2) and DdimSampler:
// eps from the network, then x_prev = mu0 * clip(c0 x_t - c1 eps) + muT * x_t + sigma z in one kernel.
package ddpm4j.diffusion;

import ddpm4j.core.GradMode;
import ddpm4j.core.Generator;
import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;

final class FusedStep {
    private FusedStep() {}

    /**
     * @param coef  the kernel's coefficients, one row (c0, c1, mu0, muT, sigma) per sample: N * 5 values
     * @param noise whether z ~ N(0, I) is drawn from {@code gen} (after the network ran); else z = 0
     * @return x_prev in a new tensor outside every scope; {@code x} is left as it is
     */
    static Tensor run(EpsModel model, Tensor x, int t, float[] coef, boolean noise, boolean clip, Generator gen,
                      Sampler.StepObserver observer) {
        int n = x.dim(0), d = (int) (x.numel() / n);
        try (GradMode g = GradMode.off(); Scope s = Scope.open()) {
            int[] ts = new int[n];
            java.util.Arrays.fill(ts, t);
            Tensor eps = model.forward(x, ts);
            if (observer != null) observer.onStep(t, x, eps);
            Tensor z = noise ? Tensor.randn(x.backend(), gen, x.shape()) : Tensor.zeros(x.backend(), x.shape());
            Tensor c = Tensor.of(x.backend(), coef, n, 5);
            Tensor out = Tensor.empty(x.backend(), x.dtype(), x.shape());
            x.backend().ancestralStep(out, x.contiguous(), eps.contiguous(), z, c, n, d, clip);
            return out.detachFromScope();
        }
    }
}
