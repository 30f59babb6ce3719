// SPDX-License-Identifier: Apache-2.0
// What DdpmSampler (Algorithm 2) and DdimSampler share: the reverse loop from pure noise or from a given x_t, seeded,
// with an observer for progressive generation (paper Fig. 6) and interpolation (Sec. 4.4).
package ddpm4j.diffusion;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;

/** A reverse-process sampler. Results are deterministic given the generator's state and the backend. */
public interface Sampler {
    /** Sees x_t and epsTheta(x_t, t) before each reverse step (both freed after the call returns). */
    @FunctionalInterface
    interface StepObserver {
        void onStep(int t, Tensor xt, Tensor eps);
    }

    /** The timesteps visited, first (noisiest) first. */
    int[] timesteps();

    /**
     * Runs the reverse process from {@code xt} at timestep {@code fromT} (a pure-noise x_T when {@code fromT} is
     * T - 1) down to x_0; {@code xt} is not modified. Returns x_0 (N, C, H, W), owned by the caller.
     */
    Tensor denoise(EpsModel model, Tensor xt, int fromT, Generator gen, StepObserver observer);

    /**
     * One reverse step, the i-th of the loop {@link #denoise} runs from x_T: from {@code xt} at {@code timesteps()[i]}
     * to the next timestep visited (x_0 after the last). Returns a new tensor outside every scope, owned by the caller;
     * {@code xt} is neither modified nor closed. Benchmarks time the sampler through this.
     */
    Tensor step(EpsModel model, Tensor xt, int i, Generator gen, StepObserver observer);

    /** x_T ~ N(0, I) of {@code shape} drawn from {@code gen}, then {@link #denoise} from T - 1. */
    default Tensor sample(EpsModel model, Backend be, int[] shape, Generator gen, StepObserver observer) {
        Tensor xT = Tensor.randn(be, gen, shape).detachFromScope();
        try {
            return denoise(model, xT, timesteps()[0], gen, observer);
        } finally {
            xT.close();
        }
    }

    /** The predicted x_0 = (x_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t) (Eq. 15), optionally clipped. */
    static Tensor predictX0(NoiseSchedule s, Tensor xt, Tensor eps, int t, boolean clip) {
        Tensor x0 = xt.mul(s.sqrtRecipAlphaBar(t)).sub(eps.mul(s.sqrtRecipM1AlphaBar(t)));
        if (!clip) return x0;
        double r = s.config().clipSampleRange();
        Tensor lo = Tensor.scalar(x0.backend(), x0.dtype(), -r), hi = Tensor.scalar(x0.backend(), x0.dtype(), r);
        return x0.maximum(lo).minimum(hi);
    }
}
