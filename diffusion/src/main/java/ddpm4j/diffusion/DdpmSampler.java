// SPDX-License-Identifier: Apache-2.0
// Algorithm 2 of Ho et al. 2020 (ancestral sampling), one fused backend kernel per step (Backend.ancestralStep).
// Pairs with NoiseSchedule (coefficients) and SamplerTest (a seeded loop with a dummy model, pinned).
package ddpm4j.diffusion;

import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;

/**
 * x_T ~ N(0, I); for t = T-1 .. 0 (diffusers indices): z ~ N(0, I) if t > 0 else 0;
 * x_{t-1} = mu~(x_t, x_0(eps)) + sigma_t z, with x_0 clipped to [-1, 1] when the config says {@code clip_sample}
 * (diffusers' DDPMScheduler.step, posterior-mean form of Alg. 2, line 4) and sigma_t^2 = beta-tilde_t or beta_t.
 */
public final class DdpmSampler implements Sampler {
    private final NoiseSchedule schedule;
    private final boolean clip;

    public DdpmSampler(NoiseSchedule schedule) { this(schedule, schedule.config().clipSample()); }

    public DdpmSampler(NoiseSchedule schedule, boolean clip) {
        this.schedule = schedule;
        this.clip = clip;
    }

    @Override
    public int[] timesteps() {
        int[] ts = new int[schedule.steps()];
        for (int i = 0; i < ts.length; i++) ts[i] = ts.length - 1 - i;
        return ts;
    }

    @Override
    public Tensor denoise(EpsModel model, Tensor xt, int fromT, Generator gen, StepObserver observer) {
        schedule.check(fromT);
        checkClipRange();
        Tensor x = xt.copy().detachFromScope();
        try {
            for (int t = fromT; t >= 0; t--) {
                Tensor out = reverseStep(model, x, t, gen, observer);
                x.close();
                x = out;
            }
        } catch (RuntimeException e) {
            x.close();
            throw e;
        }
        return x;
    }

    /** {@inheritDoc} Step i goes from t = T - 1 - i to t - 1. */
    @Override
    public Tensor step(EpsModel model, Tensor xt, int i, Generator gen, StepObserver observer) {
        if (i < 0 || i >= schedule.steps())
            throw new IllegalArgumentException("step " + i + " is out of range [0, " + (schedule.steps() - 1) + "]");
        checkClipRange();
        return reverseStep(model, xt, schedule.steps() - 1 - i, gen, observer);
    }

    private void checkClipRange() {
        if (clip && schedule.config().clipSampleRange() != 1.0)
            throw new IllegalArgumentException("the fused step clips x_0 to [-1, 1]; clip_sample_range "
                    + schedule.config().clipSampleRange() + " is not supported");
    }

    /**
     * x_{t-1} from x_t (Alg. 2, lines 3-4), in a new tensor outside every scope; x_t is left as it is. z ~ N(0, I) for
     * t > 0, none at the last step; the fused kernel computes mu0 * clip(c0 x_t - c1 eps) + muT * x_t + sigma z.
     */
    private Tensor reverseStep(EpsModel model, Tensor x, int t, Generator gen, StepObserver observer) {
        return FusedStep.run(model, x, t, schedule.ancestralCoefs(t, x.dim(0)), t > 0, clip, gen, observer);
    }
}
