// SPDX-License-Identifier: Apache-2.0
// src/cuda/attention.cu on the host emulation: the tiled online-softmax forward (output and logsumexp) and the
// three backward kernels against a naive double reference, whose gradients are checked by finite differences.
// Tolerances: forward atol 1e-5 rtol 1e-4; gradients atol 1e-4 rtol 1e-3.
package ddpm4j.kernels.emu;

import ddpm4j.kernels.emu.EmuKernels.Dim3;
import org.junit.jupiter.api.Test;

class AttentionEmuTest {
    // {B, L, C}: single rows, tails of the 8-key tile, C not a multiple of 32, the C = 512 maximum.
    static final int[][] CASES = {{1, 1, 1}, {2, 7, 33}, {1, 33, 64}, {2, 17, 100}, {1, 9, 512}, {1, 70, 8}};

    /** Naive attention in double: o (B,L,C), lse (B,L); with dout given, also dq, dk, dv (else null). */
    record Ref(double[] o, double[] lse, double[] dq, double[] dk, double[] dv) {}

    static Ref reference(double[] q, double[] k, double[] v, double[] dout, int bsz, int l, int c, double scale) {
        double[] o = new double[bsz * l * c], lse = new double[bsz * l];
        double[] dq = new double[o.length], dk = new double[o.length], dv = new double[o.length];
        for (int b = 0; b < bsz; b++) {
            int off = b * l * c;
            double[][] p = new double[l][l];
            for (int i = 0; i < l; i++) {
                double m = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < l; j++) {
                    double s = 0;
                    for (int e = 0; e < c; e++) s += q[off + i * c + e] * k[off + j * c + e];
                    p[i][j] = s * scale;
                    m = Math.max(m, p[i][j]);
                }
                double sum = 0;
                for (int j = 0; j < l; j++) sum += Math.exp(p[i][j] - m);
                lse[b * l + i] = m + Math.log(sum);
                for (int j = 0; j < l; j++) p[i][j] = Math.exp(p[i][j] - lse[b * l + i]);
                for (int e = 0; e < c; e++) {
                    double acc = 0;
                    for (int j = 0; j < l; j++) acc += p[i][j] * v[off + j * c + e];
                    o[off + i * c + e] = acc;
                }
            }
            if (dout == null) continue;
            for (int i = 0; i < l; i++) {
                double[] dp = new double[l];
                double d = 0;
                for (int j = 0; j < l; j++) {
                    for (int e = 0; e < c; e++) dp[j] += dout[off + i * c + e] * v[off + j * c + e];
                    d += dp[j] * p[i][j];
                }
                for (int j = 0; j < l; j++) {
                    double ds = p[i][j] * (dp[j] - d);
                    for (int e = 0; e < c; e++) {
                        dv[off + j * c + e] += p[i][j] * dout[off + i * c + e];
                        dq[off + i * c + e] += scale * ds * k[off + j * c + e];
                        dk[off + j * c + e] += scale * ds * q[off + i * c + e];
                    }
                }
            }
        }
        return dout == null ? new Ref(o, lse, null, null, null) : new Ref(o, lse, dq, dk, dv);
    }

    @Test
    void referenceGradientsMatchFiniteDifferences() {
        int b = 2, l = 3, c = 2, n = b * l * c;
        double[] q = GroupNormEmuTest.toDouble(Check.uniform(1, n, -1, 1));
        double[] k = GroupNormEmuTest.toDouble(Check.uniform(2, n, -1, 1));
        double[] v = GroupNormEmuTest.toDouble(Check.uniform(3, n, -1, 1));
        float[] dout = Check.uniform(4, n, -1, 1);
        double[] doutD = GroupNormEmuTest.toDouble(dout);
        Ref r = reference(q, k, v, doutD, b, l, c, 0.7);
        java.util.function.Supplier<Double> loss = () -> GroupNormEmuTest.loss(reference(q, k, v, null, b, l, c, 0.7).o(), dout);
        float[] dq = new float[n], dk = new float[n], dv = new float[n];
        for (int i = 0; i < n; i++) { dq[i] = (float) r.dq()[i]; dk[i] = (float) r.dk()[i]; dv[i] = (float) r.dv()[i]; }
        Check.close("reference dq vs FD", GroupNormEmuTest.fd(q, loss), dq, 1e-6, 1e-5);
        Check.close("reference dk vs FD", GroupNormEmuTest.fd(k, loss), dk, 1e-6, 1e-5);
        Check.close("reference dv vs FD", GroupNormEmuTest.fd(v, loss), dv, 1e-6, 1e-5);
    }

    @Test
    void forwardAndBackwardMatchReference() {
        try (var em = EmuKernels.open()) {
            for (int[] cs : CASES) {
                int b = cs[0], l = cs[1], c = cs[2], n = b * l * c;
                float scale = (float) (1 / Math.sqrt(c));
                String what = "B" + b + " L" + l + " C" + c;
                float[] q = Check.normal(71 + n, n), k = Check.normal(72 + n, n), v = Check.normal(73 + n, n);
                float[] dout = Check.normal(74 + n, n);
                Ref r = reference(GroupNormEmuTest.toDouble(q), GroupNormEmuTest.toDouble(k), GroupNormEmuTest.toDouble(v),
                        GroupNormEmuTest.toDouble(dout), b, l, c, scale);
                var qs = em.floats(q);
                var ks = em.floats(k);
                var vs = em.floats(v);
                var ds = em.floats(dout);
                // the documented grid, and one with extra blocks whose rows are all past L
                for (int gx : new int[] {(l + 7) / 8, (l + 7) / 8 + 1}) {
                    Dim3 grid = Dim3.of(gx, b), block = Dim3.of(256);
                    var o = em.poisoned(n);
                    var lse = em.poisoned(b * l);
                    em.launch("attention_forward", grid, block, 64 * c, o, lse, qs, ks, vs, b, l, c, scale);
                    Check.close("o " + what, r.o(), EmuKernels.read(o, n), 1e-5, 1e-4);
                    Check.close("lse " + what, r.lse(), EmuKernels.read(lse, b * l), 1e-5, 1e-5);
                    var d = em.poisoned(b * l);
                    em.launch("attention_backward_preprocess", grid, block, 0, d, ds, o, b, l, c);
                    var dq = em.poisoned(n);
                    em.launch("attention_backward_dq", grid, block, 64 * c, dq, ds, qs, ks, vs, lse, d, b, l, c, scale);
                    Check.close("dq " + what, r.dq(), EmuKernels.read(dq, n), 1e-4, 1e-3);
                    var dk = em.poisoned(n);
                    var dv = em.poisoned(n);
                    em.launch("attention_backward_dkv", grid, block, 64 * c, dk, dv, ds, qs, ks, vs, lse, d, b, l, c,
                            scale);
                    Check.close("dk " + what, r.dk(), EmuKernels.read(dk, n), 1e-4, 1e-3);
                    Check.close("dv " + what, r.dv(), EmuKernels.read(dv, n), 1e-4, 1e-3);
                }
            }
        }
    }
}
