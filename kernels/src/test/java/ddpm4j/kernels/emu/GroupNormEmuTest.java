// SPDX-License-Identifier: Apache-2.0
// src/cuda/groupnorm.cu on the host emulation: forward against a double reference, backward (dx, dw, db, with and
// without the fused SiLU) against central finite differences of that reference (eps 1e-6, in double).
// Tolerances: forward atol 2e-5 rtol 1e-4; backward atol 1e-4 rtol 1e-3 (float sums over up to 2000 elements).
package ddpm4j.kernels.emu;

import ddpm4j.kernels.emu.EmuKernels.Dim3;
import org.junit.jupiter.api.Test;

class GroupNormEmuTest {
    // {N, C, HW, G}
    static final int[][] CASES = {{2, 6, 7, 3}, {3, 8, 33, 4}, {2, 4, 1, 2}, {1, 2, 1000, 1}, {1, 7, 5, 7}};
    static final float EPS = 1e-5f;

    /** out (N,C,HW) in double; x, w, b read as given. */
    static double[] forward(double[] x, double[] w, double[] b, int n, int c, int hw, int g, boolean silu,
                            double[] meanOut, double[] rstdOut) {
        int cg = c / g, m = cg * hw;
        double[] out = new double[x.length];
        for (int i = 0; i < n; i++)
            for (int gi = 0; gi < g; gi++) {
                int base = (i * c + gi * cg) * hw;
                double mu = 0, var = 0;
                for (int e = 0; e < m; e++) mu += x[base + e];
                mu /= m;
                for (int e = 0; e < m; e++) var += (x[base + e] - mu) * (x[base + e] - mu);
                var /= m;
                double rs = 1 / Math.sqrt(var + EPS);
                if (meanOut != null) { meanOut[i * g + gi] = mu; rstdOut[i * g + gi] = rs; }
                for (int e = 0; e < m; e++) {
                    int ch = gi * cg + e / hw;
                    double y = (x[base + e] - mu) * rs * w[ch] + b[ch];
                    out[base + e] = silu ? y / (1 + Math.exp(-y)) : y;
                }
            }
        return out;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    static double loss(double[] out, float[] dy) {
        double s = 0;
        for (int i = 0; i < out.length; i++) s += out[i] * dy[i];
        return s;
    }

    /** d(sum dy*out)/d(v[i]) by central differences, for every i. */
    static double[] fd(double[] v, java.util.function.Supplier<Double> lossFn) {
        double[] grad = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            double keep = v[i], h = 1e-6 * Math.max(1, Math.abs(keep));
            v[i] = keep + h;
            double lp = lossFn.get();
            v[i] = keep - h;
            double lm = lossFn.get();
            v[i] = keep;
            grad[i] = (lp - lm) / (2 * h);
        }
        return grad;
    }

    @Test
    void forwardAndBackwardMatchReferenceAndFiniteDifferences() {
        try (var k = EmuKernels.open()) {
            for (int[] cs : CASES)
                for (boolean silu : new boolean[] {false, true}) {
                    int n = cs[0], c = cs[1], hw = cs[2], g = cs[3], size = n * c * hw;
                    String what = String.format("N%d C%d HW%d G%d silu %b", n, c, hw, g, silu);
                    float[] x = Check.uniform(61 + size, size, -2, 3), dy = Check.uniform(62 + size, size, -1, 1);
                    float[] w = Check.uniform(63, c, 0.5, 1.5), b = Check.uniform(64, c, -0.5, 0.5);
                    double[] xd = toDouble(x), wd = toDouble(w), bd = toDouble(b);
                    double[] mean = new double[n * g], rstd = new double[n * g];
                    double[] ref = forward(xd, wd, bd, n, c, hw, g, silu, mean, rstd);
                    java.util.function.Supplier<Double> lossFn =
                            () -> loss(forward(xd, wd, bd, n, c, hw, g, silu, null, null), dy);
                    double[] dxRef = fd(xd, lossFn), dwRef = fd(wd, lossFn), dbRef = fd(bd, lossFn);
                    float[] dw0 = Check.uniform(65, c, -1, 1), db0 = Check.uniform(66, c, -1, 1);
                    for (int i = 0; i < c; i++) { dwRef[i] += dw0[i]; dbRef[i] += db0[i]; }   // kernels add into dw, db
                    for (int block : new int[] {256, 64, 1024}) {
                        var out = k.poisoned(size);
                        var ms = k.poisoned(n * g);
                        var rs = k.poisoned(n * g);
                        var xs = k.floats(x);
                        var ws = k.floats(w);
                        var bs = k.floats(b);
                        k.launch("groupnorm_forward", Dim3.of(n * g), Dim3.of(block), 0, out, ms, rs, xs, ws, bs, n, c, hw,
                                g, EPS, silu ? 1 : 0);
                        Check.close("forward " + what, ref, EmuKernels.read(out, size), 2e-5, 1e-4);
                        Check.close("mean " + what, mean, EmuKernels.read(ms, n * g), 1e-6, 1e-5);
                        Check.close("rstd " + what, rstd, EmuKernels.read(rs, n * g), 1e-6, 1e-4);
                        var dx = k.poisoned(size);
                        var dws = k.floats(dw0);
                        var dbs = k.floats(db0);
                        var pdw = k.poisoned(n * c);
                        var pdb = k.poisoned(n * c);
                        k.launch("groupnorm_backward", Dim3.of(n * g), Dim3.of(block), 0, dx, pdw, pdb, k.floats(dy), xs,
                                ws, bs, ms, rs, n, c, hw, g, silu ? 1 : 0);
                        // a block of 32 threads: channels past c in the last block must be left alone
                        k.launch("groupnorm_param_grad", Dim3.of((c + 31) / 32), Dim3.of(32), 0, dws, dbs, pdw, pdb, n, c);
                        Check.close("dx " + what, dxRef, EmuKernels.read(dx, size), 1e-4, 1e-3);
                        Check.close("dw " + what, dwRef, EmuKernels.read(dws, c), 1e-4, 1e-3);
                        Check.close("db " + what, dbRef, EmuKernels.read(dbs, c), 1e-4, 1e-3);
                    }
                }
        }
    }
}
