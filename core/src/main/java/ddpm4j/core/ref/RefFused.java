// SPDX-License-Identifier: Apache-2.0
// Reference definitions of the fused kernels: Philox fills, q_sample (Eq. 4), the ancestral step (Alg. 2 line 4),
// Adam with clipping scale, and the parameter EMA.
package ddpm4j.core.ref;

import ddpm4j.core.Philox;
import ddpm4j.core.Tensor;

final class RefFused {
    private RefFused() {}

    static void fillUniform(Tensor out, long seed, long offset) {
        int n = Math.toIntExact(out.numel());
        float[] v = new float[n];
        Philox.uniform(seed, offset, v, 0, n);
        out.backend().copyFromHost(out, v, 0);
    }

    static void fillNormal(Tensor out, long seed, long offset) {
        int n = Math.toIntExact(out.numel());
        float[] v = new float[n];
        Philox.normal(seed, offset, v, 0, n);
        out.backend().copyFromHost(out, v, 0);
    }

    // x0, eps, out: (n, d)  a, b: (n)
    static void qSample(Tensor out, Tensor x0, Tensor eps, Tensor a, Tensor b, int n, int d) {
        RefMem o = RefMem.of(out), rx = RefMem.of(x0), re = RefMem.of(eps), ra = RefMem.of(a), rb = RefMem.of(b);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) {
                long at = (long) i * d + j;
                o.set(at, ra.get(i) * rx.get(at) + rb.get(i) * re.get(at));
            }
    }

    // xt, eps, z, out: (n, d)  coef: (n, 5) = c0, c1, mu0, muT, sigma
    static void ancestralStep(Tensor out, Tensor xt, Tensor eps, Tensor z, Tensor coef, int n, int d, boolean clip) {
        RefMem o = RefMem.of(out), rx = RefMem.of(xt), re = RefMem.of(eps), rz = RefMem.of(z), rc = RefMem.of(coef);
        for (int i = 0; i < n; i++) {
            double c0 = rc.get(5L * i), c1 = rc.get(5L * i + 1), mu0 = rc.get(5L * i + 2), muT = rc.get(5L * i + 3), sigma = rc.get(5L * i + 4);
            for (int j = 0; j < d; j++) {
                long at = (long) i * d + j;
                double x = rx.get(at);
                double x0 = c0 * x - c1 * re.get(at);
                if (clip) x0 = Math.max(-1, Math.min(1, x0));
                o.set(at, mu0 * x0 + muT * x + sigma * rz.get(at));
            }
        }
    }

    static void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor gradScale,
                           float lr, float beta1, float beta2, float eps, float bc1, float bc2) {
        RefMem p = RefMem.of(param), g = RefMem.of(grad), rm = RefMem.of(m), rv = RefMem.of(v);
        double scale = gradScale == null ? 1 : RefMem.of(gradScale).get(0);
        for (long i = 0, n = param.numel(); i < n; i++) {
            double gi = g.get(i) * scale;
            double mi = beta1 * rm.get(i) + (1 - beta1) * gi;
            double vi = beta2 * rv.get(i) + (1 - beta2) * gi * gi;
            rm.set(i, mi);
            rv.set(i, vi);
            p.set(i, p.get(i) - lr * (mi / bc1) / (Math.sqrt(vi / bc2) + eps));
        }
    }

    static void emaUpdate(Tensor shadow, Tensor param, float decay) {
        RefMem s = RefMem.of(shadow), p = RefMem.of(param);
        for (long i = 0, n = shadow.numel(); i < n; i++) s.set(i, decay * s.get(i) + (1 - decay) * p.get(i));
    }
}
