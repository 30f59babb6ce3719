// SPDX-License-Identifier: Apache-2.0
// The variational bound of Ho et al. 2020 (Eq. 5, with the discretized decoder of Eq. 13) in bits/dim: the prior term
// L_T, the Gaussian KLs L_{t-1}, and the decoder NLL L_0, per image and per step, computed on the host in float64 from
// the network's float32 noise predictions; also the distortion of the predicted x_0 at each step (rate/distortion, the
// paper's Fig. 5). Pairs with VariationalBoundTest and scripts/golden/vb_golden.py.
package ddpm4j.diffusion;

import ddpm4j.core.Backend;
import ddpm4j.core.GradMode;
import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;

/**
 * For x_0 in [-1, 1] (pixels / 127.5 - 1), with diffusers indices t = 0 .. T-1 (paper's t + 1):
 * <ul>
 *   <li>prior: KL(q(x_T | x_0) || N(0, I))</li>
 *   <li>t >= 1: KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) with x_t = sqrt(aB_t) x_0 + sqrt(1 - aB_t) eps (Eq. 4),
 *       the model mean from the predicted (optionally clipped) x_0 and the fixed log variance
 *       {@link NoiseSchedule#modelLogVariance}</li>
 *   <li>t = 0: -log p(x_0 | x_1), a Gaussian integrated over the pixel's bin of width 2/255, the bins at -1 and 1 open
 *       to -inf and +inf (Eq. 13); the normal CDF uses the original code's tanh approximation</li>
 * </ul>
 * All terms are divided by D ln 2 (D = C H W) to give bits/dim; the total is their sum.
 */
public final class VariationalBound {
    /** Noise eps for the draw of x_t at step t, N * D values; lets tests use fixed noise. */
    @FunctionalInterface
    public interface NoiseSource {
        float[] noise(int t, int count);
    }

    /**
     * @param total per image: prior + all steps, bits/dim
     * @param prior per image: L_T, bits/dim
     * @param steps per step t (mean over images): L_0 at index 0, L_{t} (paper L_{t}) at t >= 1, bits/dim
     * @param decoder per image: L_0, bits/dim
     * @param stepMse per step t (mean over images): the mean squared error between x_0 and the x_0 predicted from
     *                x_t (clipped when the bound clips), on the [-1, 1] scale: the distortion of the paper's Fig. 5
     */
    public record Result(double[] total, double[] prior, double[] steps, double[] decoder, double[] stepMse) {
        /** Mean of the total over images. */
        public double meanTotal() { return mean(total); }

        public double meanPrior() { return mean(prior); }

        public double meanDecoder() { return mean(decoder); }

        static double mean(double[] v) {
            double s = 0;
            for (double x : v) s += x;
            return v.length == 0 ? Double.NaN : s / v.length;
        }
    }

    private final NoiseSchedule s;
    private final boolean clip;

    public VariationalBound(NoiseSchedule schedule) { this(schedule, schedule.config().clipSample()); }

    public VariationalBound(NoiseSchedule schedule, boolean clipDenoised) {
        this.s = schedule;
        this.clip = clipDenoised;
    }

    /**
     * The bound of a batch of images.
     *
     * @param x0    (N, C, H, W) values in [-1, 1] on the host
     * @param shape {N, C, H, W}
     */
    public Result compute(EpsModel model, Backend be, float[] x0, int[] shape, NoiseSource noise) {
        int n = shape[0], d = x0.length / n, T = s.steps();
        double perBit = d * Math.log(2);
        double[] total = new double[n], prior = new double[n], decoder = new double[n], steps = new double[T];
        double[] stepMse = new double[T];
        // 1. L_T = KL(N(sqrt(aB_T) x0, 1 - aB_T) || N(0, 1))
        double abT = s.alphaBar(T - 1), logVarT = Math.log(1 - abT);
        for (int i = 0; i < n; i++) {
            double kl = 0;
            for (int j = 0; j < d; j++) {
                double mean = Math.sqrt(abT) * x0[i * d + j];
                kl += normalKl(mean, logVarT, 0, 0);
            }
            prior[i] = kl / perBit;
            total[i] += prior[i];
        }
        // 2. every step t: draw x_t, predict eps, compare posteriors (t >= 1) or decode (t = 0)
        try (GradMode g = GradMode.off()) {
            for (int t = T - 1; t >= 0; t--) {
                float[] eps = noise.noise(t, n * d);
                double a = s.sqrtAlphaBar(t), b = s.sqrtOneMinusAlphaBar(t);
                float[] xt = new float[n * d];
                for (int k = 0; k < xt.length; k++) xt[k] = (float) (a * x0[k] + b * eps[k]);
                float[] epsHat;
                try (Scope sc = Scope.open()) {
                    int[] ts = new int[n];
                    java.util.Arrays.fill(ts, t);
                    epsHat = model.forward(Tensor.of(be, xt, shape), ts).toFloatArray();
                }
                double c0 = s.sqrtRecipAlphaBar(t), c1 = s.sqrtRecipM1AlphaBar(t);
                double m1 = s.posteriorMeanCoef1(t), m2 = s.posteriorMeanCoef2(t);
                double modelLogVar = s.modelLogVariance(t), postLogVar = s.posteriorLogVarianceClipped(t);
                double sum = 0, se = 0;
                for (int i = 0; i < n; i++) {
                    double term = 0;
                    for (int j = 0; j < d; j++) {
                        int k = i * d + j;
                        double x0Hat = c0 * xt[k] - c1 * epsHat[k];
                        if (clip) x0Hat = Math.max(-1, Math.min(1, x0Hat));
                        se += (x0Hat - x0[k]) * (x0Hat - x0[k]);
                        double modelMean = m1 * x0Hat + m2 * xt[k];
                        if (t == 0) term -= discretizedLogLikelihood(x0[k], modelMean, 0.5 * modelLogVar);
                        else term += normalKl(m1 * x0[k] + m2 * xt[k], postLogVar, modelMean, modelLogVar);
                    }
                    term /= perBit;
                    if (t == 0) decoder[i] = term;
                    total[i] += term;
                    sum += term;
                }
                steps[t] = sum / n;
                stepMse[t] = se / ((double) n * d);
            }
        }
        return new Result(total, prior, steps, decoder, stepMse);
    }

    /** KL(N(mean1, e^logVar1) || N(mean2, e^logVar2)) in nats, one dimension. */
    static double normalKl(double mean1, double logVar1, double mean2, double logVar2) {
        double dm = mean1 - mean2;
        return 0.5 * (-1 + logVar2 - logVar1 + Math.exp(logVar1 - logVar2) + dm * dm * Math.exp(-logVar2));
    }

    /** The original code's approximation of the standard normal CDF. */
    static double approxStdNormalCdf(double x) {
        return 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    /**
     * log P(x) of a pixel value x (a bin centre in [-1, 1]) under N(mean, e^(2 logScale)) integrated over
     * [x - 1/255, x + 1/255], with the edge bins open (Eq. 13). Probabilities floored at 1e-12 as in the original.
     */
    static double discretizedLogLikelihood(double x, double mean, double logScale) {
        double centered = x - mean, invStd = Math.exp(-logScale);
        double cdfPlus = approxStdNormalCdf(invStd * (centered + 1.0 / 255));
        double cdfMin = approxStdNormalCdf(invStd * (centered - 1.0 / 255));
        if (x < -0.999) return Math.log(Math.max(cdfPlus, 1e-12));
        if (x > 0.999) return Math.log(Math.max(1 - cdfMin, 1e-12));
        return Math.log(Math.max(cdfPlus - cdfMin, 1e-12));
    }
}
