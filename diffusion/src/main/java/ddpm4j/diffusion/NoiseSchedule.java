// SPDX-License-Identifier: Apache-2.0
// The forward process q(x_t | x_0) of Ho et al. 2020 (Eq. 2-4) and its posterior q(x_{t-1} | x_t, x_0) (Eq. 6-7):
// every constant computed in float64 and kept as float32 too. Pairs with SchedulerConfig and NoiseScheduleTest.
package ddpm4j.diffusion;

import ddpm4j.core.Backend;
import ddpm4j.core.Tensor;

/**
 * Schedule constants indexed by the diffusers timestep {@code t = 0 .. T-1}, which is the paper's step {@code t + 1}
 * (so index 0 is the paper's t = 1, whose reverse step is the decoder and adds no noise).
 *
 * <ul>
 *   <li>{@code beta}, {@code alpha = 1 - beta}, {@code alphaBar = prod alpha}, {@code alphaBarPrev} (1 at t = 0)</li>
 *   <li>{@code sqrt(alphaBar)}, {@code sqrt(1 - alphaBar)}, {@code 1/sqrt(alphaBar)}, {@code sqrt(1/alphaBar - 1)}</li>
 *   <li>posterior variance {@code betaTilde = beta (1 - alphaBarPrev) / (1 - alphaBar)} (Eq. 7), its log clipped
 *       at t = 0 to the value at t = 1 (betaTilde is 0 there), and the posterior-mean coefficients of x_0 and x_t</li>
 * </ul>
 */
public final class NoiseSchedule {
    private final SchedulerConfig config;
    private final int T;
    private final double[] beta, alpha, alphaBar, alphaBarPrev, sqrtAlphaBar, sqrtOneMinusAlphaBar, sqrtRecipAlphaBar,
            sqrtRecipM1AlphaBar, posteriorVariance, posteriorLogVarianceClipped, posteriorMeanCoef1, posteriorMeanCoef2;

    public NoiseSchedule(SchedulerConfig config) {
        this.config = config;
        T = config.numTrainTimesteps();
        beta = betas(config);
        alpha = new double[T];
        alphaBar = new double[T];
        alphaBarPrev = new double[T];
        sqrtAlphaBar = new double[T];
        sqrtOneMinusAlphaBar = new double[T];
        sqrtRecipAlphaBar = new double[T];
        sqrtRecipM1AlphaBar = new double[T];
        posteriorVariance = new double[T];
        posteriorLogVarianceClipped = new double[T];
        posteriorMeanCoef1 = new double[T];
        posteriorMeanCoef2 = new double[T];
        double prod = 1;
        for (int t = 0; t < T; t++) {
            alpha[t] = 1 - beta[t];
            alphaBarPrev[t] = prod;
            prod *= alpha[t];
            alphaBar[t] = prod;
            sqrtAlphaBar[t] = Math.sqrt(prod);
            sqrtOneMinusAlphaBar[t] = Math.sqrt(1 - prod);
            sqrtRecipAlphaBar[t] = 1 / Math.sqrt(prod);
            sqrtRecipM1AlphaBar[t] = Math.sqrt(1 / prod - 1);
            // Eq. 7: mu~ = coef1 x_0 + coef2 x_t, beta~ = beta (1 - alphaBarPrev) / (1 - alphaBar)
            posteriorVariance[t] = beta[t] * (1 - alphaBarPrev[t]) / (1 - prod);
            posteriorMeanCoef1[t] = beta[t] * Math.sqrt(alphaBarPrev[t]) / (1 - prod);
            posteriorMeanCoef2[t] = (1 - alphaBarPrev[t]) * Math.sqrt(alpha[t]) / (1 - prod);
        }
        // log(0) at t = 0: use the t = 1 value there, as the original code and diffusers do
        for (int t = 0; t < T; t++)
            posteriorLogVarianceClipped[t] = Math.log(t == 0 ? posteriorVariance[Math.min(1, T - 1)] : posteriorVariance[t]);
    }

    /** The paper's linear schedule with T = 1000. */
    public static NoiseSchedule linear() { return new NoiseSchedule(SchedulerConfig.paperLinear()); }

    static double[] betas(SchedulerConfig c) {
        int n = c.numTrainTimesteps();
        double[] b = new double[n];
        switch (c.betaSchedule()) {
            case "linear" -> {
                for (int i = 0; i < n; i++) b[i] = c.betaStart() + (c.betaEnd() - c.betaStart()) * i / (n - 1);
            }
            case "scaled_linear" -> {
                double s0 = Math.sqrt(c.betaStart()), s1 = Math.sqrt(c.betaEnd());
                for (int i = 0; i < n; i++) { double s = s0 + (s1 - s0) * i / (n - 1); b[i] = s * s; }
            }
            case "squaredcos_cap_v2" -> {
                // Nichol and Dhariwal 2021, Eq. 17: alphaBar(t) = cos^2((t/T + s) / (1 + s) * pi/2), s = 0.008;
                // beta_t = 1 - alphaBar(t) / alphaBar(t - 1), capped at 0.999 against the singularity at t = T
                for (int i = 0; i < n; i++)
                    b[i] = Math.min(1 - cosAlphaBar((i + 1.0) / n) / cosAlphaBar((double) i / n), 0.999);
            }
            default -> throw new IllegalArgumentException("unknown beta_schedule " + c.betaSchedule());
        }
        return b;
    }

    private static double cosAlphaBar(double u) {
        double c = Math.cos((u + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    public SchedulerConfig config() { return config; }

    /** T, the number of diffusion steps. */
    public int steps() { return T; }

    /** Throws a clear error unless {@code 0 <= t < T}. */
    public int check(int t) {
        if (t < 0 || t >= T)
            throw new IllegalArgumentException("timestep " + t + " is out of range [0, " + (T - 1) + "] (T = " + T + ")");
        return t;
    }

    public double beta(int t) { return beta[check(t)]; }
    public double alpha(int t) { return alpha[check(t)]; }
    public double alphaBar(int t) { return alphaBar[check(t)]; }
    public double alphaBarPrev(int t) { return alphaBarPrev[check(t)]; }
    public double sqrtAlphaBar(int t) { return sqrtAlphaBar[check(t)]; }
    public double sqrtOneMinusAlphaBar(int t) { return sqrtOneMinusAlphaBar[check(t)]; }
    public double sqrtRecipAlphaBar(int t) { return sqrtRecipAlphaBar[check(t)]; }
    public double sqrtRecipM1AlphaBar(int t) { return sqrtRecipM1AlphaBar[check(t)]; }
    /** beta-tilde_t (Eq. 7); 0 at t = 0. */
    public double posteriorVariance(int t) { return posteriorVariance[check(t)]; }
    public double posteriorLogVarianceClipped(int t) { return posteriorLogVarianceClipped[check(t)]; }
    /** Coefficient of x_0 in the posterior mean (Eq. 7). */
    public double posteriorMeanCoef1(int t) { return posteriorMeanCoef1[check(t)]; }
    /** Coefficient of x_t in the posterior mean (Eq. 7). */
    public double posteriorMeanCoef2(int t) { return posteriorMeanCoef2[check(t)]; }

    /**
     * The reverse-process variance sigma_t^2 of Algorithm 2: beta-tilde_t ({@code fixed_small}) or beta_t
     * ({@code fixed_large}).
     */
    public double sigmaSquared(int t) {
        return config.varianceType().equals("fixed_large") ? beta(t) : posteriorVariance(t);
    }

    /**
     * log sigma_t^2 as the bound uses it (the original code's {@code model_log_variance}): fixed_small gives the
     * clipped log beta-tilde; fixed_large gives log beta_t with beta-tilde_1 in place of beta_1 at t = 0.
     */
    public double modelLogVariance(int t) {
        check(t);
        if (config.varianceType().equals("fixed_large"))
            return Math.log(t == 0 ? posteriorVariance[Math.min(1, T - 1)] : beta[t]);
        return posteriorLogVarianceClipped[t];
    }

    /** The named constant as float32 values (T). Names: the accessor names above, e.g. "alphaBar". */
    public float[] f32(String name) {
        double[] d = switch (name) {
            case "beta" -> beta;
            case "alpha" -> alpha;
            case "alphaBar" -> alphaBar;
            case "alphaBarPrev" -> alphaBarPrev;
            case "sqrtAlphaBar" -> sqrtAlphaBar;
            case "sqrtOneMinusAlphaBar" -> sqrtOneMinusAlphaBar;
            case "sqrtRecipAlphaBar" -> sqrtRecipAlphaBar;
            case "sqrtRecipM1AlphaBar" -> sqrtRecipM1AlphaBar;
            case "posteriorVariance" -> posteriorVariance;
            case "posteriorLogVarianceClipped" -> posteriorLogVarianceClipped;
            case "posteriorMeanCoef1" -> posteriorMeanCoef1;
            case "posteriorMeanCoef2" -> posteriorMeanCoef2;
            default -> throw new IllegalArgumentException("unknown schedule constant '" + name + "'");
        };
        float[] f = new float[T];
        for (int i = 0; i < T; i++) f[i] = (float) d[i];
        return f;
    }

    /** The named constant as a float32 tensor of shape (T) on {@code be}. */
    public Tensor tensor(Backend be, String name) { return Tensor.of(be, f32(name), T); }

    /** Per-sample q_sample coefficients: {sqrt(alphaBar_t_i)} and {sqrt(1 - alphaBar_t_i)} as float32. */
    public float[][] qSampleCoefs(int[] t) {
        float[] a = new float[t.length], b = new float[t.length];
        for (int i = 0; i < t.length; i++) {
            a[i] = (float) sqrtAlphaBar(t[i]);
            b[i] = (float) sqrtOneMinusAlphaBar(t[i]);
        }
        return new float[][] {a, b};
    }

    /**
     * Rows (c0, c1, mu0, muT, sigma) of {@link Backend#ancestralStep} for Algorithm 2 at step t (same t for n
     * samples): x_0 = c0 x_t - c1 eps; x_{t-1} = mu0 x_0 + muT x_t + sigma z, sigma = 0 at t = 0.
     */
    public float[] ancestralCoefs(int t, int n) {
        float[] row = {(float) sqrtRecipAlphaBar(t), (float) sqrtRecipM1AlphaBar(t), (float) posteriorMeanCoef1(t),
                (float) posteriorMeanCoef2(t), t == 0 ? 0f : (float) Math.sqrt(sigmaSquared(t))};
        float[] out = new float[5 * n];
        for (int i = 0; i < n; i++) System.arraycopy(row, 0, out, 5 * i, 5);
        return out;
    }
}
