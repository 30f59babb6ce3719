// SPDX-License-Identifier: Apache-2.0
// The kernels of a DDPM training / sampling step on the host emulation: diffusion.cu (q_sample, ancestral step),
// optim.cu (Adam, EMA), upsample.cu, gather.cu, mse.cu, against double references computed from the same floats.
// Tolerances: atol 1e-6 rtol 1e-5 (single roundings in a different order), exact for pure data movement.
package ddpm4j.kernels.emu;

import ddpm4j.kernels.emu.EmuKernels.Dim3;
import java.util.List;
import org.junit.jupiter.api.Test;

class StepKernelsEmuTest {
    static final int[][] ND = {{1, 1}, {3, 7}, {2, 33}, {4, 250}};   // (N, D): total 1, 21, 66, 1000

    static List<Dim3[]> geometries(long n) {
        return List.of(new Dim3[] {Dim3.of(1), Dim3.of(32)}, new Dim3[] {Dim3.of(Check.blocksFor(n, 256)), Dim3.of(256)},
                new Dim3[] {Dim3.of(3), Dim3.of(64)});
    }

    @Test
    void qSampleMixesPerSampleCoefficients() {
        try (var k = EmuKernels.open()) {
            for (int[] nd : ND) {
                int n = nd[0], d = nd[1], size = n * d;
                float[] x0 = Check.uniform(81, size, -1, 1), eps = Check.normal(82, size);
                float[] a = Check.uniform(83, n, 0.01, 1), b = new float[n];
                for (int i = 0; i < n; i++) b[i] = (float) Math.sqrt(1 - a[i] * a[i]);
                double[] ref = new double[size];
                for (int i = 0; i < size; i++) ref[i] = (double) a[i / d] * x0[i] + (double) b[i / d] * eps[i];
                for (Dim3[] g : geometries(size)) {
                    var xt = k.poisoned(size);
                    k.launch("q_sample_forward", g[0], g[1], 0, xt, k.floats(x0), k.floats(eps), k.floats(a), k.floats(b), n, d);
                    Check.close("q_sample N" + n + " D" + d, ref, EmuKernels.read(xt, size), 1e-6, 1e-5);
                }
            }
        }
    }

    @Test
    void ancestralStepFollowsAlgorithm2WithAndWithoutClipping() {
        try (var k = EmuKernels.open()) {
            for (int[] nd : ND)
                for (int clip = 0; clip <= 1; clip++) {
                    int n = nd[0], d = nd[1], size = n * d;
                    float[] xt = Check.uniform(91, size, -3, 3), eps = Check.normal(92, size), z = Check.normal(93, size);
                    float[] c1 = Check.uniform(94, n, 1, 3), c2 = Check.uniform(95, n, 0.1, 2);
                    float[] coef1 = Check.uniform(96, n, 0, 1), coef2 = Check.uniform(97, n, 0, 1);
                    float[] sigma = Check.uniform(98, n, 0, 0.5);
                    sigma[0] = 0f;   // t = 1: no noise, and z must not matter
                    double[] ref = new double[size];
                    for (int i = 0; i < size; i++) {
                        int s = i / d;
                        double x0 = (double) c1[s] * xt[i] - (double) c2[s] * eps[i];
                        if (clip == 1) x0 = Math.max(-1, Math.min(1, x0));
                        ref[i] = coef1[s] * x0 + (double) coef2[s] * xt[i] + (double) sigma[s] * z[i];
                    }
                    float[] zPoisoned = z.clone();
                    for (int i = 0; i < d; i++) zPoisoned[i] = Float.NaN;   // sample 0 has sigma 0
                    for (Dim3[] g : geometries(size)) {
                        var out = k.poisoned(size);
                        k.launch("ancestral_step_forward", g[0], g[1], 0, out, k.floats(xt), k.floats(eps),
                                k.floats(zPoisoned), k.floats(c1), k.floats(c2), k.floats(coef1), k.floats(coef2),
                                k.floats(sigma), clip, n, d);
                        Check.close("ancestral step N" + n + " D" + d + " clip " + clip, ref, EmuKernels.read(out, size),
                                1e-5, 1e-5);
                    }
                    // the (N, 5) coefficient layout of Backend.ancestralStep, and z = NULL meaning no noise
                    float[] coef = new float[5 * n];
                    double[] refNoZ = new double[size];
                    for (int s = 0; s < n; s++) {
                        coef[5 * s] = c1[s]; coef[5 * s + 1] = c2[s]; coef[5 * s + 2] = coef1[s];
                        coef[5 * s + 3] = coef2[s]; coef[5 * s + 4] = sigma[s];
                    }
                    for (int i = 0; i < size; i++) refNoZ[i] = ref[i] - (double) sigma[i / d] * z[i];
                    var out = k.poisoned(size);
                    k.launch("ancestral_step_forward_coef", Dim3.of(2), Dim3.of(64), 0, out, k.floats(xt), k.floats(eps),
                            k.floats(zPoisoned), k.floats(coef), clip, n, d);
                    Check.close("ancestral step (coef rows) N" + n + " D" + d, ref, EmuKernels.read(out, size), 1e-5, 1e-5);
                    k.launch("ancestral_step_forward_coef", Dim3.of(2), Dim3.of(64), 0, out, k.floats(xt), k.floats(eps),
                            java.lang.foreign.MemorySegment.NULL, k.floats(coef), clip, n, d);
                    Check.close("ancestral step (z null) N" + n + " D" + d, refNoZ, EmuKernels.read(out, size), 1e-5, 1e-5);
                }
        }
    }

    @Test
    void adamAndEmaUpdates() {
        try (var k = EmuKernels.open()) {
            for (int n : new int[] {1, 7, 33, 1000}) {
                float[] p = Check.uniform(101, n, -1, 1), g = Check.normal(102, n);
                float[] m = Check.uniform(103, n, -0.1, 0.1), v = Check.uniform(104, n, 0, 0.01);
                float lr = 2e-4f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, gs = 0.5f, wd = 0.01f;
                int t = 3;
                float bc1 = (float) (1 - Math.pow(b1, t)), bc2 = (float) (1 - Math.pow(b2, t));
                double[] pr = new double[n], mr = new double[n], vr = new double[n], ema = new double[n];
                for (int i = 0; i < n; i++) {
                    double gi = (double) g[i] * gs + (double) wd * p[i];
                    mr[i] = b1 * (double) m[i] + (1 - (double) b1) * gi;
                    vr[i] = b2 * (double) v[i] + (1 - (double) b2) * gi * gi;
                    pr[i] = p[i] - lr * (mr[i] / bc1) / (Math.sqrt(vr[i] / bc2) + eps);
                    ema[i] = 0.9999 * (double) m[i] + (1 - 0.9999) * p[i];
                }
                var ps = k.floats(p);
                var ms = k.floats(m);
                var vs = k.floats(v);
                k.launch("adam_update", Dim3.of(Check.blocksFor(n, 128)), Dim3.of(128), 0, ps, k.floats(g), ms, vs, lr, b1, b2,
                        eps, bc1, bc2, gs, wd, n);
                Check.close("adam m n" + n, mr, EmuKernels.read(ms, n), 1e-7, 1e-5);
                Check.close("adam v n" + n, vr, EmuKernels.read(vs, n), 1e-9, 1e-5);
                Check.close("adam p n" + n, pr, EmuKernels.read(ps, n), 1e-7, 1e-6);
                var ps2 = k.floats(p);
                var ms2 = k.floats(m);
                var vs2 = k.floats(v);
                k.launch("adam_update_scaled", Dim3.of(3), Dim3.of(64), 0, ps2, k.floats(g), ms2, vs2, k.floats(gs), lr, b1,
                        b2, eps, bc1, bc2, wd, n);
                Check.close("adam (device scale) p n" + n, pr, EmuKernels.read(ps2, n), 1e-7, 1e-6);
                Check.close("adam (device scale) v n" + n, vr, EmuKernels.read(vs2, n), 1e-9, 1e-5);
                var shadow = k.floats(m);
                k.launch("ema_update", Dim3.of(2), Dim3.of(64), 0, shadow, k.floats(p), 0.9999f, n);
                Check.close("ema n" + n, ema, EmuKernels.read(shadow, n), 1e-7, 1e-5);
            }
        }
    }

    @Test
    void upsampleGatherAndMse() {
        try (var k = EmuKernels.open()) {
            for (int[] s : new int[][] {{1, 1, 1}, {3, 7, 5}, {2, 1, 33}}) {
                int nc = s[0], h = s[1], w = s[2], n = nc * h * w;
                float[] x = Check.uniform(111, n, -1, 1), dy = Check.uniform(112, 4 * n, -1, 1);
                double[] up = new double[4 * n], dx = new double[n];
                for (int c = 0; c < nc; c++)
                    for (int yy = 0; yy < 2 * h; yy++)
                        for (int xx = 0; xx < 2 * w; xx++) {
                            int o = (c * 2 * h + yy) * 2 * w + xx, i = (c * h + yy / 2) * w + xx / 2;
                            up[o] = x[i];
                            dx[i] += dy[o];
                        }
                for (Dim3[] g : geometries(4L * n)) {
                    var y = k.poisoned(4 * n);
                    k.launch("upsample_forward", g[0], g[1], 0, y, k.floats(x), nc, h, w);
                    Check.close("upsample " + nc + "x" + h + "x" + w, up, EmuKernels.read(y, 4 * n), 0, 0);
                    var dxs = k.poisoned(n);
                    k.launch("upsample_backward", g[0], g[1], 0, dxs, k.floats(dy), nc, h, w);
                    Check.close("upsample_backward " + nc + "x" + h + "x" + w, dx, EmuKernels.read(dxs, n), 1e-6, 1e-6);
                }
            }
            int rows = 5, dim = 33, n = 7;
            float[] table = Check.uniform(121, rows * dim, -1, 1), dout = Check.uniform(122, n * dim, -1, 1);
            int[] idx = {4, 0, 4, 2, 2, 4, 1};   // repeats: the backward must accumulate
            double[] g = new double[n * dim], dt = new double[rows * dim];
            for (int i = 0; i < n; i++)
                for (int e = 0; e < dim; e++) {
                    g[i * dim + e] = table[idx[i] * dim + e];
                    dt[idx[i] * dim + e] += dout[i * dim + e];
                }
            for (Dim3[] geo : geometries((long) n * dim)) {
                var out = k.poisoned(n * dim);
                k.launch("gather_forward", geo[0], geo[1], 0, out, k.floats(table), k.ints(idx), n, dim);
                Check.close("gather", g, EmuKernels.read(out, n * dim), 0, 0);
                var dts = k.zeros(rows * dim);
                k.launch("gather_backward", geo[0], geo[1], 0, dts, k.floats(dout), k.ints(idx), n, dim);
                Check.close("gather_backward", dt, EmuKernels.read(dts, rows * dim), 1e-6, 1e-6);
            }
            for (int len : new int[] {1, 7, 33, 1000}) {
                float[] a = Check.normal(131, len), b = Check.normal(132, len);
                double mse = 0;
                double[] da = new double[len];
                for (int i = 0; i < len; i++) mse += ((double) a[i] - b[i]) * ((double) a[i] - b[i]) / len;
                for (int i = 0; i < len; i++) da[i] = 2.0 * 0.5 * ((double) a[i] - b[i]) / len;
                var loss = k.zeros(1);
                int blocks = Check.blocksFor(len, 256);
                var part = k.poisoned(blocks);
                k.launch("mse_partial", Dim3.of(blocks), Dim3.of(256), 0, part, k.floats(a), k.floats(b), len);
                k.launch("sum_partials", Dim3.of(1), Dim3.of(256), 0, loss, part, blocks, 1f / len);
                Check.close("mse n" + len, new double[] {mse}, EmuKernels.read(loss, 1), 1e-6, 1e-5);
                var das = k.poisoned(len);
                k.launch("mse_backward", Dim3.of(2), Dim3.of(64), 0, das, k.floats(a), k.floats(b), k.floats(0.5f), 1f / len, len);
                Check.close("mse_backward n" + len, da, EmuKernels.read(das, len), 1e-7, 1e-5);
            }
        }
    }
}
