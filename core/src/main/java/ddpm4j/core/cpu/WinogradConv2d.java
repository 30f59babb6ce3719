// SPDX-License-Identifier: Apache-2.0
// Winograd F(4x4, 3x3) conv2d (Lavin & Gray 2015, "Fast Algorithms for Convolutional Neural Networks", eq. 10):
// 3x3 stride-1 forward, and backward-data as the same algorithm on dy with rotated, transposed weights. CpuConv2d
// dispatches here (-Dddpm4j.winograd). Definition: RefLayers.conv2dForward / conv2dBackwardInput. Test: WinogradConv2dTest.
package ddpm4j.core.cpu;

import ddpm4j.core.Backend;
import ddpm4j.core.Backend.ConvGeom;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import static ddpm4j.core.cpu.CpuMem.L;
import static ddpm4j.core.cpu.CpuMem.LE;
import static ddpm4j.core.cpu.CpuMem.S;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
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

    private static volatile CpuBackend.Winograd mode = CpuBackend.Winograd.parse(System.getProperty("ddpm4j.winograd", "true"));
    /** Tiles per block (a multiple of the vector length): V and M of a block stay in L2 at the U-Net's widths. */
    private static final int BLOCK = Math.max(L, Integer.getInteger("ddpm4j.winograd.block", 64) / L * L);

    private WinogradConv2d() {}

    /** The policy in use ({@code -Dddpm4j.winograd}, default true: {@link #preferred} geometries); see CpuBackend.winograd. */
    static CpuBackend.Winograd mode() {
        return mode;
    }

    static void setMode(CpuBackend.Winograd m) {
        mode = java.util.Objects.requireNonNull(m, "mode");
    }

    /** Whether CpuConv2d runs {@code g}'s forward (or backward-data) here under the current mode. */
    static boolean use(ConvGeom g, boolean backward) {
        CpuBackend.Winograd m = mode;
        return m == CpuBackend.Winograd.ALL ? eligible(g) : m == CpuBackend.Winograd.PREFERRED && preferred(g, backward);
    }

    /** 3x3 kernel, stride 1, a non-empty output and int-indexable buffers: forward and backward-data both apply. */
    static boolean eligible(ConvGeom g) {
        if (g.r() != 3 || g.s() != 3 || g.stride() != 1 || g.ho() <= 0 || g.wo() <= 0) return false;
        // tiles of the larger of forward's output and backward-data's (dx), so both directions' buffers fit an int
        long th = (Math.max(g.ho(), g.h()) + 3) / 4, tw = (Math.max(g.wo(), g.w()) + 3) / 4, big = Integer.MAX_VALUE / 2;
        long padIn = (long) g.n() * Math.max(g.c(), g.k()) * (4 * th + 2) * (4 * tw + 2);
        long planes = (long) g.n() * Math.max(g.c(), g.k()) * Math.max((long) g.h() * g.w(), (long) g.ho() * g.wo());
        return padIn < big && planes < big && 36L * g.c() * g.k() < big && 36L * Math.max(g.c(), g.k()) * BLOCK < big;
    }

    /**
     * Eligible, and of a kind where Winograd measured faster than oneDNN here (2 threads, N 16): at least 16 channels
     * in and out (conv_in's 1 channel: 3x slower), at least 4 blocks of tiles (fewer leave a worker idle: 7x7 and 8x8
     * at N 16 ran 2.6x slower), and at most 15% of the computed outputs cut off by the 4x4 tiling (14x14 computes
     * 16x16 and ran 1.2x slower). {@code backward}: the output is dx (H x W).
     */
    static boolean preferred(ConvGeom g, boolean backward) {
        if (!eligible(g) || Math.min(g.c(), g.k()) < 16) return false;
        int ho = backward ? g.h() : g.ho(), wo = backward ? g.w() : g.wo();
        long th = (ho + 3) / 4, tw = (wo + 3) / 4;
        return g.n() * th * tw >= 4L * BLOCK && 16.0 * th * tw <= 1.15 * ho * wo;
    }

    // out: (N, K, Ho, Wo)  x: (N, C, H, W)  w: (K, C, 3, 3)  bias: (K) or null
    static void forward(MemorySegment out, MemorySegment x, MemorySegment w, MemorySegment bias, ConvGeom g) {
        forward(null, out, x, w, bias, g);
    }

    /** As above with scratch from {@code be}'s pool (null: an arena per call). */
    static void forward(Backend be, MemorySegment out, MemorySegment x, MemorySegment w, MemorySegment bias, ConvGeom g) {
        check(g);
        run(be, out, x, w, false, bias, new Geo(g.n(), g.c(), g.h(), g.w(), g.k(), g.ho(), g.wo(), g.padTop(), g.padLeft()));
    }

    // dx: (N, C, H, W) from dy: (N, K, Ho, Wo). dx[c, y, x] = sum_{k,r,s} dy[k, y + pt - r, x + pl - s] w[k, c, r, s]
    // = sum_{k,r',s'} dy[k, y - (2 - pt) + r', x - (2 - pl) + s'] w[k, c, 2 - r', 2 - s']: a stride-1 correlation of
    // dy with the weights rotated 180 degrees and K, C swapped, padded by (2 - pt, 2 - pl) (negative: cropped), cut to
    // H x W.
    static void backwardData(MemorySegment dx, MemorySegment dy, MemorySegment w, ConvGeom g) {
        backwardData(null, dx, dy, w, g);
    }

    /** As above with scratch from {@code be}'s pool (null: an arena per call). */
    static void backwardData(Backend be, MemorySegment dx, MemorySegment dy, MemorySegment w, ConvGeom g) {
        check(g);
        run(be, dx, dy, w, true, null,
                new Geo(g.n(), g.k(), g.ho(), g.wo(), g.c(), g.h(), g.w(), 2 - g.padTop(), 2 - g.padLeft()));
    }

    private static void check(ConvGeom g) {
        if (!eligible(g)) {
            throw new IllegalArgumentException("winograd conv2d: needs a 3x3 stride-1 geometry of int size, got " + g);
        }
    }

    /**
     * One stride-1 3x3 correlation: in (n, ci, hi, wi) -> out (n, co, ho, wo); input pixel (y, x) of output (0, 0)'s
     * window starts at (-pt, -pl). Tiles: th x tw per image, each 4x4 outputs from a 6x6 window of the padded input.
     */
    record Geo(int n, int ci, int hi, int wi, int co, int ho, int wo, int pt, int pl) {
        int th() { return (ho + 3) / 4; }
        int tw() { return (wo + 3) / 4; }
        int hp() { return 4 * th() + 2; }
        int wp() { return 4 * tw() + 2; }
        int tiles() { return n * th() * tw(); }
    }

    /**
     * Per-thread buffers of a few KB. The large ones (U, and V and M per worker) are per call, from the backend's pool
     * (WinogradScratch), and the input is padded a block and a channel at a time into the thread's slab, so a run keeps
     * no buffer of the layers' sizes between calls.
     */
    private static final class Ctx {
        final float[] tmp = new float[36 * L], y = new float[16 * L];
        int[] idx = new int[0], obase = new int[0], lim = new int[0];
        boolean[] whole = new boolean[0];
        final double[] wtmp = new double[18 * DL], taps = new double[9 * DL];
    }

    /**
     * Added to the stride between the 36 planes of U, V and M (floats): power-of-two strides (64 KB for U at
     * C = K = 128) would map all 36 streams of a transform to the same L1 sets.
     */
    static final int SKEW = 16;

    private static final ThreadLocal<Ctx> CTX = ThreadLocal.withInitial(Ctx::new);

    private static int[] grow(int[] a, int n) {
        return a.length >= n ? a : new int[n];
    }

    // 1. U = G g G^T for every (co, ci); 2. per block of tiles, on one worker: V = B^T d B (d from the block's rows of
    //    the input, zero-padded one channel at a time), the 36 GEMMs M = U V, Y = A^T M A + bias into out.
    //    Scratch: U, then V and M for each worker, from one pooled buffer.
    private static void run(Backend be, MemorySegment out, MemorySegment in, MemorySegment w, boolean rotate,
                            MemorySegment bias, Geo q) {
        int kc = q.co() * q.ci(), chunks = (kc + DL - 1) / DL, plane = chunks * DL + SKEW, threads = Parallel.threads();
        long uSize = WinogradScratch.lines(36L * plane), vSize = WinogradScratch.lines(36L * (q.ci() * BLOCK + SKEW));
        long mSize = WinogradScratch.lines(36L * (q.co() * BLOCK + SKEW));
        try (WinogradScratch s = WinogradScratch.take(be, uSize + threads * (vSize + mSize))) {
            MemorySegment u = s.seg.asSlice(0, 4 * uSize);
            Parallel.forRange(chunks, Math.max(1, chunks / threads),
                    (wk, lo, hi) -> weights(u, w, plane, rotate, kc, CTX.get(), lo, hi));
            int tiles = q.tiles(), blocks = (tiles + BLOCK - 1) / BLOCK;
            Parallel.forRange(blocks, 1, (wk, lo, hi) -> {
                Ctx c = CTX.get();
                long at = 4 * (uSize + wk * (vSize + mSize));
                MemorySegment v = s.seg.asSlice(at, 4 * vSize), m = s.seg.asSlice(at + 4 * vSize, 4 * mSize);
                for (int b = lo; b < hi; b++) {
                    block(c, out, u, plane, rotate, in, v, m, bias, q, b * BLOCK, Math.min(BLOCK, tiles - b * BLOCK));
                }
            });
        }
    }

    // U[xi * plane + f] = (G g G^T)[xi] for g = w[f] (forward) or rot180(w[f]) (backward), f = k * C + c in the
    // weights' own (K, C) order, DL at a time from taps[e * DL + j] = w[f + j][e] (tap-major: contiguous loads). The
    // backward GEMM reads U[xi] transposed, (c, k) at f. In double, so U is rounded once: A^T's cancellations
    // (coefficients up to 8) amplify its error, and a float transform measured 1.5x the output error.
    private static void weights(MemorySegment u, MemorySegment w, int plane, boolean rotate, int kc, Ctx c, int lo, int hi) {
        double[] taps = c.taps, tmp = c.wtmp;
        for (int f = lo * DL, end = Math.min(kc, hi * DL); f < end; f += DL) {
            for (int j = 0; j < DL; j++)
                for (int e = 0; e < 9; e++) taps[e * DL + j] = f + j < kc ? w.getAtIndex(JAVA_FLOAT, 9L * (f + j) + e) : 0;
            for (int s = 0; s < 3; s++) {             // t = G g (6 x 3), into tmp; column s of g holds taps s, 3 + s, 6 + s
                int o = (rotate ? 8 - s : s) * DL, d = (rotate ? -3 : 3) * DL;
                gColumn(taps, o, o + d, o + 2 * d, tmp, s * DL);
            }
            for (int a = 0; a < 6; a++) gRow(tmp, a * 3 * DL, u, a * 6 * plane + f, plane);   // U = t G^T
        }
    }

    private static final VectorSpecies<Double> DS = DoubleVector.SPECIES_PREFERRED;
    private static final int DL = DS.length();
    private static final VectorSpecies<Float> FH =
            VectorSpecies.of(float.class, VectorShape.forBitSize(DS.vectorBitSize() / 2));

    // The rows of G multiplied out: (G g)_a for a = 0..5. The helpers below take arrays, not vectors, so a vector never
    // crosses a call that C2 declines to inline (NodeCountInliningCutoff), which would box it.
    // tmp[off + (3 a) * DL] = (G g)_a with g_i = taps[o_i ..] (DL weights at once)
    private static void gColumn(double[] taps, int o0, int o1, int o2, double[] tmp, int off) {
        DoubleVector g0 = DoubleVector.fromArray(DS, taps, o0), g1 = DoubleVector.fromArray(DS, taps, o1);
        DoubleVector g2 = DoubleVector.fromArray(DS, taps, o2);
        DoubleVector s = g0.add(g2), q = g0.mul(1 / 24.0).add(g2.mul(1 / 6.0)), r = g1.mul(1 / 12.0);
        int st = 3 * DL;
        g0.mul(0.25).intoArray(tmp, off);
        s.add(g1).mul(-1 / 6.0).intoArray(tmp, off + st);
        s.sub(g1).mul(-1 / 6.0).intoArray(tmp, off + 2 * st);
        q.add(r).intoArray(tmp, off + 3 * st);
        q.sub(r).intoArray(tmp, off + 4 * st);
        g2.intoArray(tmp, off + 5 * st);
    }

    // u[off + b * stride] = (float) (G t)_b with t_i = tmp[to + i * DL]
    private static void gRow(double[] tmp, int to, MemorySegment u, int off, int stride) {
        DoubleVector g0 = DoubleVector.fromArray(DS, tmp, to), g1 = DoubleVector.fromArray(DS, tmp, to + DL);
        DoubleVector g2 = DoubleVector.fromArray(DS, tmp, to + 2 * DL);
        DoubleVector s = g0.add(g2), q = g0.mul(1 / 24.0).add(g2.mul(1 / 6.0)), r = g1.mul(1 / 12.0);
        // the conversions are written out here: a toFloat(DoubleVector) helper was compiled on its own, not inlined, so
        // every call boxed its vector (U for 256 x 256 filters took 3.5-4 ms, now 1.1-1.6 ms on this machine)
        g0.mul(0.25).convertShape(VectorOperators.D2F, FH, 0).intoMemorySegment(u, 4L * off, LE);
        s.add(g1).mul(-1 / 6.0).convertShape(VectorOperators.D2F, FH, 0).intoMemorySegment(u, 4L * (off + stride), LE);
        s.sub(g1).mul(-1 / 6.0).convertShape(VectorOperators.D2F, FH, 0).intoMemorySegment(u, 4L * (off + 2 * stride), LE);
        q.add(r).convertShape(VectorOperators.D2F, FH, 0).intoMemorySegment(u, 4L * (off + 3 * stride), LE);
        q.sub(r).convertShape(VectorOperators.D2F, FH, 0).intoMemorySegment(u, 4L * (off + 4 * stride), LE);
        g2.convertShape(VectorOperators.D2F, FH, 0).intoMemorySegment(u, 4L * (off + 5 * stride), LE);
    }

    // slab[r * sw + j] = in[n, ch, y - pt, x0 + j - pl] for the padded rows G = g0 + r = n * hp + y, r < rows, and the
    // padded columns x0 .. x0 + sw, zero outside the input (in: (n, ci, hi, wi) of q)
    static void padRows(float[] slab, MemorySegment in, Geo q, int ch, int g0, int rows, int x0, int sw) {
        int hp = q.hp(), hi = q.hi(), wi = q.wi();
        int a = Math.max(x0, q.pl()), b = Math.min(x0 + sw, wi + q.pl());   // padded columns that hold input
        for (int r = 0; r < rows; r++) {
            int gr = g0 + r, n = gr / hp, iy = gr - n * hp - q.pt(), row = r * sw;
            if (iy < 0 || iy >= hi || b <= a) { java.util.Arrays.fill(slab, row, row + sw, 0f); continue; }
            java.util.Arrays.fill(slab, row, row + a - x0, 0f);
            long src = 4L * (((long) n * q.ci() + ch) * hi * wi + (long) iy * wi + a - q.pl());
            MemorySegment.copy(in, JAVA_FLOAT, src, slab, row + a - x0, b - a);
            java.util.Arrays.fill(slab, row + b - x0, row + sw, 0f);
        }
    }

    // Tiles [p0, p0 + cnt) padded to cols lanes (the tail repeats the last tile; its results are not written). The
    // block's padded rows, from its first tile's first to its last tile's last (G = n * hp + y), go into the slab one
    // channel at a time; v (36 planes of ci x cols) and m (co x cols) are this worker's.
    private static void block(Ctx c, MemorySegment out, MemorySegment u, int uPlane, boolean ut, MemorySegment in,
                              MemorySegment v, MemorySegment m, MemorySegment bias, Geo q, int p0, int cnt) {
        int cols = (cnt + L - 1) / L * L, ci = q.ci(), co = q.co(), th = q.th(), tw = q.tw(), hp = q.hp(), wp = q.wp();
        int vPlane = ci * cols + SKEW, mPlane = co * cols + SKEW;
        int[] idx = c.idx = grow(c.idx, cols), obase = c.obase = grow(c.obase, cols), lim = c.lim = grow(c.lim, cols);
        int last = p0 + cnt - 1, g0 = p0 / (th * tw) * hp + 4 * (p0 % (th * tw) / tw);
        int rows = last / (th * tw) * hp + 4 * (last % (th * tw) / tw) + 6 - g0;
        for (int l = 0; l < cols; l++) {
            int p = p0 + Math.min(l, cnt - 1), n = p / (th * tw), ty = p % (th * tw) / tw, tx = p % tw;
            idx[l] = (n * hp + 4 * ty - g0) * wp + 4 * tx;
            obase[l] = (n * co * q.ho() + 4 * ty) * q.wo() + 4 * tx;
            lim[l] = Math.min(4, q.ho() - 4 * ty) << 3 | Math.min(4, q.wo() - 4 * tx);
        }
        // Runs of RUN lanes are RUN consecutive tiles of one tile row when RUN divides tw (blocks start at multiples of
        // L): the transforms then move whole rows with vector loads / stores and lane permutes instead of gathers.
        boolean runs = RUN > 0 && tw % RUN == 0;
        boolean[] whole = c.whole = c.whole.length >= cols ? c.whole : new boolean[cols];
        for (int r = 0; r < cols; r += Math.max(1, RUN)) whole[r] = runs && r + RUN <= cnt && (lim[r + RUN - 1] & 7) == 4;
        float[] slab = WinogradScratch.slab(rows * wp + 2 * L);   // + the row loads' overrun
        for (int ch = 0; ch < ci; ch++) {
            padRows(slab, in, q, ch, g0, rows, 0, wp);
            for (int l = 0; l < cols; l += L) inputTile(slab, 0, wp, idx, runs, l, c.tmp, v, ch * cols + l, vPlane);
        }
        // M[xi] (co x cols) = U[xi] (co x ci, or stored transposed) V[xi] (ci x cols), single-threaded: one block is one
        // worker's work
        for (int xi = 0; xi < 36; xi++) {
            Gemm.sgemmOneThread(ut, false, co, cols, ci, 1f, u.asSlice(4L * xi * uPlane, 4L * co * ci), ut ? co : ci,
                    v.asSlice(4L * xi * vPlane, 4L * ci * cols), cols, 0f, m.asSlice(4L * xi * mPlane, 4L * co * cols), cols);
        }
        for (int k = 0; k < co; k++) {
            float b = bias == null ? 0f : bias.getAtIndex(JAVA_FLOAT, k);
            long kb = (long) k * q.ho() * q.wo();
            for (int l = 0; l < cols; l += L) {
                outputTile(m, k * cols + l, mPlane, b, c.tmp, c.y);
                if (RUN > 0) storeRuns(out, c.y, kb, q.wo(), obase, lim, whole, l, cnt);
                else storeTiles(out, c.y, kb, q.wo(), obase, lim, l, l, Math.min(cnt, l + L));
            }
        }
    }

    // V[xi][ch][l..l+L) = (B^T d B)[xi] for L tiles at once: d[j][k] = pad[plane + idx[tile] + j * wp + k] (runs:
    // row loads and lane permutes; else gathers). Rows first (d B, into tmp), then columns (B^T (d B), into v at
    // vOff + xi * vStride).
    private static void inputTile(float[] pad, int plane, int wp, int[] idx, boolean runs, int l, float[] tmp,
                                  MemorySegment v, long vOff, long vStride) {
        if (runs) {
            int b0 = idx[l], b1 = idx[l + RUN], b2 = idx[l + 2 * RUN], b3 = idx[l + 3 * RUN];
            for (int j = 0; j < 6; j++) btRuns(pad, plane + j * wp, b0, b1, b2, b3, tmp, j * 6 * L);
        } else {
            for (int j = 0; j < 6; j++) btGather(pad, plane + j * wp, idx, l, tmp, j * 6 * L);
        }
        for (int k = 0; k < 6; k++) btColumn(tmp, k * L, v, vOff + k * vStride, 6 * vStride);
    }

    // The rows of B^T multiplied out: (B^T d)_i for i = 0..5. Array-to-array helpers, as for G above.
    // tmp[off + i * L] = (B^T d)_i with d_k = pad[r + k + idx[l ..]]
    static void btGather(float[] pad, int r, int[] idx, int l, float[] tmp, int off) {
        FloatVector d0 = FloatVector.fromArray(S, pad, r, idx, l), d1 = FloatVector.fromArray(S, pad, r + 1, idx, l);
        FloatVector d2 = FloatVector.fromArray(S, pad, r + 2, idx, l), d3 = FloatVector.fromArray(S, pad, r + 3, idx, l);
        FloatVector d4 = FloatVector.fromArray(S, pad, r + 4, idx, l), d5 = FloatVector.fromArray(S, pad, r + 5, idx, l);
        FloatVector t0 = d4.sub(d2.mul(4f)), t1 = d3.sub(d1.mul(4f)), t2 = d4.sub(d2), t3 = d3.sub(d1).mul(2f);
        d0.mul(4f).add(d4.sub(d2.mul(5f))).intoArray(tmp, off);
        t0.add(t1).intoArray(tmp, off + L);
        t0.sub(t1).intoArray(tmp, off + 2 * L);
        t2.add(t3).intoArray(tmp, off + 3 * L);
        t2.sub(t3).intoArray(tmp, off + 4 * L);
        d1.mul(4f).add(d5.sub(d3.mul(5f))).intoArray(tmp, off + 5 * L);
    }

    // As btGather for 4 runs of RUN tiles at pad[r + b_g ..]: vector g holds 4 columns of each tile of run g; two
    // unzips turn them into d_0..d_3 (lane = tile), and the same from 4 columns further on gives d_4, d_5.
    static void btRuns(float[] pad, int r, int b0, int b1, int b2, int b3, float[] tmp, int off) {
        FloatVector r0 = FloatVector.fromArray(S, pad, r + b0), r1 = FloatVector.fromArray(S, pad, r + b1);
        FloatVector r2 = FloatVector.fromArray(S, pad, r + b2), r3 = FloatVector.fromArray(S, pad, r + b3);
        FloatVector e01 = EVEN.selectFrom(r0, r1), e23 = EVEN.selectFrom(r2, r3), o01 = ODD.selectFrom(r0, r1);
        FloatVector o23 = ODD.selectFrom(r2, r3);
        FloatVector d0 = EVEN.selectFrom(e01, e23), d2 = ODD.selectFrom(e01, e23), d1 = EVEN.selectFrom(o01, o23);
        FloatVector d3 = ODD.selectFrom(o01, o23);
        r0 = FloatVector.fromArray(S, pad, r + b0 + 4);
        r1 = FloatVector.fromArray(S, pad, r + b1 + 4);
        r2 = FloatVector.fromArray(S, pad, r + b2 + 4);
        r3 = FloatVector.fromArray(S, pad, r + b3 + 4);
        FloatVector d4 = EVEN.selectFrom(EVEN.selectFrom(r0, r1), EVEN.selectFrom(r2, r3));
        FloatVector d5 = EVEN.selectFrom(ODD.selectFrom(r0, r1), ODD.selectFrom(r2, r3));
        FloatVector t0 = d4.sub(d2.mul(4f)), t1 = d3.sub(d1.mul(4f)), t2 = d4.sub(d2), t3 = d3.sub(d1).mul(2f);
        d0.mul(4f).add(d4.sub(d2.mul(5f))).intoArray(tmp, off);
        t0.add(t1).intoArray(tmp, off + L);
        t0.sub(t1).intoArray(tmp, off + 2 * L);
        t2.add(t3).intoArray(tmp, off + 3 * L);
        t2.sub(t3).intoArray(tmp, off + 4 * L);
        d1.mul(4f).add(d5.sub(d3.mul(5f))).intoArray(tmp, off + 5 * L);
    }

    /** Tiles per run (a quarter of the lanes), 0 if the lane count is not a multiple of 4. */
    static final int RUN = L % 4 == 0 ? L / 4 : 0;
    // Index vectors for selectFrom(a, b) over the 2L lanes of a then b: EVEN/ODD pick lanes 0, 2, 4.. / 1, 3, 5..
    // (unzip); ZIP_LO/ZIP_HI interleave the low / high halves of a and b (zip).
    static final FloatVector EVEN = lanes(i -> i < L / 2 ? 2 * i : L + 2 * (i - L / 2));
    static final FloatVector ODD = lanes(i -> EVEN.lane(i) + 1);
    private static final FloatVector ZIP_LO = lanes(i -> (i % 2) * L + i / 2);
    private static final FloatVector ZIP_HI = lanes(i -> (i % 2) * L + i / 2 + L / 2);

    private static FloatVector lanes(java.util.function.IntToDoubleFunction f) {
        float[] a = new float[L];
        for (int i = 0; i < L; i++) a[i] = (float) f.applyAsDouble(i);
        return FloatVector.fromArray(S, a, 0);
    }

    // out rows a of the tiles in lanes [l, l + L): y holds (a, b) planes with lane = tile. Zips make each run's rows
    // contiguous (tile-major, 4 columns each), stored as one vector per run when the run is whole; else per element.
    private static void storeRuns(MemorySegment out, float[] y, long kb, int wo, int[] obase, int[] lim, boolean[] whole,
                                  int l, int cnt) {
        for (int a = 0; a < 4; a++) {
            FloatVector y0 = FloatVector.fromArray(S, y, 4 * a * L), y1 = FloatVector.fromArray(S, y, (4 * a + 1) * L);
            FloatVector y2 = FloatVector.fromArray(S, y, (4 * a + 2) * L), y3 = FloatVector.fromArray(S, y, (4 * a + 3) * L);
            FloatVector lo = ZIP_LO.selectFrom(y0, y2), hi = ZIP_HI.selectFrom(y0, y2);
            FloatVector lo1 = ZIP_LO.selectFrom(y1, y3), hi1 = ZIP_HI.selectFrom(y1, y3);
            int s0 = l, s1 = l + RUN, s2 = l + 2 * RUN, s3 = l + 3 * RUN;
            if (whole[s0] && a < lim[s0] >> 3) ZIP_LO.selectFrom(lo, lo1).intoMemorySegment(out, 4 * (kb + obase[s0] + a * (long) wo), LE);
            else storeRow(out, y, a, kb, wo, obase, lim, l, s0, Math.min(cnt, s0 + RUN));
            if (whole[s1] && a < lim[s1] >> 3) ZIP_HI.selectFrom(lo, lo1).intoMemorySegment(out, 4 * (kb + obase[s1] + a * (long) wo), LE);
            else storeRow(out, y, a, kb, wo, obase, lim, l, s1, Math.min(cnt, s1 + RUN));
            if (whole[s2] && a < lim[s2] >> 3) ZIP_LO.selectFrom(hi, hi1).intoMemorySegment(out, 4 * (kb + obase[s2] + a * (long) wo), LE);
            else storeRow(out, y, a, kb, wo, obase, lim, l, s2, Math.min(cnt, s2 + RUN));
            if (whole[s3] && a < lim[s3] >> 3) ZIP_HI.selectFrom(hi, hi1).intoMemorySegment(out, 4 * (kb + obase[s3] + a * (long) wo), LE);
            else storeRow(out, y, a, kb, wo, obase, lim, l, s3, Math.min(cnt, s3 + RUN));
        }
    }

    // Row a of tiles [t0, t1) (lanes t - l of y), clipped to the output
    private static void storeRow(MemorySegment out, float[] y, int a, long kb, int wo, int[] obase, int[] lim, int l, int t0,
                                 int t1) {
        for (int t = t0; t < t1; t++) {
            if (a >= lim[t] >> 3) continue;
            long o = kb + obase[t] + (long) a * wo;
            for (int e = 0, cw = lim[t] & 7; e < cw; e++) out.setAtIndex(JAVA_FLOAT, o + e, y[(a * 4 + e) * L + t - l]);
        }
    }

    private static void storeTiles(MemorySegment out, float[] y, long kb, int wo, int[] obase, int[] lim, int l, int t0,
                                   int t1) {
        for (int a = 0; a < 4; a++) storeRow(out, y, a, kb, wo, obase, lim, l, t0, t1);
    }

    // v[off + i * stride] = (B^T d)_i with d_j = tmp[to + 6 j L]
    static void btColumn(float[] tmp, int to, MemorySegment v, long off, long stride) {
        FloatVector d0 = FloatVector.fromArray(S, tmp, to), d1 = FloatVector.fromArray(S, tmp, to + 6 * L);
        FloatVector d2 = FloatVector.fromArray(S, tmp, to + 12 * L), d3 = FloatVector.fromArray(S, tmp, to + 18 * L);
        FloatVector d4 = FloatVector.fromArray(S, tmp, to + 24 * L), d5 = FloatVector.fromArray(S, tmp, to + 30 * L);
        FloatVector t0 = d4.sub(d2.mul(4f)), t1 = d3.sub(d1.mul(4f)), t2 = d4.sub(d2), t3 = d3.sub(d1).mul(2f);
        d0.mul(4f).add(d4.sub(d2.mul(5f))).intoMemorySegment(v, 4 * off, LE);
        t0.add(t1).intoMemorySegment(v, 4 * (off + stride), LE);
        t0.sub(t1).intoMemorySegment(v, 4 * (off + 2 * stride), LE);
        t2.add(t3).intoMemorySegment(v, 4 * (off + 3 * stride), LE);
        t2.sub(t3).intoMemorySegment(v, 4 * (off + 4 * stride), LE);
        d1.mul(4f).add(d5.sub(d3.mul(5f))).intoMemorySegment(v, 4 * (off + 5 * stride), LE);
    }

    // y[(a * 4 + b) * L ..] = (A^T M A)[a][b] + bias for L tiles; M[xi] at m[mOff + xi * mStride]. Columns first
    // (A^T M, into tmp), then rows.
    private static void outputTile(MemorySegment m, long mOff, long mStride, float bias, float[] tmp, float[] y) {
        for (int k = 0; k < 6; k++) atColumn(m, mOff + k * mStride, 6 * mStride, tmp, k * L);
        for (int a = 0; a < 4; a++) at(tmp, a * 6 * L, L, bias, y, a * 4 * L, L);
    }

    // As at, from a segment and without bias: tmp[off + i * 6 L] = (A^T m)_i with m_j = m[so + j * ss]
    private static void atColumn(MemorySegment m, long so, long ss, float[] dst, int off) {
        FloatVector m0 = FloatVector.fromMemorySegment(S, m, 4 * so, LE), m1 = FloatVector.fromMemorySegment(S, m, 4 * (so + ss), LE);
        FloatVector m2 = FloatVector.fromMemorySegment(S, m, 4 * (so + 2 * ss), LE);
        FloatVector m3 = FloatVector.fromMemorySegment(S, m, 4 * (so + 3 * ss), LE);
        FloatVector m4 = FloatVector.fromMemorySegment(S, m, 4 * (so + 4 * ss), LE);
        FloatVector m5 = FloatVector.fromMemorySegment(S, m, 4 * (so + 5 * ss), LE);
        FloatVector s1 = m1.add(m2), d1 = m1.sub(m2), s2 = m3.add(m4), d2 = m3.sub(m4);
        int stride = 6 * L;
        m0.add(s1).add(s2).intoArray(dst, off);
        d1.add(d2.mul(2f)).intoArray(dst, off + stride);
        s1.add(s2.mul(4f)).intoArray(dst, off + 2 * stride);
        d1.add(d2.mul(8f)).add(m5).intoArray(dst, off + 3 * stride);
    }

    // The rows of A^T multiplied out: dst[off + i * stride] = (A^T m)_i + bias, i = 0..3, with m_j = src[so + j * ss]
    private static void at(float[] src, int so, int ss, float bias, float[] dst, int off, int stride) {
        FloatVector m0 = FloatVector.fromArray(S, src, so), m1 = FloatVector.fromArray(S, src, so + ss);
        FloatVector m2 = FloatVector.fromArray(S, src, so + 2 * ss), m3 = FloatVector.fromArray(S, src, so + 3 * ss);
        FloatVector m4 = FloatVector.fromArray(S, src, so + 4 * ss), m5 = FloatVector.fromArray(S, src, so + 5 * ss);
        FloatVector s1 = m1.add(m2), d1 = m1.sub(m2), s2 = m3.add(m4), d2 = m3.sub(m4);
        m0.add(s1).add(s2).add(bias).intoArray(dst, off);
        d1.add(d2.mul(2f)).add(bias).intoArray(dst, off + stride);
        s1.add(s2.mul(4f)).add(bias).intoArray(dst, off + 2 * stride);
        d1.add(d2.mul(8f)).add(m5).add(bias).intoArray(dst, off + 3 * stride);
    }
}
