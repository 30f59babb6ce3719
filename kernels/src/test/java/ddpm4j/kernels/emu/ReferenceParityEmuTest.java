// SPDX-License-Identifier: Apache-2.0
// The fused kernels on the host emulation against core's ReferenceBackend (the project's definition of each op) on
// the same float inputs: GroupNorm+SiLU forward/backward, attention forward/backward, ancestral step, Adam.
// Tolerances as in the per-kernel tests: forward atol 2e-5 rtol 1e-4, gradients atol 1e-4 rtol 1e-3.
package ddpm4j.kernels.emu;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.Tensor;
import ddpm4j.kernels.emu.EmuKernels.Dim3;
import org.junit.jupiter.api.Test;

class ReferenceParityEmuTest {
    static final Backend REF = Backends.get("reference");

    static double[] host(Tensor t) {
        float[] f = new float[(int) t.numel()];
        REF.copyToHost(t, f, 0);
        return GroupNormEmuTest.toDouble(f);
    }

    @Test
    void groupNormWithSiluMatchesReferenceBackend() {
        int n = 3, c = 12, hw = 33, g = 4, size = n * c * hw;
        float eps = 1e-5f;
        float[] x = Check.uniform(201, size, -2, 3), dy = Check.uniform(202, size, -1, 1);
        float[] w = Check.uniform(203, c, 0.5, 1.5), b = Check.uniform(204, c, -0.5, 0.5);
        Tensor xt = Tensor.of(REF, x, n, c, hw), wt = Tensor.of(REF, w, c), bt = Tensor.of(REF, b, c);
        Tensor out = Tensor.zeros(REF, n, c, hw), mean = Tensor.zeros(REF, n, g), rstd = Tensor.zeros(REF, n, g);
        REF.groupNormForward(out, mean, rstd, xt, wt, bt, n, c, hw, g, eps, true);
        Tensor dx = Tensor.zeros(REF, n, c, hw), dw = Tensor.zeros(REF, c), db = Tensor.zeros(REF, c);
        REF.groupNormBackward(dx, dw, db, Tensor.of(REF, dy, n, c, hw), xt, wt, bt, mean, rstd, n, c, hw, g, true);
        try (var k = EmuKernels.open()) {
            var o = k.poisoned(size);
            var ms = k.poisoned(n * g);
            var rs = k.poisoned(n * g);
            var xs = k.floats(x);
            var ws = k.floats(w);
            var bs = k.floats(b);
            k.launch("groupnorm_forward", Dim3.of(n * g), Dim3.of(256), 0, o, ms, rs, xs, ws, bs, n, c, hw, g, eps, 1);
            Check.close("groupnorm out vs reference", host(out), EmuKernels.read(o, size), 2e-5, 1e-4);
            var dxs = k.poisoned(size);
            var dws = k.zeros(c);
            var dbs = k.zeros(c);
            var pdw = k.poisoned(n * c);
            var pdb = k.poisoned(n * c);
            k.launch("groupnorm_backward", Dim3.of(n * g), Dim3.of(256), 0, dxs, pdw, pdb, k.floats(dy), xs, ws, bs, ms, rs,
                    n, c, hw, g, 1);
            k.launch("groupnorm_param_grad", Dim3.of((c + 127) / 128), Dim3.of(128), 0, dws, dbs, pdw, pdb, n, c);
            Check.close("groupnorm dx vs reference", host(dx), EmuKernels.read(dxs, size), 1e-4, 1e-3);
            Check.close("groupnorm dw vs reference", host(dw), EmuKernels.read(dws, c), 1e-4, 1e-3);
            Check.close("groupnorm db vs reference", host(db), EmuKernels.read(dbs, c), 1e-4, 1e-3);
        }
    }

    @Test
    void attentionMatchesReferenceBackend() {
        int b = 2, l = 19, c = 40, n = b * l * c;
        float scale = (float) (1 / Math.sqrt(c));
        float[] q = Check.normal(211, n), kk = Check.normal(212, n), v = Check.normal(213, n), dout = Check.normal(214, n);
        Tensor qt = Tensor.of(REF, q, b, l, c), kt = Tensor.of(REF, kk, b, l, c), vt = Tensor.of(REF, v, b, l, c);
        Tensor o = Tensor.zeros(REF, b, l, c), lse = Tensor.zeros(REF, b, l);
        REF.attentionForward(o, lse, qt, kt, vt, b, l, c, scale);
        Tensor dq = Tensor.zeros(REF, b, l, c), dk = Tensor.zeros(REF, b, l, c), dv = Tensor.zeros(REF, b, l, c);
        REF.attentionBackward(dq, dk, dv, Tensor.of(REF, dout, b, l, c), qt, kt, vt, o, lse, b, l, c, scale);
        try (var k = EmuKernels.open()) {
            Dim3 grid = Dim3.of((l + 7) / 8, b), block = Dim3.of(256);
            var os = k.poisoned(n);
            var ls = k.poisoned(b * l);
            var qs = k.floats(q);
            var ks = k.floats(kk);
            var vs = k.floats(v);
            var ds = k.floats(dout);
            k.launch("attention_forward", grid, block, 64 * c, os, ls, qs, ks, vs, b, l, c, scale);
            Check.close("attention out vs reference", host(o), EmuKernels.read(os, n), 1e-5, 1e-4);
            Check.close("attention lse vs reference", host(lse), EmuKernels.read(ls, b * l), 1e-5, 1e-5);
            var d = k.poisoned(b * l);
            k.launch("attention_backward_preprocess", grid, block, 0, d, ds, os, b, l, c);
            var dqs = k.poisoned(n);
            var dks = k.poisoned(n);
            var dvs = k.poisoned(n);
            k.launch("attention_backward_dq", grid, block, 64 * c, dqs, ds, qs, ks, vs, ls, d, b, l, c, scale);
            k.launch("attention_backward_dkv", grid, block, 64 * c, dks, dvs, ds, qs, ks, vs, ls, d, b, l, c, scale);
            Check.close("attention dq vs reference", host(dq), EmuKernels.read(dqs, n), 1e-4, 1e-3);
            Check.close("attention dk vs reference", host(dk), EmuKernels.read(dks, n), 1e-4, 1e-3);
            Check.close("attention dv vs reference", host(dv), EmuKernels.read(dvs, n), 1e-4, 1e-3);
        }
    }

    @Test
    void ancestralStepAndAdamMatchReferenceBackend() {
        int n = 3, d = 37, size = n * d;
        float[] xt = Check.uniform(221, size, -3, 3), eps = Check.normal(222, size), z = Check.normal(223, size);
        float[] coef = Check.uniform(224, 5 * n, 0.1, 2);
        coef[5 * (n - 1) + 4] = 0f;   // last sample: sigma 0
        Tensor out = Tensor.zeros(REF, n, d);
        REF.ancestralStep(out, Tensor.of(REF, xt, n, d), Tensor.of(REF, eps, n, d), Tensor.of(REF, z, n, d),
                Tensor.of(REF, coef, n, 5), n, d, true);
        int m = 1000;
        float[] p = Check.uniform(231, m, -1, 1), g = Check.normal(232, m), mm = Check.uniform(233, m, -0.1, 0.1);
        float[] vv = Check.uniform(234, m, 0, 0.01);
        float lr = 2e-4f, b1 = 0.9f, b2 = 0.999f, ae = 1e-8f, bc1 = 0.271f, bc2 = 0.002997f, gs = 0.75f;
        Tensor pt = Tensor.of(REF, p, m), mt = Tensor.of(REF, mm, m), vt = Tensor.of(REF, vv, m);
        REF.adamUpdate(pt, Tensor.of(REF, g, m), mt, vt, Tensor.of(REF, new float[] {gs}, 1), lr, b1, b2, ae, bc1, bc2);
        try (var k = EmuKernels.open()) {
            var os = k.poisoned(size);
            k.launch("ancestral_step_forward_coef", Dim3.of(2), Dim3.of(64), 0, os, k.floats(xt), k.floats(eps), k.floats(z),
                    k.floats(coef), 1, n, d);
            Check.close("ancestral step vs reference", host(out), EmuKernels.read(os, size), 1e-5, 1e-5);
            var ps = k.floats(p);
            var ms = k.floats(mm);
            var vs = k.floats(vv);
            k.launch("adam_update_scaled", Dim3.of(4), Dim3.of(256), 0, ps, k.floats(g), ms, vs, k.floats(gs), lr, b1, b2, ae,
                    bc1, bc2, 0f, m);
            Check.close("adam param vs reference", host(pt), EmuKernels.read(ps, m), 1e-7, 1e-5);
            Check.close("adam m vs reference", host(mt), EmuKernels.read(ms, m), 1e-8, 1e-5);
            Check.close("adam v vs reference", host(vt), EmuKernels.read(vs, m), 1e-10, 1e-5);
        }
    }
}
