// SPDX-License-Identifier: Apache-2.0
// The bound (Eq. 5, 13) of a dummy model on fixed noise against an independent float64 numpy computation
// (scripts/golden/diffusion_golden.py), for both variance types; plus the decoder's edge bins by hand and the
// per-step distortion (Fig. 5) of two predictors whose error has a closed form.
package ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.testing.Close;
import ddpm4j.core.testing.TestBackends;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VariationalBoundTest {
    static final EpsModel DUMMY = (x, t) -> x.mul(0.8).add(0.01 * t[0]).tanh();

    private static void check(String key) throws Exception {
        Map<String, Object> g = Golden.map(Golden.load(), key);
        int T = ((Number) g.get("T")).intValue();
        var cfg = new SchedulerConfig(T, ((Number) g.get("beta_start")).doubleValue(), ((Number) g.get("beta_end")).doubleValue(),
                "linear", (String) g.get("variance_type"), (Boolean) g.get("clip"), 1.0, "epsilon");
        int[] shape = Golden.ints(g.get("shape"));
        int[] pixels = Golden.ints(g.get("pixels"));
        float[] x0 = new float[pixels.length];
        for (int i = 0; i < x0.length; i++) x0[i] = pixels[i] / 127.5f - 1f;
        Backend be = TestBackends.reference();
        var r = new VariationalBound(new NoiseSchedule(cfg)).compute(DUMMY, be, x0, shape, (t, count) -> {
            float[] e = new float[count];
            for (int k = 0; k < count; k++) e[k] = (float) (1.5 * Math.sin(0.37 * k + 1.3 * t));
            return e;
        });
        // float32 network outputs against float64 ones: agreement to ~1e-5 relative
        Close.assertClose(key + " prior", Golden.doubles(g.get("prior")), r.prior(), 1e-9, 1e-6);
        Close.assertClose(key + " decoder L_0", Golden.doubles(g.get("decoder")), r.decoder(), 1e-6, 1e-4);
        Close.assertClose(key + " per-step terms", Golden.doubles(g.get("steps")), r.steps(), 1e-6, 1e-4);
        Close.assertClose(key + " total", Golden.doubles(g.get("total")), r.total(), 1e-6, 1e-5);
        double sum = r.meanPrior();
        for (double v : r.steps()) sum += v;
        assertEquals(r.meanTotal(), sum, 1e-9, "total = prior + all step terms");
    }

    @Test
    void fixedSmallWithClippingMatchesFloat64Reference() throws Exception { check("vb_small"); }

    @Test
    void fixedLargeWithoutClippingMatchesFloat64Reference() throws Exception { check("vb_large"); }

    @Test
    void decoderEdgeBinsAreOpen() {
        // x = -1: P = Phi((x + 1/255 - mean) / std), the whole left tail; x = 1: the whole right tail
        double std = 0.01, logScale = Math.log(std);
        double left = VariationalBound.discretizedLogLikelihood(-1, -1, logScale);
        assertEquals(Math.log(VariationalBound.approxStdNormalCdf(1.0 / 255 / std)), left, 1e-12);
        double right = VariationalBound.discretizedLogLikelihood(1, 1, logScale);
        assertEquals(left, right, 1e-12, "symmetric edges");
        double mid = VariationalBound.discretizedLogLikelihood(0.00392156862745098, 0.00392156862745098, logScale);
        double cdf = VariationalBound.approxStdNormalCdf(1.0 / 255 / std);
        assertEquals(Math.log(2 * cdf - 1), mid, 1e-12, "a middle bin integrates from -1/255 to +1/255");
        assertTrue(left > mid, "an open bin holds more mass than a closed one");
        // KL of equal Gaussians is 0; of N(1, 1) against N(0, 1) is 1/2
        assertEquals(0, VariationalBound.normalKl(0.3, -2, 0.3, -2), 1e-15);
        assertEquals(0.5, VariationalBound.normalKl(1, 0, 0, 0), 1e-15);
    }

    /**
     * Distortion of the predicted x_0 at each step: a predictor of zero noise gives x0Hat = x_t / sqrt(aB_t), whose
     * squared error is (1 - aB_t) / aB_t * eps^2 (unclipped); the oracle that returns the true noise gives zero.
     */
    @Test
    void perStepDistortionMatchesClosedForms() {
        int T = 20;
        var cfg = new SchedulerConfig(T, 1e-3, 0.2, "linear", "fixed_small", false, 1.0, "epsilon");
        NoiseSchedule ns = new NoiseSchedule(cfg);
        int[] shape = {2, 1, 3, 3};
        float[] x0 = new float[18];
        for (int i = 0; i < x0.length; i++) x0[i] = (float) Math.cos(0.7 * i);
        VariationalBound.NoiseSource noise = (t, count) -> {
            float[] e = new float[count];
            for (int k = 0; k < count; k++) e[k] = (float) Math.sin(0.37 * k + 1.3 * t);
            return e;
        };
        Backend be = TestBackends.reference();
        var zero = new VariationalBound(ns, false).compute((x, t) -> x.mul(0.0), be, x0, shape, noise);
        for (int t = 0; t < T; t++) {
            float[] e = noise.noise(t, x0.length);
            double ab = ns.alphaBar(t), expected = 0;
            for (float v : e) expected += (1 - ab) / ab * v * v;
            expected /= e.length;
            assertEquals(expected, zero.stepMse()[t], 1e-5 * expected + 1e-9, "zero predictor, t=" + t);
        }
        var oracle = new VariationalBound(ns, false).compute((x, t) -> {
            // eps = (x_t - sqrt(aB) x_0) / sqrt(1 - aB), from the same x_0
            float[] xt = x.toFloatArray(), eps = new float[xt.length];
            for (int k = 0; k < xt.length; k++) {
                eps[k] = (float) ((xt[k] - ns.sqrtAlphaBar(t[0]) * x0[k]) / ns.sqrtOneMinusAlphaBar(t[0]));
            }
            return ddpm4j.core.Tensor.of(be, eps, x.shape());
        }, be, x0, shape, noise);
        for (int t = 0; t < T; t++) assertTrue(oracle.stepMse()[t] < 1e-8, "oracle, t=" + t + ": " + oracle.stepMse()[t]);
        assertTrue(zero.stepMse()[T - 1] > 100 * zero.stepMse()[0], "distortion grows with t");
    }
}
