// SPDX-License-Identifier: Apache-2.0
// conv2d on the CPU: im2col from a zero-padded copy of each sample, then OpenBLAS GEMM; one sample per worker.
// Backward-input is a forward conv with flipped, transposed weights when stride is 1, else GEMM + col2im.
// Definition: RefLayers.conv2dForward / conv2dBackwardInput / conv2dBackwardWeight. Test: CpuConv2dTest.
package ddpm4j.core.cpu;

import ddpm4j.core.Backend.ConvGeom;
import ddpm4j.core.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

import static ddpm4j.core.cpu.CpuMem.L;
import static ddpm4j.core.cpu.CpuMem.LE;
import static ddpm4j.core.cpu.CpuMem.S;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

final class CpuConv2d {
    private CpuConv2d() {}

    // x: (N, C, H, W)  w: (K, C, R, S)  bias: (K) or null  out: (N, K, Ho, Wo)
    static void forward(Tensor out, Tensor x, Tensor w, Tensor bias, ConvGeom g) {
        forward(CpuMem.seg(out), CpuMem.seg(x), CpuMem.seg(w), CpuMem.seg(bias), g);
    }

    static void forward(MemorySegment o, MemorySegment x, MemorySegment w, MemorySegment bias, ConvGeom g) {
        int ho = g.ho(), wo = g.wo(), hwo = ho * wo, crs = g.c() * g.r() * g.s(), k = g.k();
        long inPlane = (long) g.c() * g.h() * g.w(), outPlane = (long) k * hwo;
        boolean pointwise = isPointwise(g);
        Parallel.forRange(g.n(), 1, (wk, lo, hi) -> {
            for (int n = lo; n < hi; n++) {
                MemorySegment on = o.asSlice(n * outPlane * 4, outPlane * 4);
                // 1. bias broadcast into out, so the GEMM accumulates onto it (beta = 1)
                float beta = 0f;
                if (bias != null) {
                    for (int kk = 0; kk < k; kk++) fillRow(on, (long) kk * hwo, hwo, bias.getAtIndex(JAVA_FLOAT, kk));
                    beta = 1f;
                }
                // 2. out[n] (K x HoWo) = W (K x CRS) @ cols (CRS x HoWo)
                MemorySegment cols = pointwise ? x.asSlice(n * inPlane * 4, inPlane * 4) : im2col(x, n * inPlane, g);
                Gemm.sgemm(false, false, k, hwo, crs, 1f, w, crs, cols, hwo, beta, on, hwo);
            }
        });
    }

    // dx: (N, C, H, W) from dy: (N, K, Ho, Wo) and w: (K, C, R, S)
    static void backwardInput(Tensor dx, Tensor dy, Tensor w, ConvGeom g) {
        MemorySegment d = CpuMem.seg(dx), gy = CpuMem.seg(dy), ws = CpuMem.seg(w);
        int pt = g.r() - 1 - g.padTop(), pl = g.s() - 1 - g.padLeft();
        int pb = g.r() - 1 - g.padBottom(), pr = g.s() - 1 - g.padRight();
        if (g.stride() == 1 && pt >= 0 && pl >= 0 && pb >= 0 && pr >= 0) {
            // stride 1: dx = conv(dy, W'), W'[c, k, r, s] = W[k, c, R-1-r, S-1-s], padding R-1-pad on each side
            int c = g.c(), k = g.k(), r = g.r(), s = g.s();
            MemorySegment wt = CpuMem.scratchSegment(3, 4L * k * c * r * s);
            for (int kk = 0; kk < k; kk++)
                for (int cc = 0; cc < c; cc++)
                    for (int rr = 0; rr < r; rr++)
                        for (int ss = 0; ss < s; ss++) {
                            float v = ws.getAtIndex(JAVA_FLOAT, ((long) (kk * c + cc) * r + rr) * s + ss);
                            wt.setAtIndex(JAVA_FLOAT, ((long) (cc * k + kk) * r + (r - 1 - rr)) * s + (s - 1 - ss), v);
                        }
            var tg = new ConvGeom(g.n(), k, g.ho(), g.wo(), c, r, s, 1, pt, pl, pb, pr);
            forward(d, gy, wt, null, tg);
            return;
        }
        // general: cols (CRS x HoWo) = W^T @ dy[n], then scatter-add cols into dx[n]
        int hwo = g.ho() * g.wo(), crs = g.c() * g.r() * g.s();
        long inPlane = (long) g.c() * g.h() * g.w(), outPlane = (long) g.k() * hwo;
        Parallel.forRange(g.n(), 1, (wk, lo, hi) -> {
            for (int n = lo; n < hi; n++) {
                MemorySegment cols = CpuMem.scratchSegment(0, 4L * crs * hwo);
                Gemm.sgemm(true, false, crs, hwo, g.k(), 1f, ws, crs, gy.asSlice(n * outPlane * 4, outPlane * 4), hwo,
                        0f, cols, hwo);
                col2im(cols, d, n * inPlane, g);
            }
        });
    }

    // dw: (K, C, R, S) = sum_n dy[n] (K x HoWo) @ cols[n]^T;  dbias: (K) = sum over n, ho, wo of dy
    static void backwardWeight(Tensor dw, Tensor dbias, Tensor dy, Tensor x, ConvGeom g) {
        MemorySegment dws = CpuMem.seg(dw), gy = CpuMem.seg(dy), xs = CpuMem.seg(x);
        int hwo = g.ho() * g.wo(), crs = g.c() * g.r() * g.s(), k = g.k();
        long inPlane = (long) g.c() * g.h() * g.w(), outPlane = (long) k * hwo, wSize = (long) k * crs;
        boolean pointwise = isPointwise(g);
        int threads = Parallel.threads();
        // 1. one partial dW per worker (no locks), summed at the end
        MemorySegment parts = CpuMem.scratchSegment(3, 4L * wSize * threads);
        boolean[] used = new boolean[threads];
        Parallel.forRange(g.n(), 1, (wk, lo, hi) -> {
            MemorySegment part = parts.asSlice(wk * wSize * 4, wSize * 4);
            for (int n = lo; n < hi; n++) {
                MemorySegment cols = pointwise ? xs.asSlice(n * inPlane * 4, inPlane * 4) : im2col(xs, n * inPlane, g);
                Gemm.sgemm(false, true, k, crs, hwo, 1f, gy.asSlice(n * outPlane * 4, outPlane * 4), hwo, cols, hwo,
                        used[wk] ? 1f : 0f, part, crs);
                used[wk] = true;
            }
        });
        // 2. dw = sum of the partials that ran
        Parallel.forRange((int) wSize, CpuMem.grain(wSize), (wk, lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float acc = 0f;
                for (int t = 0; t < threads; t++) if (used[t]) acc += parts.getAtIndex(JAVA_FLOAT, t * wSize + i);
                dws.setAtIndex(JAVA_FLOAT, i, acc);
            }
        });
        // 3. dbias[k] = sum of dy over samples and pixels
        if (dbias != null) {
            MemorySegment db = CpuMem.seg(dbias);
            Parallel.forRange(k, Math.max(1, k / threads), (wk, lo, hi) -> {
                for (int kk = lo; kk < hi; kk++) {
                    float acc = 0f;
                    for (int n = 0; n < g.n(); n++) acc += sum(gy, n * outPlane + (long) kk * hwo, hwo);
                    db.setAtIndex(JAVA_FLOAT, kk, acc);
                }
            });
        }
    }

    private static boolean isPointwise(ConvGeom g) {
        return g.r() == 1 && g.s() == 1 && g.stride() == 1 && g.padTop() == 0 && g.padLeft() == 0
                && g.padBottom() == 0 && g.padRight() == 0;
    }

    // cols[(c, r, s), oy * Wo + ox] = x[n, c, oy * stride - padTop + r, ox * stride - padLeft + s], 0 outside.
    // Built from a zero-padded copy of the sample so the inner loop has no bounds tests.
    private static MemorySegment im2col(MemorySegment x, long xOff, ConvGeom g) {
        int c = g.c(), h = g.h(), w = g.w(), r = g.r(), s = g.s(), st = g.stride(), ho = g.ho(), wo = g.wo();
        int hp = Math.max(h + g.padTop(), (ho - 1) * st + r), wp = Math.max(w + g.padLeft(), (wo - 1) * st + s);
        int hwo = ho * wo;
        MemorySegment pad = CpuMem.scratchSegment(1, 4L * c * hp * wp);
        MemorySegment cols = CpuMem.scratchSegment(0, 4L * c * r * s * hwo);
        // 1. padded copy: zero borders, rows of x in the middle
        for (int cc = 0; cc < c; cc++) {
            long pBase = (long) cc * hp * wp;
            for (int y = 0; y < hp; y++) {
                int iy = y - g.padTop();
                long row = pBase + (long) y * wp;
                if (iy < 0 || iy >= h) { fillRow(pad, row, wp, 0f); continue; }
                fillRow(pad, row, g.padLeft(), 0f);
                copyRow(x, xOff + ((long) cc * h + iy) * w, pad, row + g.padLeft(), w);
                fillRow(pad, row + g.padLeft() + w, wp - g.padLeft() - w, 0f);
            }
        }
        // 2. one row of cols per (c, r, s): Ho runs of Wo values
        for (int cc = 0; cc < c; cc++)
            for (int rr = 0; rr < r; rr++)
                for (int ss = 0; ss < s; ss++) {
                    long dst = ((long) (cc * r + rr) * s + ss) * hwo;
                    for (int oy = 0; oy < ho; oy++) {
                        long src = ((long) cc * hp + (long) oy * st + rr) * wp + ss;
                        if (st == 1) {
                            copyRow(pad, src, cols, dst + (long) oy * wo, wo);
                        } else {
                            for (int ox = 0; ox < wo; ox++) {
                                cols.setAtIndex(JAVA_FLOAT, dst + (long) oy * wo + ox,
                                        pad.getAtIndex(JAVA_FLOAT, src + (long) ox * st));
                            }
                        }
                    }
                }
        return cols;
    }

    // dx[n] = scatter-add of cols (CRS x HoWo), the transpose of im2col
    private static void col2im(MemorySegment cols, MemorySegment dx, long dxOff, ConvGeom g) {
        int c = g.c(), h = g.h(), w = g.w(), r = g.r(), s = g.s(), st = g.stride(), ho = g.ho(), wo = g.wo();
        fillRow(dx, dxOff, c * h * w, 0f);
        for (int cc = 0; cc < c; cc++)
            for (int rr = 0; rr < r; rr++)
                for (int ss = 0; ss < s; ss++) {
                    long src = ((long) (cc * r + rr) * s + ss) * ho * wo;
                    for (int oy = 0; oy < ho; oy++) {
                        int iy = oy * st - g.padTop() + rr;
                        if (iy < 0 || iy >= h) continue;
                        long row = dxOff + ((long) cc * h + iy) * w;
                        for (int ox = 0; ox < wo; ox++) {
                            int ix = ox * st - g.padLeft() + ss;
                            if (ix < 0 || ix >= w) continue;
                            float v = cols.getAtIndex(JAVA_FLOAT, src + (long) oy * wo + ox);
                            dx.setAtIndex(JAVA_FLOAT, row + ix, dx.getAtIndex(JAVA_FLOAT, row + ix) + v);
                        }
                    }
                }
    }

    static void copyRow(MemorySegment src, long so, MemorySegment dst, long d, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector.fromMemorySegment(S, src, (so + i) * 4, LE).intoMemorySegment(dst, (d + i) * 4, LE);
        }
        if (i < n) {
            var m = S.indexInRange(i, n);
            FloatVector.fromMemorySegment(S, src, (so + i) * 4, LE, m).intoMemorySegment(dst, (d + i) * 4, LE, m);
        }
    }

    static void fillRow(MemorySegment dst, long d, int n, float v) {
        var vv = FloatVector.broadcast(S, v);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) vv.intoMemorySegment(dst, (d + i) * 4, LE);
        for (; i < n; i++) dst.setAtIndex(JAVA_FLOAT, d + i, v);
    }

    private static float sum(MemorySegment a, long off, int n) {
        var acc = FloatVector.zero(S);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) acc = acc.add(FloatVector.fromMemorySegment(S, a, (off + i) * 4, LE));
        float s = acc.reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        for (; i < n; i++) s += a.getAtIndex(JAVA_FLOAT, off + i);
        return s;
    }
}
