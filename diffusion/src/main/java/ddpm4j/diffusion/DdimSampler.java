// SPDX-License-Identifier: Apache-2.0
// DDIM (Song et al. 2021, Eq. 12) with S of the T steps and stochasticity eta, through the same fused step kernel as
// Algorithm 2. Pairs with DdpmSampler and SamplerTest.
package ddpm4j.diffusion;

import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;

/**
 * Timesteps as diffusers' "leading" spacing: t_i = i * (T / S), visited from the largest; the step after t = 0 goes
 * to alphaBar = 1. With x_0 = (x_t - sqrt(1 - aB_t) eps) / sqrt(aB_t) (clipped if configured) and
 * sigma = eta sqrt((1 - aB_prev) / (1 - aB_t)) sqrt(1 - aB_t / aB_prev):
 * x_prev = sqrt(aB_prev) x_0 + sqrt(1 - aB_prev - sigma^2) eps' + sigma z, where eps' is re-derived from the
 * (clipped) x_0 as guided-diffusion's ddim_sample does; this makes the step linear in (x_0, x_t).
 */
public final class DdimSampler implements Sampler {
    private final NoiseSchedule schedule;
    private final int[] timesteps;
    private final double eta;
    private final boolean clip;

    /**
     * @param steps S, between 1 and T
     * @param eta   0 for deterministic DDIM, 1 for DDPM-like noise
     */
    public DdimSampler(NoiseSchedule schedule, int steps, double eta) {
        int T = schedule.steps();
        if (steps < 1 || steps > T)
            throw new IllegalArgumentException("DDIM steps must be in [1, " + T + "], got " + steps);
        if (!(eta >= 0)) throw new IllegalArgumentException("DDIM eta must be >= 0, got " + eta);
        this.schedule = schedule;
        this.eta = eta;
        this.clip = schedule.config().clipSample();
        int ratio = T / steps;
        timesteps = new int[steps];
        for (int i = 0; i < steps; i++) timesteps[i] = (steps - 1 - i) * ratio;
    }

    @Override
    public int[] timesteps() { return timesteps.clone(); }

    /** (c0, c1, mu0, muT, sigma) for the step from t to prev (prev < 0: alphaBar_prev = 1). */
    float[] coefs(int t, int prev, int n) {
        double ab = schedule.alphaBar(t), abPrev = prev >= 0 ? schedule.alphaBar(prev) : 1.0;
        double sigma = eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev);
        double dir = Math.sqrt(Math.max(0, 1 - abPrev - sigma * sigma));
        double sq1m = Math.sqrt(1 - ab);
        float[] row = {(float) (1 / Math.sqrt(ab)), (float) Math.sqrt(1 / ab - 1),
                (float) (Math.sqrt(abPrev) - dir * Math.sqrt(ab) / sq1m), (float) (dir / sq1m), (float) sigma};
        float[] out = new float[5 * n];
        for (int i = 0; i < n; i++) System.arraycopy(row, 0, out, 5 * i, 5);
        return out;
    }

    @Override
    public Tensor denoise(EpsModel model, Tensor xt, int fromT, Generator gen, StepObserver observer) {
        schedule.check(fromT);
        Tensor x = xt.copy().detachFromScope();
        try {
            for (int i = 0; i < timesteps.length; i++) {
                if (timesteps[i] > fromT) continue;
                Tensor out = step(model, x, i, gen, observer);
                x.close();
                x = out;
            }
        } catch (RuntimeException e) {
            x.close();
            throw e;
        }
        return x;
    }

    /** {@inheritDoc} Step i goes from {@code timesteps()[i]} to the next one (to alphaBar = 1 after the last). */
    @Override
    public Tensor step(EpsModel model, Tensor xt, int i, Generator gen, StepObserver observer) {
        if (i < 0 || i >= timesteps.length)
            throw new IllegalArgumentException("step " + i + " is out of range [0, " + (timesteps.length - 1) + "]");
        int t = timesteps[i], prev = i + 1 < timesteps.length ? timesteps[i + 1] : -1;
        float[] c = coefs(t, prev, xt.dim(0));
        return FusedStep.run(model, xt, t, c, c[4] > 0, clip, gen, observer);
    }
}
