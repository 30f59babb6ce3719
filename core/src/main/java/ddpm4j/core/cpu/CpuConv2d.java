// SPDX-License-Identifier: Apache-2.0
// conv2d on the CPU: oneDNN (DnnlConv2d) when it loaded; else, or for a geometry it declines, im2col from a
// zero-padded copy of each sample, then OpenBLAS GEMM, one sample per worker. Backward-input is GEMM + col2im;
// backward-weight accumulates dW^T per worker. -Dddpm4j.onednn=false selects the im2col path. 3x3 stride-1 forward
// and backward-input of the sizes where it wins (WinogradConv2d.preferred) go to WinogradConv2d when it is enabled,
// weight gradients to WinogradWeightGrad (their scratch from the tensors' backend pool).
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
        MemorySegment o = CpuMem.seg(out), xs = CpuMem.seg(x), ws = CpuMem.seg(w), b = CpuMem.seg(bias);
        if (WinogradConv2d.use(g, false)) WinogradConv2d.forward(x.backend(), o, xs, ws, b, g);
        else if (!(DnnlConv2d.enabled() && DnnlConv2d.forward(o, xs, ws, b, g))) forwardIm2col(o, xs, ws, b, g);
    }

    // dx: (N, C, H, W) from dy: (N, K, Ho, Wo) and w: (K, C, R, S)
    static void backwardInput(Tensor dx, Tensor dy, Tensor w, ConvGeom g) {
        MemorySegment d = CpuMem.seg(dx), gy = CpuMem.seg(dy), ws = CpuMem.seg(w);
        if (WinogradConv2d.use(g, true)) WinogradConv2d.backwardData(dy.backend(), d, gy, ws, g);
        else if (!(DnnlConv2d.enabled() && DnnlConv2d.backwardData(d, gy, ws, g))) backwardInputIm2col(d, gy, ws, g);
    }

    // dw: (K, C, R, S) and dbias: (K) or null, overwritten
    static void backwardWeight(Tensor dw, Tensor dbias, Tensor dy, Tensor x, ConvGeom g) {
        MemorySegment dws = CpuMem.seg(dw), db = CpuMem.seg(dbias), gy = CpuMem.seg(dy), xs = CpuMem.seg(x);
        if (WinogradWeightGrad.use(g)) WinogradWeightGrad.backwardWeights(x.backend(), dws, db, gy, xs, g);
        else if (!(DnnlConv2d.enabled() && DnnlConv2d.backwardWeights(dws, db, gy, xs, g))) backwardWeightIm2col(dws, db, gy, xs, g);
    }

    // dx (or null) and dw with dbias (or null, or dw null for neither): oneDNN reorders dy once for both when it runs
    // both; where Winograd takes dx or dw, each goes where backwardInput / backwardWeight send it
    static void backward(Tensor dx, Tensor dw, Tensor dbias, Tensor dy, Tensor x, Tensor w, ConvGeom g) {
        if (dw == null && dbias != null)
            throw new IllegalArgumentException("conv2dBackward: a bias gradient is computed only with the weight gradient");
        boolean winograd = dx != null && WinogradConv2d.use(g, true) || dw != null && WinogradWeightGrad.use(g);
        if (dx != null && dw != null && !winograd && DnnlConv2d.enabled() && DnnlConv2d.backward(CpuMem.seg(dx), CpuMem.seg(dw),
                CpuMem.seg(dbias), CpuMem.seg(dy), CpuMem.seg(x), CpuMem.seg(w), g)) return;
        if (dx != null) backwardInput(dx, dy, w, g);
        if (dw != null) backwardWeight(dw, dbias, dy, x, g);
    }

    static void forwardIm2col(MemorySegment o, MemorySegment x, MemorySegment w, MemorySegment bias, ConvGeom g) {
        int ho = g.ho(), wo = g.wo(), hwo = ho * wo, crs = g.c() * g.r() * g.s(), k = g.k();
        long inPlane = (long) g.c() * g.h() * g.w(), outPlane = (long) k * hwo;
        boolean pointwise = isPointwise(g);
        int rows = blockRows(g);
        Parallel.forRange(g.n(), 1, (wk, lo, hi) -> {
            for (int n = lo; n < hi; n++) {
                MemorySegment on = o.asSlice(n * outPlane * 4, outPlane * 4);
                // 1. bias broadcast into out, so the GEMM accumulates onto it (beta = 1)
                float beta = 0f;
                if (bias != null) {
                    for (int kk = 0; kk < k; kk++) fillRow(on, (long) kk * hwo, hwo, bias.getAtIndex(JAVA_FLOAT, kk));
                    beta = 1f;
                }
                // 2. out[n][:, p0:p1] (K x P) = W (K x CRS) @ cols (CRS x P), a block of output rows at a time
                if (pointwise) {
                    Gemm.sgemm(false, false, k, hwo, crs, 1f, w, crs, x.asSlice(n * inPlane * 4, inPlane * 4), hwo, beta, on, hwo);
                    continue;
                }
                MemorySegment pad = padInput(x, n * inPlane, g);
                for (int oy = 0; oy < ho; oy += rows) {
                    int p0 = oy * wo, p = Math.min(rows, ho - oy) * wo;
                    MemorySegment cols = im2colRows(pad, g, oy, Math.min(ho, oy + rows));
                    Gemm.sgemm(false, false, k, p, crs, 1f, w, crs, cols, p, beta, on.asSlice(4L * p0), hwo);
                }
            }
        });
    }

    /** Output rows per im2col block: the block's (CRS x rows*Wo) columns stay near 512 KB, inside L2. */
    private static int blockRows(ConvGeom g) {
        long perRow = (long) g.c() * g.r() * g.s() * g.wo();
        return (int) Math.max(1, Math.min(g.ho(), (1L << 17) / Math.max(1, perRow)));
    }

    // dx: (N, C, H, W) from dy: (N, K, Ho, Wo) and w: (K, C, R, S):
    // cols (CRS x HoWo) = W^T dy[n], then dx[n] = col2im(cols). (M = CRS makes a better GEMM shape for OpenBLAS than
    // the equivalent forward conv with flipped weights, whose M is only C.)
    static void backwardInputIm2col(MemorySegment d, MemorySegment gy, MemorySegment ws, ConvGeom g) {
        int ho = g.ho(), wo = g.wo(), hwo = ho * wo, crs = g.c() * g.r() * g.s(), rows = blockRows(g);
        long inPlane = (long) g.c() * g.h() * g.w(), outPlane = (long) g.k() * hwo;
        Parallel.forRange(g.n(), 1, (wk, lo, hi) -> {
            for (int n = lo; n < hi; n++) {
                MemorySegment dyn = gy.asSlice(n * outPlane * 4, outPlane * 4);
                MemorySegment pad = zeroPad(g);
                for (int oy = 0; oy < ho; oy += rows) {
                    int p0 = oy * wo, p = Math.min(rows, ho - oy) * wo;
                    MemorySegment cols = CpuMem.scratchSegment(0, 4L * crs * p);
                    Gemm.sgemm(true, false, crs, p, g.k(), 1f, ws, crs, dyn.asSlice(4L * p0), hwo, 0f, cols, p);
                    col2imRows(cols, pad, g, oy, Math.min(ho, oy + rows));
                }
                unpad(pad, d, n * inPlane, g);
            }
        });
    }

    // dw: (K, C, R, S) = sum_n dy[n] (K x HoWo) @ cols[n]^T;  dbias: (K) = sum over n, ho, wo of dy
    static void backwardWeightIm2col(MemorySegment dws, MemorySegment db, MemorySegment gy, MemorySegment xs,
                                     ConvGeom g) {
        int hwo = g.ho() * g.wo(), crs = g.c() * g.r() * g.s(), k = g.k();
        long inPlane = (long) g.c() * g.h() * g.w(), outPlane = (long) k * hwo, wSize = (long) k * crs;
        boolean pointwise = isPointwise(g);
        int threads = Parallel.threads(), rows = blockRows(g);
        // 1. one partial dW^T (CRS x K) per worker, no locks: cols (CRS x HoWo) @ dy[n]^T. (M = CRS is a better
        //    GEMM shape for OpenBLAS than dW = dy cols^T, whose M is only K.)
        MemorySegment parts = CpuMem.scratchSegment(3, 4L * wSize * threads);
        boolean[] used = new boolean[threads];
        Parallel.forRange(g.n(), 1, (wk, lo, hi) -> {
            MemorySegment part = parts.asSlice(wk * wSize * 4, wSize * 4);
            for (int n = lo; n < hi; n++) {
                MemorySegment dyn = gy.asSlice(n * outPlane * 4, outPlane * 4);
                if (pointwise) {
                    Gemm.sgemm(false, true, crs, k, hwo, 1f, xs.asSlice(n * inPlane * 4, inPlane * 4), hwo, dyn, hwo,
                            used[wk] ? 1f : 0f, part, k);
                    used[wk] = true;
                    continue;
                }
                MemorySegment pad = padInput(xs, n * inPlane, g);
                for (int oy = 0; oy < g.ho(); oy += rows) {
                    int p0 = oy * g.wo(), p = Math.min(rows, g.ho() - oy) * g.wo();
                    MemorySegment cols = im2colRows(pad, g, oy, Math.min(g.ho(), oy + rows));
                    Gemm.sgemm(false, true, crs, k, p, 1f, cols, p, dyn.asSlice(4L * p0), hwo, used[wk] ? 1f : 0f, part, k);
                    used[wk] = true;
                }
            }
        });
        // 2. dw[k, j] = sum over workers of part[j, k]
        Parallel.forRange(k, Math.max(1, (k + threads - 1) / threads), (wk, lo, hi) -> {
            for (int kk = lo; kk < hi; kk++) {
                for (int j = 0; j < crs; j++) {
                    float acc = 0f;
                    for (int t = 0; t < threads; t++) if (used[t]) acc += parts.getAtIndex(JAVA_FLOAT, t * wSize + (long) j * k + kk);
                    dws.setAtIndex(JAVA_FLOAT, (long) kk * crs + j, acc);
                }
            }
        });
        // 3. dbias[k] = sum of dy over samples and pixels
        if (db != null) {
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

    // Padded plane extents: every input row/column any output pixel reads, offset by padTop/padLeft.
    private static int padH(ConvGeom g) { return Math.max(g.h() + g.padTop(), (g.ho() - 1) * g.stride() + g.r()); }

    private static int padW(ConvGeom g) { return Math.max(g.w() + g.padLeft(), (g.wo() - 1) * g.stride() + g.s()); }

    // Zero-padded copy of one sample (C x Hp x Wp), so im2col's inner loop has no bounds tests.
    private static MemorySegment padInput(MemorySegment x, long xOff, ConvGeom g) {
        int c = g.c(), h = g.h(), w = g.w(), hp = padH(g), wp = padW(g);
        MemorySegment pad = CpuMem.scratchSegment(1, 4L * c * hp * wp);
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
        return pad;
    }

    // cols[(c, r, s), (oy - oy0) * Wo + ox] = pad[c, oy * stride + r, ox * stride + s] for output rows [oy0, oy1)
    private static MemorySegment im2colRows(MemorySegment pad, ConvGeom g, int oy0, int oy1) {
        int c = g.c(), r = g.r(), s = g.s(), st = g.stride(), wo = g.wo(), hp = padH(g), wp = padW(g);
        int p = (oy1 - oy0) * wo;
        MemorySegment cols = CpuMem.scratchSegment(0, 4L * c * r * s * p);
        for (int cc = 0; cc < c; cc++)
            for (int rr = 0; rr < r; rr++)
                for (int ss = 0; ss < s; ss++) {
                    long dst = ((long) (cc * r + rr) * s + ss) * p;
                    for (int oy = oy0; oy < oy1; oy++) {
                        long src = ((long) cc * hp + (long) oy * st + rr) * wp + ss, d = dst + (long) (oy - oy0) * wo;
                        if (st == 1) {
                            copyRow(pad, src, cols, d, wo);
                        } else {
                            for (int ox = 0; ox < wo; ox++) cols.setAtIndex(JAVA_FLOAT, d + ox, pad.getAtIndex(JAVA_FLOAT, src + (long) ox * st));
                        }
                    }
                }
        return cols;
    }

    private static MemorySegment zeroPad(ConvGeom g) {
        long size = (long) g.c() * padH(g) * padW(g);
        MemorySegment pad = CpuMem.scratchSegment(1, 4L * size);
        fillRow(pad, 0, Math.toIntExact(size), 0f);
        return pad;
    }

    // The transpose of im2colRows: pad[c, oy * stride + r, ox * stride + s] += cols[(c, r, s), (oy - oy0) * Wo + ox]
    private static void col2imRows(MemorySegment cols, MemorySegment pad, ConvGeom g, int oy0, int oy1) {
        int c = g.c(), r = g.r(), s = g.s(), st = g.stride(), wo = g.wo(), hp = padH(g), wp = padW(g);
        int p = (oy1 - oy0) * wo;
        for (int cc = 0; cc < c; cc++)
            for (int rr = 0; rr < r; rr++)
                for (int ss = 0; ss < s; ss++) {
                    long src = ((long) (cc * r + rr) * s + ss) * p;
                    for (int oy = oy0; oy < oy1; oy++) {
                        long dst = ((long) cc * hp + (long) oy * st + rr) * wp + ss, sr = src + (long) (oy - oy0) * wo;
                        if (st == 1) {
                            addRow(cols, sr, pad, dst, wo);
                        } else {
                            for (int ox = 0; ox < wo; ox++) {
                                long at = dst + (long) ox * st;
                                pad.setAtIndex(JAVA_FLOAT, at, pad.getAtIndex(JAVA_FLOAT, at) + cols.getAtIndex(JAVA_FLOAT, sr + ox));
                            }
                        }
                    }
                }
    }

    // dx[n] = the interior of the padded accumulation plane
    private static void unpad(MemorySegment pad, MemorySegment dx, long dxOff, ConvGeom g) {
        int c = g.c(), h = g.h(), w = g.w(), hp = padH(g), wp = padW(g);
        for (int cc = 0; cc < c; cc++)
            for (int iy = 0; iy < h; iy++) {
                copyRow(pad, ((long) cc * hp + iy + g.padTop()) * wp + g.padLeft(), dx, dxOff + ((long) cc * h + iy) * w, w);
            }
    }

    // dst[d .. d+n) += src[so .. so+n)
    static void addRow(MemorySegment src, long so, MemorySegment dst, long d, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            long db = (d + i) * 4;
            FloatVector.fromMemorySegment(S, dst, db, LE).add(FloatVector.fromMemorySegment(S, src, (so + i) * 4, LE))
                    .intoMemorySegment(dst, db, LE);
        }
        for (; i < n; i++) dst.setAtIndex(JAVA_FLOAT, d + i, dst.getAtIndex(JAVA_FLOAT, d + i) + src.getAtIndex(JAVA_FLOAT, so + i));
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

    static float sum(MemorySegment a, long off, int n) {
        var acc = FloatVector.zero(S);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) acc = acc.add(FloatVector.fromMemorySegment(S, a, (off + i) * 4, LE));
        float s = CpuMem.sumLanes(acc);
        for (; i < n; i++) s += a.getAtIndex(JAVA_FLOAT, off + i);
        return s;
    }
}
