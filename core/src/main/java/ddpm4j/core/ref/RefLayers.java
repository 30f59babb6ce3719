// SPDX-License-Identifier: Apache-2.0
// Reference definitions of the layer kernels: direct convolution, GroupNorm(+SiLU), attention, nearest upsampling.
// Plain loops in double; the formulas the CPU and CUDA kernels are tested against.
package ddpm4j.core.ref;

import ddpm4j.core.Backend.ConvGeom;
import ddpm4j.core.Tensor;

final class RefLayers {
    private RefLayers() {}

    // x: (N, C, H, W)  w: (K, C, R, S)  out: (N, K, Ho, Wo)
    static void conv2dForward(Tensor out, Tensor x, Tensor w, Tensor bias, ConvGeom g) {
        RefMem o = RefMem.of(out), rx = RefMem.of(x), rw = RefMem.of(w), rb = RefMem.of(bias);
        int ho = g.ho(), wo = g.wo();
        for (int n = 0; n < g.n(); n++)
            for (int k = 0; k < g.k(); k++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++) {
                        double acc = rb == null ? 0 : rb.get(k);
                        for (int c = 0; c < g.c(); c++)
                            for (int r = 0; r < g.r(); r++) {
                                int iy = oy * g.stride() - g.padTop() + r;
                                if (iy < 0 || iy >= g.h()) continue;
                                for (int s = 0; s < g.s(); s++) {
                                    int ix = ox * g.stride() - g.padLeft() + s;
                                    if (ix < 0 || ix >= g.w()) continue;
                                    acc += rx.get(((long) (n * g.c() + c) * g.h() + iy) * g.w() + ix)
                                            * rw.get(((long) (k * g.c() + c) * g.r() + r) * g.s() + s);
                                }
                            }
                        o.set(((long) (n * g.k() + k) * ho + oy) * wo + ox, acc);
                    }
    }

    // dx[n, c, iy, ix] = sum over (k, r, s) hitting (iy, ix) of dy[n, k, oy, ox] w[k, c, r, s]
    static void conv2dBackwardInput(Tensor dx, Tensor dy, Tensor w, ConvGeom g) {
        RefMem d = RefMem.of(dx), rdy = RefMem.of(dy), rw = RefMem.of(w);
        for (long i = 0, n = dx.numel(); i < n; i++) d.set(i, 0);
        int ho = g.ho(), wo = g.wo();
        for (int n = 0; n < g.n(); n++)
            for (int k = 0; k < g.k(); k++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++) {
                        double gy = rdy.get(((long) (n * g.k() + k) * ho + oy) * wo + ox);
                        for (int c = 0; c < g.c(); c++)
                            for (int r = 0; r < g.r(); r++) {
                                int iy = oy * g.stride() - g.padTop() + r;
                                if (iy < 0 || iy >= g.h()) continue;
                                for (int s = 0; s < g.s(); s++) {
                                    int ix = ox * g.stride() - g.padLeft() + s;
                                    if (ix < 0 || ix >= g.w()) continue;
                                    d.add(((long) (n * g.c() + c) * g.h() + iy) * g.w() + ix,
                                            gy * rw.get(((long) (k * g.c() + c) * g.r() + r) * g.s() + s));
                                }
                            }
                    }
    }

    static void conv2dBackwardWeight(Tensor dw, Tensor dbias, Tensor dy, Tensor x, ConvGeom g) {
        RefMem d = RefMem.of(dw), db = RefMem.of(dbias), rdy = RefMem.of(dy), rx = RefMem.of(x);
        int ho = g.ho(), wo = g.wo();
        for (int k = 0; k < g.k(); k++) {
            if (db != null) {
                double acc = 0;
                for (int n = 0; n < g.n(); n++)
                    for (int p = 0; p < ho * wo; p++) acc += rdy.get((long) (n * g.k() + k) * ho * wo + p);
                db.set(k, acc);
            }
            for (int c = 0; c < g.c(); c++)
                for (int r = 0; r < g.r(); r++)
                    for (int s = 0; s < g.s(); s++) {
                        double acc = 0;
                        for (int n = 0; n < g.n(); n++)
                            for (int oy = 0; oy < ho; oy++) {
                                int iy = oy * g.stride() - g.padTop() + r;
                                if (iy < 0 || iy >= g.h()) continue;
                                for (int ox = 0; ox < wo; ox++) {
                                    int ix = ox * g.stride() - g.padLeft() + s;
                                    if (ix < 0 || ix >= g.w()) continue;
                                    acc += rdy.get(((long) (n * g.k() + k) * ho + oy) * wo + ox)
                                            * rx.get(((long) (n * g.c() + c) * g.h() + iy) * g.w() + ix);
                                }
                            }
                        d.set(((long) (k * g.c() + c) * g.r() + r) * g.s() + s, acc);
                    }
        }
    }

    // x, out: (N, C, HW)  mean, rstd: (N, G); y = (x - mean) * rstd * w + b, then out = silu(y) when fused
    static void groupNormForward(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor w, Tensor b,
                                 int n, int c, int hw, int groups, float eps, boolean silu) {
        RefMem o = RefMem.of(out), rm = RefMem.of(mean), rr = RefMem.of(rstd), rx = RefMem.of(x), rw = RefMem.of(w), rb = RefMem.of(b);
        int cg = c / groups;
        long count = (long) cg * hw;
        for (int i = 0; i < n; i++)
            for (int gi = 0; gi < groups; gi++) {
                long base = ((long) i * c + (long) gi * cg) * hw;
                double sum = 0, sq = 0;
                for (long j = 0; j < count; j++) sum += rx.get(base + j);
                double mu = sum / count;
                for (long j = 0; j < count; j++) { double dlt = rx.get(base + j) - mu; sq += dlt * dlt; }
                double rs = 1 / Math.sqrt(sq / count + eps);
                rm.set((long) i * groups + gi, mu);
                rr.set((long) i * groups + gi, rs);
                for (int cc = 0; cc < cg; cc++) {
                    int ch = gi * cg + cc;
                    double wv = rw == null ? 1 : rw.get(ch), bv = rb == null ? 0 : rb.get(ch);
                    for (int p = 0; p < hw; p++) {
                        long at = base + (long) cc * hw + p;
                        double y = (rx.get(at) - mu) * rs * wv + bv;
                        o.set(at, silu ? y / (1 + Math.exp(-y)) : y);
                    }
                }
            }
    }

    static void groupNormBackward(Tensor dx, Tensor dw, Tensor db, Tensor dy, Tensor x, Tensor w, Tensor b,
                                  Tensor mean, Tensor rstd, int n, int c, int hw, int groups, boolean silu) {
        RefMem d = RefMem.of(dx), rdw = RefMem.of(dw), rdb = RefMem.of(db), rdy = RefMem.of(dy), rx = RefMem.of(x),
                rw = RefMem.of(w), rb = RefMem.of(b), rm = RefMem.of(mean), rr = RefMem.of(rstd);
        int cg = c / groups;
        long count = (long) cg * hw;
        double[] sw = new double[c], sb = new double[c];
        for (int i = 0; i < n; i++)
            for (int gi = 0; gi < groups; gi++) {
                long base = ((long) i * c + (long) gi * cg) * hw;
                double mu = rm.get((long) i * groups + gi), rs = rr.get((long) i * groups + gi);
                double sumDxhat = 0, sumDxhatXhat = 0;
                double[] dxhat = new double[(int) count], xhat = new double[(int) count];
                for (int cc = 0; cc < cg; cc++) {
                    int ch = gi * cg + cc;
                    double wv = rw == null ? 1 : rw.get(ch), bv = rb == null ? 0 : rb.get(ch);
                    for (int p = 0; p < hw; p++) {
                        int j = cc * hw + p;
                        double xh = (rx.get(base + j) - mu) * rs;
                        double g = rdy.get(base + j);
                        if (silu) {                                   // d silu(y)/dy = s (1 + y (1 - s))
                            double y = xh * wv + bv, s = 1 / (1 + Math.exp(-y));
                            g *= s * (1 + y * (1 - s));
                        }
                        sw[ch] += g * xh;
                        sb[ch] += g;
                        xhat[j] = xh;
                        dxhat[j] = g * wv;
                        sumDxhat += dxhat[j];
                        sumDxhatXhat += dxhat[j] * xh;
                    }
                }
                for (int j = 0; j < count; j++)
                    d.set(base + j, rs * (dxhat[j] - sumDxhat / count - xhat[j] * sumDxhatXhat / count));
            }
        for (int ch = 0; ch < c; ch++) {
            if (rdw != null) rdw.set(ch, sw[ch]);
            if (rdb != null) rdb.set(ch, sb[ch]);
        }
    }

    // q, k, v, out: (B, L, D)  lse: (B, L); S = scale q k^T, P = softmax(S), out = P v
    static void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, int batch, int len, int dim, float scale) {
        RefMem o = RefMem.of(out), rl = RefMem.of(lse), rq = RefMem.of(q), rk = RefMem.of(k), rv = RefMem.of(v);
        double[] s = new double[len];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < len; i++) {
                long qi = ((long) b * len + i) * dim;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < len; j++) {
                    long kj = ((long) b * len + j) * dim;
                    double acc = 0;
                    for (int p = 0; p < dim; p++) acc += rq.get(qi + p) * rk.get(kj + p);
                    s[j] = acc * scale;
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < len; j++) sum += Math.exp(s[j] - max);
                double l = max + Math.log(sum);
                rl.set((long) b * len + i, l);
                for (int p = 0; p < dim; p++) {
                    double acc = 0;
                    for (int j = 0; j < len; j++) acc += Math.exp(s[j] - l) * rv.get(((long) b * len + j) * dim + p);
                    o.set(qi + p, acc);
                }
            }
    }

    // dV = P^T dO; dP = dO V^T; dS = P (dP - rowsum(dO o)); dQ = scale dS K; dK = scale dS^T Q
    static void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v,
                                  Tensor out, Tensor lse, int batch, int len, int dim, float scale) {
        RefMem rdq = RefMem.of(dq), rdk = RefMem.of(dk), rdv = RefMem.of(dv), rdo = RefMem.of(dout), rq = RefMem.of(q),
                rk = RefMem.of(k), rv = RefMem.of(v), ro = RefMem.of(out), rl = RefMem.of(lse);
        for (long i = 0, n = dq.numel(); i < n; i++) { rdq.set(i, 0); rdk.set(i, 0); rdv.set(i, 0); }
        for (int b = 0; b < batch; b++) {
            long base = (long) b * len * dim;
            for (int i = 0; i < len; i++) {
                double l = rl.get((long) b * len + i), delta = 0;
                for (int p = 0; p < dim; p++) delta += rdo.get(base + (long) i * dim + p) * ro.get(base + (long) i * dim + p);
                for (int j = 0; j < len; j++) {
                    double sc = 0, dp = 0;
                    for (int p = 0; p < dim; p++) {
                        sc += rq.get(base + (long) i * dim + p) * rk.get(base + (long) j * dim + p);
                        dp += rdo.get(base + (long) i * dim + p) * rv.get(base + (long) j * dim + p);
                    }
                    double pij = Math.exp(sc * scale - l), ds = pij * (dp - delta);
                    for (int p = 0; p < dim; p++) {
                        rdv.add(base + (long) j * dim + p, pij * rdo.get(base + (long) i * dim + p));
                        rdq.add(base + (long) i * dim + p, scale * ds * rk.get(base + (long) j * dim + p));
                        rdk.add(base + (long) j * dim + p, scale * ds * rq.get(base + (long) i * dim + p));
                    }
                }
            }
        }
    }

    static void upsample2xForward(Tensor out, Tensor x, int planes, int h, int w) {
        RefMem o = RefMem.of(out), rx = RefMem.of(x);
        for (int p = 0; p < planes; p++)
            for (int y = 0; y < 2 * h; y++)
                for (int xx = 0; xx < 2 * w; xx++)
                    o.set(((long) p * 2 * h + y) * 2 * w + xx, rx.get(((long) p * h + y / 2) * w + xx / 2));
    }

    static void upsample2xBackward(Tensor dx, Tensor dy, int planes, int h, int w) {
        RefMem d = RefMem.of(dx), g = RefMem.of(dy);
        for (int p = 0; p < planes; p++)
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++) {
                    double acc = 0;
                    for (int a = 0; a < 2; a++)
                        for (int bb = 0; bb < 2; bb++) acc += g.get(((long) p * 2 * h + 2 * y + a) * 2 * w + 2 * xx + bb);
                    d.set(((long) p * h + y) * w + xx, acc);
                }
    }
}
