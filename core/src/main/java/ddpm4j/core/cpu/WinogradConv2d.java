// SPDX-License-Identifier: Apache-2.0
// Winograd F(4x4, 3x3) conv2d (Lavin & Gray 2015, "Fast Algorithms for Convolutional Neural Networks", eq. 10):
// 3x3 stride-1 forward, and backward-data as the same algorithm on dy with rotated, transposed weights. CpuConv2d
// dispatches here (-Dddpm4j.winograd). Definition: RefLayers.conv2dForward / conv2dBackwardInput. Test: WinogradConv2dTest.
package ddpm4j.core.cpu;

import ddpm4j.core.Backend.ConvGeom;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

import static ddpm4j.core.cpu.CpuMem.L;
import static ddpm4j.core.cpu.CpuMem.S;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * Y = A^T [ (G g G^T) .* (B^T d B) ] A per 4x4 output tile, from 6x6 input tiles d that overlap by 2, with the
 * interpolation points 0, 1, -1, 2, -2 and infinity. The element-wise products summed over input channels become 36
 * GEMMs M[xi] (K x P) = U[xi] (K x C) V[xi] (C x P), one per point xi of the 6x6 transform domain.
 *
 * <p>Work is split into fixed blocks of tiles (the split depends on the geometry only, never on the thread count),
 * and each block runs input transform, 36 single-threaded GEMMs and output transform on one worker, so its working
 * set stays in that core's cache and results are identical whatever {@link Parallel#threads()} is.
 */
final class WinogradConv2d {
    // The transform matrices, double precision. The kernels below are these matrices multiplied out by hand;
    // WinogradConv2dTest checks y = A^T [(G g) .* (B^T d)] against direct correlation, and the kernels against RefLayers.
    static final double[][] BT = {
            {4, 0, -5, 0, 1, 0},
            {0, -4, -4, 1, 1, 0},
            {0, 4, -4, -1, 1, 0},
            {0, -2, -1, 2, 1, 0},
            {0, 2, -1, -2, 1, 0},
            {0, 4, 0, -5, 0, 1}};
    static final double[][] G = {
            {1 / 4.0, 0, 0},
            {-1 / 6.0, -1 / 6.0, -1 / 6.0},
            {-1 / 6.0, 1 / 6.0, -1 / 6.0},
            {1 / 24.0, 1 / 12.0, 1 / 6.0},
            {1 / 24.0, -1 / 12.0, 1 / 6.0},
            {0, 0, 1}};
    static final double[][] AT = {
            {1, 1, 1, 1, 1, 0},
            {0, 1, -1, 2, -2, 0},
            {0, 1, 1, 4, 4, 0},
            {0, 1, -1, 8, -8, 1}};

    private static final boolean ENABLED = Boolean.parseBoolean(System.getProperty("ddpm4j.winograd", "true"));
    /** Tiles per block (a multiple of the vector length): V and M of a block stay in L2 at the U-Net's widths. */
    private static final int BLOCK = Math.max(L, Integer.getInteger("ddpm4j.winograd.block", 64) / L * L);

    private WinogradConv2d() {}

    /** Whether CpuConv2d uses Winograd for eligible geometries ({@code -Dddpm4j.winograd}, default true). */
    static boolean enabled() {
        return ENABLED;
    }

    /** 3x3 kernel, stride 1, a non-empty output and int-indexable buffers: forward and backward-data both apply. */
    static boolean eligible(ConvGeom g) {
        if (g.r() != 3 || g.s() != 3 || g.stride() != 1 || g.ho() <= 0 || g.wo() <= 0) return false;
        long th = (g.ho() + 3) / 4, tw = (g.wo() + 3) / 4, big = Integer.MAX_VALUE / 2;
        long padIn = (long) g.n() * Math.max(g.c(), g.k()) * (4 * th + 2) * (4 * tw + 2);
        long planes = (long) g.n() * Math.max(g.c(), g.k()) * Math.max((long) g.h() * g.w(), (long) g.ho() * g.wo());
        return padIn < big && planes < big && 36L * g.c() * g.k() < big && 36L * Math.max(g.c(), g.k()) * BLOCK < big;
    }

    // out: (N, K, Ho, Wo)  x: (N, C, H, W)  w: (K, C, 3, 3)  bias: (K) or null
    static void forward(MemorySegment out, MemorySegment x, MemorySegment w, MemorySegment bias, ConvGeom g) {
        check(g);
        run(out, x, w, false, bias, new Geo(g.n(), g.c(), g.h(), g.w(), g.k(), g.ho(), g.wo(), g.padTop(), g.padLeft()));
    }

    // dx: (N, C, H, W) from dy: (N, K, Ho, Wo). dx[c, y, x] = sum_{k,r,s} dy[k, y + pt - r, x + pl - s] w[k, c, r, s]
    // = sum_{k,r',s'} dy[k, y - (2 - pt) + r', x - (2 - pl) + s'] w[k, c, 2 - r', 2 - s']: a stride-1 correlation of
    // dy with the weights rotated 180 degrees and K, C swapped, padded by (2 - pt, 2 - pl) (negative: cropped), cut to H x W.
    static void backwardData(MemorySegment dx, MemorySegment dy, MemorySegment w, ConvGeom g) {
        check(g);
        run(dx, dy, w, true, null, new Geo(g.n(), g.k(), g.ho(), g.wo(), g.c(), g.h(), g.w(), 2 - g.padTop(), 2 - g.padLeft()));
    }

    private static void check(ConvGeom g) {
        if (!eligible(g)) throw new IllegalArgumentException("winograd conv2d: needs a 3x3 stride-1 geometry of int size, got " + g);
    }

    /**
     * One stride-1 3x3 correlation: in (n, ci, hi, wi) -> out (n, co, ho, wo); input pixel (y, x) of output (0, 0)'s
     * window starts at (-pt, -pl). Tiles: th x tw per image, each 4x4 outputs from a 6x6 window of the padded input.
     */
    private record Geo(int n, int ci, int hi, int wi, int co, int ho, int wo, int pt, int pl) {
        int th() { return (ho + 3) / 4; }
        int tw() { return (wo + 3) / 4; }
        int hp() { return 4 * th() + 2; }
        int wp() { return 4 * tw() + 2; }
        int tiles() { return n * th() * tw(); }
    }

    /** Per-thread buffers, grown on demand and kept (heap arrays: the gathers read float[]; OpenBLAS pins them). */
    private static final class Ctx {
        float[] pad = new float[0], u = new float[0], v = new float[0], m = new float[0];
        final float[] tmp = new float[36 * L], y = new float[16 * L];
        int[] idx = new int[0], obase = new int[0], lim = new int[0];
    }

    private static final ThreadLocal<Ctx> CTX = ThreadLocal.withInitial(Ctx::new);

    private static float[] grow(float[] a, long n) {
        return a.length >= n ? a : new float[Math.toIntExact(n)];
    }

    private static int[] grow(int[] a, int n) {
        return a.length >= n ? a : new int[n];
    }

    // 1. U = G g G^T for every (co, ci); 2. zero-padded copy of the input; 3. per block of tiles, on one worker:
    //    V = B^T d B, the 36 GEMMs M = U V, Y = A^T M A + bias into out.
    private static void run(MemorySegment out, MemorySegment in, MemorySegment w, boolean rotate, MemorySegment bias,
                            Geo q) {
        Ctx ctx = CTX.get();
        float[] u = ctx.u = grow(ctx.u, 36L * q.co() * q.ci());
        float[] pad = ctx.pad = grow(ctx.pad, (long) q.n() * q.ci() * q.hp() * q.wp());
        Parallel.forRange(q.co(), Math.max(1, q.co() / Parallel.threads()), (wk, lo, hi) -> weights(u, w, rotate, q, lo, hi));
        int planes = q.n() * q.ci();
        Parallel.forRange(planes, Math.max(1, planes / (4 * Parallel.threads())), (wk, lo, hi) -> padInput(pad, in, q, lo, hi));
        int tiles = q.tiles(), blocks = (tiles + BLOCK - 1) / BLOCK;
        Parallel.forRange(blocks, 1, (wk, lo, hi) -> {
            Ctx c = CTX.get();
            for (int b = lo; b < hi; b++) block(c, out, u, pad, bias, q, b * BLOCK, Math.min(BLOCK, tiles - b * BLOCK));
        });
    }

    // U[xi][o][i] = (G g G^T)[xi] with g = w[o, i] (forward: o = k, i = c) or rot180(w[i, o]) (backward: o = c, i = k).
    // Double precision, so U is w's transform rounded once.
    private static void weights(float[] u, MemorySegment w, boolean rotate, Geo q, int lo, int hi) {
        int co = q.co(), ci = q.ci(), plane = co * ci;
        double[] gg = new double[9], t = new double[18];
        for (int o = lo; o < hi; o++) {
            for (int i = 0; i < ci; i++) {
                long base = 9L * (rotate ? (long) i * co + o : (long) o * ci + i);
                for (int e = 0; e < 9; e++) gg[e] = w.getAtIndex(JAVA_FLOAT, base + (rotate ? 8 - e : e));
                for (int a = 0; a < 6; a++)          // t = G g (6 x 3)
                    for (int s = 0; s < 3; s++) t[a * 3 + s] = G[a][0] * gg[s] + G[a][1] * gg[3 + s] + G[a][2] * gg[6 + s];
                for (int a = 0; a < 6; a++)          // U = t G^T (6 x 6)
                    for (int b = 0; b < 6; b++) {
                        double v = t[a * 3] * G[b][0] + t[a * 3 + 1] * G[b][1] + t[a * 3 + 2] * G[b][2];
                        u[(a * 6 + b) * plane + o * ci + i] = (float) v;
                    }
            }
        }
    }

    // pad[(n, c), y, x] = in[n, c, y - pt, x - pl], zero outside the input; planes [lo, hi) of n * ci.
    private static void padInput(float[] pad, MemorySegment in, Geo q, int lo, int hi) {
        int hp = q.hp(), wp = q.wp(), hi0 = q.hi(), wi = q.wi();
        int x0 = Math.max(0, q.pl()), x1 = Math.min(wp, wi + q.pl());   // padded columns that hold input
        for (int plane = lo; plane < hi; plane++) {
            int base = plane * hp * wp;
            for (int y = 0; y < hp; y++) {
                int iy = y - q.pt(), row = base + y * wp;
                if (iy < 0 || iy >= hi0 || x1 <= x0) { java.util.Arrays.fill(pad, row, row + wp, 0f); continue; }
                java.util.Arrays.fill(pad, row, row + x0, 0f);
                MemorySegment.copy(in, JAVA_FLOAT, 4L * ((long) plane * hi0 * wi + (long) iy * wi + x0 - q.pl()), pad, row + x0, x1 - x0);
                java.util.Arrays.fill(pad, row + x1, row + wp, 0f);
            }
        }
    }

    // Tiles [p0, p0 + cnt) padded to cols lanes (the tail repeats the last tile; its results are not written).
    private static void block(Ctx c, MemorySegment out, float[] u, float[] pad, MemorySegment bias, Geo q, int p0, int cnt) {
        int cols = (cnt + L - 1) / L * L, ci = q.ci(), co = q.co(), th = q.th(), tw = q.tw();
        float[] v = c.v = grow(c.v, 36L * ci * cols), m = c.m = grow(c.m, 36L * co * cols);
        int[] idx = c.idx = grow(c.idx, cols), obase = c.obase = grow(c.obase, cols), lim = c.lim = grow(c.lim, cols);
        for (int l = 0; l < cols; l++) {
            int p = p0 + Math.min(l, cnt - 1), n = p / (th * tw), ty = p % (th * tw) / tw, tx = p % tw;
            idx[l] = (n * ci * q.hp() + 4 * ty) * q.wp() + 4 * tx;
            obase[l] = (n * co * q.ho() + 4 * ty) * q.wo() + 4 * tx;
            lim[l] = Math.min(4, q.ho() - 4 * ty) << 3 | Math.min(4, q.wo() - 4 * tx);
        }
        for (int ch = 0; ch < ci; ch++) {
            for (int l = 0; l < cols; l += L) inputTile(pad, ch * q.hp() * q.wp(), q.wp(), idx, l, c.tmp, v, ch * cols + l, ci * cols);
        }
        for (int xi = 0; xi < 36; xi++) gemm(co, cols, ci, u, xi * co * ci, v, xi * ci * cols, m, xi * co * cols);
        for (int k = 0; k < co; k++) {
            float b = bias == null ? 0f : bias.getAtIndex(JAVA_FLOAT, k);
            long kb = (long) k * q.ho() * q.wo();
            for (int l = 0; l < cols; l += L) {
                outputTile(m, k * cols + l, co * cols, b, c.tmp, c.y);
                for (int j = 0, n = Math.min(L, cnt - l); j < n; j++) {
                    long o = kb + obase[l + j];
                    int rows = lim[l + j] >> 3, cw = lim[l + j] & 7;
                    for (int a = 0; a < rows; a++)
                        for (int e = 0; e < cw; e++) out.setAtIndex(JAVA_FLOAT, o + (long) a * q.wo() + e, c.y[(a * 4 + e) * L + j]);
                }
            }
        }
    }

    // M[xi] (co x cols) = U[xi] (co x ci) V[xi] (ci x cols), single-threaded: one block is one worker's work.
    private static void gemm(int mm, int nn, int kk, float[] a, int ao, float[] b, int bo, float[] c, int co) {
        MemorySegment as = MemorySegment.ofArray(a).asSlice(4L * ao, 4L * mm * kk);
        MemorySegment bs = MemorySegment.ofArray(b).asSlice(4L * bo, 4L * kk * nn);
        MemorySegment cs = MemorySegment.ofArray(c).asSlice(4L * co, 4L * mm * nn);
        if (Gemm.impl() == Gemm.Impl.OPENBLAS) {
            OpenBlas.cblas_sgemm(OpenBlas.CBLAS_ROW_MAJOR, OpenBlas.CBLAS_NO_TRANS, OpenBlas.CBLAS_NO_TRANS, mm, nn, kk,
                    1f, as, kk, bs, nn, 0f, cs, nn);
        } else {
            Gemm.sgemmJava(false, false, mm, nn, kk, 1f, as, kk, bs, nn, 0f, cs, nn);
        }
    }

    // V[xi][ch][l..l+L) = (B^T d B)[xi] for L tiles at once: d[j][k] = pad[plane + idx[tile] + j * wp + k] (gathers).
    // Rows first (d B, into tmp), then columns (B^T (d B), into v at vOff + xi * vStride).
    private static void inputTile(float[] pad, int plane, int wp, int[] idx, int l, float[] tmp, float[] v, int vOff, int vStride) {
        for (int j = 0; j < 6; j++) {
            int r = plane + j * wp;
            bt(FloatVector.fromArray(S, pad, r, idx, l), FloatVector.fromArray(S, pad, r + 1, idx, l),
                    FloatVector.fromArray(S, pad, r + 2, idx, l), FloatVector.fromArray(S, pad, r + 3, idx, l),
                    FloatVector.fromArray(S, pad, r + 4, idx, l), FloatVector.fromArray(S, pad, r + 5, idx, l),
                    tmp, j * 6 * L, L);
        }
        for (int k = 0; k < 6; k++) {
            bt(FloatVector.fromArray(S, tmp, k * L), FloatVector.fromArray(S, tmp, (6 + k) * L),
                    FloatVector.fromArray(S, tmp, (12 + k) * L), FloatVector.fromArray(S, tmp, (18 + k) * L),
                    FloatVector.fromArray(S, tmp, (24 + k) * L), FloatVector.fromArray(S, tmp, (30 + k) * L),
                    v, vOff + k * vStride, 6 * vStride);
        }
    }

    // dst[off + i * stride] = (B^T d)_i, i = 0..5, the rows of BT multiplied out
    private static void bt(FloatVector d0, FloatVector d1, FloatVector d2, FloatVector d3, FloatVector d4, FloatVector d5,
                           float[] dst, int off, int stride) {
        FloatVector t0 = d4.sub(d2.mul(4f)), t1 = d3.sub(d1.mul(4f)), t2 = d4.sub(d2), t3 = d3.sub(d1).mul(2f);
        d0.mul(4f).add(d4.sub(d2.mul(5f))).intoArray(dst, off);
        t0.add(t1).intoArray(dst, off + stride);
        t0.sub(t1).intoArray(dst, off + 2 * stride);
        t2.add(t3).intoArray(dst, off + 3 * stride);
        t2.sub(t3).intoArray(dst, off + 4 * stride);
        d1.mul(4f).add(d5.sub(d3.mul(5f))).intoArray(dst, off + 5 * stride);
    }

    // y[(a * 4 + b) * L ..] = (A^T M A)[a][b] + bias for L tiles; M[xi] at m[mOff + xi * mStride]. Columns first
    // (A^T M, into tmp), then rows.
    private static void outputTile(float[] m, int mOff, int mStride, float bias, float[] tmp, float[] y) {
        for (int k = 0; k < 6; k++) {
            int o = mOff + k * mStride;
            at(FloatVector.fromArray(S, m, o), FloatVector.fromArray(S, m, o + 6 * mStride),
                    FloatVector.fromArray(S, m, o + 12 * mStride), FloatVector.fromArray(S, m, o + 18 * mStride),
                    FloatVector.fromArray(S, m, o + 24 * mStride), FloatVector.fromArray(S, m, o + 30 * mStride),
                    0f, tmp, k * L, 6 * L);
        }
        for (int a = 0; a < 4; a++) {
            int o = a * 6 * L;
            at(FloatVector.fromArray(S, tmp, o), FloatVector.fromArray(S, tmp, o + L),
                    FloatVector.fromArray(S, tmp, o + 2 * L), FloatVector.fromArray(S, tmp, o + 3 * L),
                    FloatVector.fromArray(S, tmp, o + 4 * L), FloatVector.fromArray(S, tmp, o + 5 * L),
                    bias, y, a * 4 * L, L);
        }
    }

    // dst[off + i * stride] = (A^T m)_i + bias, i = 0..3, the rows of AT multiplied out
    private static void at(FloatVector m0, FloatVector m1, FloatVector m2, FloatVector m3, FloatVector m4, FloatVector m5,
                           float bias, float[] dst, int off, int stride) {
        FloatVector s1 = m1.add(m2), d1 = m1.sub(m2), s2 = m3.add(m4), d2 = m3.sub(m4);
        m0.add(s1).add(s2).add(bias).intoArray(dst, off);
        d1.add(d2.mul(2f)).add(bias).intoArray(dst, off + stride);
        s1.add(s2.mul(4f)).add(bias).intoArray(dst, off + 2 * stride);
        d1.add(d2.mul(8f)).add(m5).add(bias).intoArray(dst, off + 3 * stride);
    }
}
