// SPDX-License-Identifier: Apache-2.0
// Adam, clipping and EMA against step-by-step float64 computations written out here.
package ddpm4j.core.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ddpm4j.core.Backend;
import ddpm4j.core.Tensor;
import ddpm4j.core.testing.Close;
import ddpm4j.core.testing.Rand;
import ddpm4j.core.testing.TestBackends;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class OptimTest {
    static Stream<Backend> backends() { return TestBackends.all(); }

    @ParameterizedTest
    @MethodSource("backends")
    void adamWithWarmupAndClippingMatchesHandComputation(Backend be) {
        float[] p0 = Rand.normalArray(1, 7), g0 = Rand.normalArray(2, 7), q0 = Rand.normalArray(3, 33), h0 = Rand.normalArray(4, 33);
        Tensor p = Tensor.of(be, p0, 7).requiresGrad(true), q = Tensor.of(be, q0, 3, 11).requiresGrad(true);
        p.setGrad(Tensor.of(be, g0, 7));
        q.setGrad(Tensor.of(be, h0, 3, 11));
        Adam adam = Adam.ddpm(List.of(p, q), 2e-4, 5);
        double[] ep = toD(p0), eq = toD(q0), mp = new double[7], vp = new double[7], mq = new double[33], vq = new double[33];
        for (int step = 1; step <= 3; step++) {
            double norm = 0;
            for (float g : g0) norm += g * g;
            for (float g : h0) norm += g * g;
            norm = Math.sqrt(norm);
            double scale = Math.min(1, 1.0 / (norm + 1e-6));
            try (GradClip.Result clip = GradClip.byGlobalNorm(List.of(p, q), 1.0)) {
                assertEquals(norm, clip.norm().item(), 1e-4 * norm);
                assertEquals(scale, clip.scale().item(), 1e-6);
                adam.step(clip.scale());
            }
            double lr = 2e-4 * Math.min(1, step / 5.0);
            adamRef(ep, g0, mp, vp, scale, lr, step);
            adamRef(eq, h0, mq, vq, scale, lr, step);
        }
        Close.assertClose("p", ep, p.toDoubleArray(), 1e-6, 1e-5);
        Close.assertClose("q", eq, q.toDoubleArray(), 1e-6, 1e-5);
        adam.close();
        p.close();
        q.close();
    }

    private static void adamRef(double[] p, float[] g, double[] m, double[] v, double scale, double lr, int t) {
        for (int i = 0; i < p.length; i++) {
            double gi = g[i] * scale;
            m[i] = 0.9 * m[i] + 0.1 * gi;
            v[i] = 0.999 * v[i] + 0.001 * gi * gi;
            p[i] -= lr * (m[i] / (1 - Math.pow(0.9, t))) / (Math.sqrt(v[i] / (1 - Math.pow(0.999, t))) + 1e-8);
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void emaTracksParameters(Backend be) {
        float[] a = Rand.normalArray(5, 33), b = Rand.normalArray(6, 33);
        Tensor p = Tensor.of(be, a, 33);
        try (Ema ema = new Ema(List.of(p), 0.9f)) {
            p.copyFrom(Tensor.of(be, b, 33));
            ema.update();
            ema.update();
            double[] expect = new double[33];
            for (int i = 0; i < 33; i++) {
                double s = a[i];
                s = 0.9 * s + 0.1 * b[i];
                s = 0.9 * s + 0.1 * b[i];
                expect[i] = s;
            }
            Close.assertClose("ema", expect, ema.shadow().get(0).toDoubleArray(), 1e-6, 1e-5);
        }
    }

    private static double[] toD(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
