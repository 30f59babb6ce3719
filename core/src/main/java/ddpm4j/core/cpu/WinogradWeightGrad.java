// SPDX-License-Identifier: Apache-2.0
// Winograd F(4x4, 3x3) conv2d weight gradient (Lavin & Gray 2015): the transpose of WinogradConv2d's forward.
// CpuConv2d dispatches here (-Dddpm4j.winograd, -Dddpm4j.winograd.wgrad). Definition: RefLayers.conv2dBackwardWeight.
// Test: WinogradWeightGradTest.
package ddpm4j.core.cpu;

import ddpm4j.core.Backend;
import ddpm4j.core.Backend.ConvGeom;
import ddpm4j.core.cpu.WinogradConv2d.Geo;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

import static ddpm4j.core.cpu.CpuMem.L;
import static ddpm4j.core.cpu.CpuMem.LE;
import static ddpm4j.core.cpu.CpuMem.S;
import static ddpm4j.core.cpu.WinogradConv2d.EVEN;
import static ddpm4j.core.cpu.WinogradConv2d.ODD;
import static ddpm4j.core.cpu.WinogradConv2d.RUN;
import static ddpm4j.core.cpu.WinogradConv2d.SKEW;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * The forward computes, per 4x4 output tile t, Y_t = A^T [ sum_c U[k,c] .* V[c,t] ] A with U = G g G^T and
 * V = B^T d B. Its transpose: with M'_t = A dY_t A^T (dY_t the tile of dy, zero beyond Ho x Wo, 4x4 -> 6x6),
 * dU[xi] (K x C) = sum_t M'[xi] (K x T) V[xi]^T (T x C) for each of the 36 points xi, and dW[k,c] = G^T dU[k,c] G.
 *
 * <p>Tiles go in chunks whose size depends on the geometry only. Per chunk: 1. V and M' of every tile (parallel over
 * groups of tiles; each value is computed on its own), 2. the 36 GEMMs, one single-threaded GEMM per point xi
 * accumulating onto the chunks before it (parallel over xi). Every sum therefore runs in the same order whatever
 * {@link Parallel#threads()} is, and results are bit-identical for any thread count. 3. dW = G^T dU G.
 */
final class WinogradWeightGrad {
    private WinogradWeightGrad() {}

    /** {@code -Dddpm4j.winograd.wgrad=false} leaves weight gradients to oneDNN whatever the Winograd policy (A/B runs). */
    private static final boolean ENABLED = Boolean.parseBoolean(System.getProperty("ddpm4j.winograd.wgrad", "true"));
    /** Floats of V and M' per chunk (both together): 1 MB at the default, so a chunk stays in L2 (measured 2x faster than 16 MB). */
    private static final long CHUNK_FLOATS = Long.getLong("ddpm4j.winograd.wgradFloats", 1L << 18);

    /**
     * Fewest tiles per chunk (unless the test's tiny chunkFloats asks for fewer): each chunk reads and writes all of dU
     * (36 K C floats), which with fewer tiles costs more than the GEMMs' own work.
     */
    private static final int MIN_CHUNK_TILES = 64;

    /** Whether CpuConv2d computes {@code g}'s weight gradient here under the current Winograd policy. */
    static boolean use(ConvGeom g) {
        if (!ENABLED) return false;
        CpuBackend.Winograd m = WinogradConv2d.mode();
        return m == CpuBackend.Winograd.ALL ? eligible(g) : m == CpuBackend.Winograd.PREFERRED && preferred(g);
    }

    /** WinogradConv2d's eligibility (3x3, stride 1, int-sized buffers), and a chunk's buffers of int size. */
    static boolean eligible(ConvGeom g) {
        return WinogradConv2d.eligible(g) && 36L * (g.c() + g.k()) * L < Integer.MAX_VALUE / 2;
    }

    /**
     * Eligible, with at least 16 channels in and out and 16 tiles. Measured against oneDNN here (2 threads, in one JVM,
     * interleaved; WinogradWeightGradPerf): 1.2-2.4x faster at the U-Nets' layers from 32x32 down to 7x7 and 4x4 at
     * N 16 (16 tiles), and for 14x14, 7x7 despite the tiling's cut-off outputs; slower or even for conv_in / conv_out
     * (1 or 3 channels) and at 4x4 with N 8 (8 tiles: GEMMs of depth 8).
     */
    static boolean preferred(ConvGeom g) {
        if (!eligible(g) || Math.min(g.c(), g.k()) < 16) return false;
        long tiles = (long) g.n() * ((g.ho() + 3) / 4) * ((g.wo() + 3) / 4);
        return tiles >= 16;
    }

    // dw: (K, C, 3, 3), dbias: (K) or null, both overwritten; dy: (N, K, Ho, Wo)  x: (N, C, H, W)
    static void backwardWeights(MemorySegment dw, MemorySegment dbias, MemorySegment dy, MemorySegment x, ConvGeom g) {
        backwardWeights(null, dw, dbias, dy, x, g, CHUNK_FLOATS);
    }

    /** As above with scratch from {@code be}'s pool (null: an arena per call). */
    static void backwardWeights(Backend be, MemorySegment dw, MemorySegment dbias, MemorySegment dy, MemorySegment x,
                                ConvGeom g) {
        backwardWeights(be, dw, dbias, dy, x, g, CHUNK_FLOATS);
    }

    /** As above with chunks of about {@code chunkFloats} floats of V and M' (tests use small ones to get many chunks). */
    static void backwardWeights(MemorySegment dw, MemorySegment dbias, MemorySegment dy, MemorySegment x, ConvGeom g,
                                long chunkFloats) {
        backwardWeights(null, dw, dbias, dy, x, g, chunkFloats);
    }

    private static void backwardWeights(Backend be, MemorySegment dw, MemorySegment dbias, MemorySegment dy,
                                        MemorySegment x, ConvGeom g, long chunkFloats) {
        if (!eligible(g)) {
            throw new IllegalArgumentException("winograd conv2d weight gradient: needs a 3x3 stride-1 geometry of int size, got " + g);
        }
        Geo q = new Geo(g.n(), g.c(), g.h(), g.w(), g.k(), g.ho(), g.wo(), g.padTop(), g.padLeft());
        // dy padded to the same (4 th + 2) x (4 tw + 2) planes as x, zero beyond Ho x Wo: tile t reads rows 4 ty..4 ty + 3
        Geo qy = new Geo(g.n(), g.k(), g.ho(), g.wo(), g.k(), g.ho(), g.wo(), 0, 0);
        int c = g.c(), k = g.k(), tiles = q.tiles();
        long perChunk = Math.max(chunkFloats / (36L * (c + k)), Math.min(MIN_CHUNK_TILES, chunkFloats));
        int chunks = (int) Math.max(1, Math.min((tiles + L - 1) / L, (tiles + perChunk - 1) / perChunk));
        int tc = ((tiles + chunks - 1) / chunks + L - 1) / L * L;   // tiles per chunk, a multiple of L
        chunks = (tiles + tc - 1) / tc;
        int vPlane = c * tc + SKEW, mPlane = k * tc + SKEW, kc = k * c, uPlane = (kc + L - 1) / L * L + SKEW;
        long vSize = WinogradScratch.lines(36L * vPlane), mSize = WinogradScratch.lines(36L * mPlane);
        try (WinogradScratch scratch = WinogradScratch.take(be, vSize + mSize + 36L * uPlane + L)) {
            MemorySegment v = scratch.seg.asSlice(0, 4 * vSize), m = scratch.seg.asSlice(4 * vSize, 4 * mSize);
            MemorySegment du = scratch.seg.asSlice(4 * (vSize + mSize));
            float[] bsum = dbias == null ? null : new float[k];
            for (int ch = 0; ch < chunks; ch++) {
                int p0 = ch * tc, cnt = Math.min(tc, tiles - p0), groups = (cnt + L - 1) / L;
                // 1. V[xi][c][t] and M'[xi][k][t] for the chunk's tiles, L tiles per group
                Parallel.forRange(groups, 1, (wk, lo, hi) -> {
                    Ctx w = CTX.get();
                    for (int gr = lo; gr < hi; gr++) transformGroup(w, x, dy, v, m, q, qy, tc, vPlane, mPlane, p0, gr * L, cnt);
                });
                // 2. dU[xi] (K x C) (+)= M'[xi] (K x cnt) V[xi]^T, one single-threaded GEMM per point
                float beta = ch == 0 ? 0f : 1f;
                Parallel.forRange(36, 1, (wk, lo, hi) -> {
                    for (int xi = lo; xi < hi; xi++) {
                        if (xi == BIAS_XI && bsum != null) tileSums(m, (long) xi * mPlane, tc, cnt, k, bsum);
                        Gemm.sgemmOneThread(false, true, k, c, cnt, 1f, m.asSlice(4L * xi * mPlane, 4L * k * tc), tc,
                                v.asSlice(4L * xi * vPlane, 4L * c * tc), tc, beta, du.asSlice(4L * xi * uPlane, 4L * kc), c);
                    }
                });
            }
            // 3. dW[k, c] = G^T dU[k, c] G, L pairs (k, c) at a time
            int fBlocks = (kc + L - 1) / L, threads = Parallel.threads();
            Parallel.forRange(fBlocks, Math.max(1, fBlocks / (4 * threads)), (wk, lo, hi) -> {
                Ctx w = CTX.get();
                for (int b = lo; b < hi; b++) outputTransform(w, du, uPlane, dw, b * L, Math.min(L, kc - b * L));
            });
            // 4. dbias[k] = the sum over chunks of their tiles' sums of dy
            if (dbias != null) MemorySegment.copy(bsum, 0, dbias, JAVA_FLOAT, 0, k);
        }
    }

    /**
     * The point xi = 6 + 1 of M' = A dY A^T: row 1 of A is all ones (A d = d0, d0+d1+d2+d3, ...), so M'[7] holds each
     * tile's sum of dy (zero beyond Ho x Wo), and the bias gradient comes from it at no extra pass over dy.
     */
    private static final int BIAS_XI = 7;

    // bsum[k] += sum of m[at + k * tc + t] for t < cnt (lanes then their sum, in a fixed order)
    private static void tileSums(MemorySegment m, long at, int tc, int cnt, int k, float[] bsum) {
        for (int kk = 0; kk < k; kk++) {
            long row = at + (long) kk * tc;
            FloatVector acc = FloatVector.zero(S);
            int t = 0;
            for (int bound = S.loopBound(cnt); t < bound; t += L) acc = acc.add(FloatVector.fromMemorySegment(S, m, 4 * (row + t), LE));
            float sum = CpuMem.sumLanes(acc);
            for (; t < cnt; t++) sum += m.getAtIndex(JAVA_FLOAT, row + t);
            bsum[kk] += sum;
        }
    }

    /** Per-thread buffers of a few KB (V, M' and dU are per call, from the pool: see WinogradScratch). */
    private static final class Ctx {
        final float[] tmp = new float[36 * L];
        final int[] idx = new int[L];
        final float[] t = new float[18 * L], o = new float[9 * L], y = new float[9 * L];
    }

    private static final ThreadLocal<Ctx> CTX = ThreadLocal.withInitial(Ctx::new);

    // Tiles p0 + l0 .. p0 + l0 + L (lanes past the chunk's cnt repeat its last tile; their columns are never read):
    // V at v[xi * vPlane + c * tc + l0 ..], M' at m[xi * mPlane + k * tc + l0 ..]. The group's padded rows (G = n hp + y,
    // from its first tile's to its last tile's) and columns (the tiles' own when they share one tile row, else all) of
    // one channel of x, or of dy (zero beyond Ho x Wo, 4 rows per tile), at a time go into the slab.
    private static void transformGroup(Ctx w, MemorySegment x, MemorySegment dy, MemorySegment v, MemorySegment m, Geo q,
                                       Geo qy, int tc, int vPlane, int mPlane, int p0, int l0, int cnt) {
        int th = q.th(), tw = q.tw(), hp = q.hp(), wp = q.wp(), ci = q.ci(), co = q.co(), per = th * tw;
        int pf = p0 + l0, pl = p0 + Math.min(l0 + L, cnt) - 1;
        int nf = pf / per, tyf = pf % per / tw, nl = pl / per, tyl = pl % per / tw;
        boolean oneRow = nf == nl && tyf == tyl;
        int x0 = oneRow ? 4 * (pf % tw) : 0, sw = oneRow ? 4 * (pl - pf) + 6 : wp;
        int g0 = nf * hp + 4 * tyf, rows = nl * hp + 4 * tyl + 6 - g0;
        int[] idx = w.idx;
        for (int l = 0; l < L; l++) {
            int p = p0 + Math.min(l0 + l, cnt - 1), n = p / per, ty = p % per / tw, tx = p % tw;
            idx[l] = (n * hp + 4 * ty - g0) * sw + 4 * tx - x0;
        }
        // runs of RUN lanes are RUN consecutive tiles of one tile row (groups start at multiples of L), as in the forward
        boolean runs = RUN > 0 && tw % RUN == 0;
        float[] tmp = w.tmp, slab = WinogradScratch.slab(rows * sw + 2 * L);   // + the row loads' overrun
        int b0 = idx[0], b1 = idx[RUN], b2 = idx[2 * RUN], b3 = idx[3 * RUN];
        for (int c = 0; c < ci; c++) {
            WinogradConv2d.padRows(slab, x, q, c, g0, rows, x0, sw);
            if (runs) {
                for (int j = 0; j < 6; j++) WinogradConv2d.btRuns(slab, j * sw, b0, b1, b2, b3, tmp, j * 6 * L);
            } else {
                for (int j = 0; j < 6; j++) WinogradConv2d.btGather(slab, j * sw, idx, 0, tmp, j * 6 * L);
            }
            long off = (long) c * tc + l0;
            for (int kk = 0; kk < 6; kk++) WinogradConv2d.btColumn(tmp, kk * L, v, off + (long) kk * vPlane, 6L * vPlane);
        }
        for (int k = 0; k < co; k++) {
            WinogradConv2d.padRows(slab, dy, qy, k, g0, rows - 2, x0, sw);
            if (runs) {
                for (int a = 0; a < 4; a++) aRuns(slab, a * sw, b0, b1, b2, b3, tmp, a * 6 * L);
            } else {
                for (int a = 0; a < 4; a++) aGather(slab, a * sw, idx, tmp, a * 6 * L);
            }
            long off = (long) k * tc + l0;
            for (int j = 0; j < 6; j++) aColumn(tmp, j * L, m, off + (long) j * mPlane, 6L * mPlane);
        }
    }

    // The columns of A^T (the rows of A) multiplied out, 4 -> 6: (A d)_j = d0, d0+d1+d2+d3, d0-d1+d2-d3,
    // d0+2d1+4d2+8d3, d0-2d1+4d2-8d3, d3. Array-to-array helpers, so no vector crosses a call (see WinogradConv2d).
    // tmp[off + j * L] = (A d)_j with d_b = padY[r + b + idx[lane]]
    private static void aGather(float[] padY, int r, int[] idx, float[] tmp, int off) {
        FloatVector d0 = FloatVector.fromArray(S, padY, r, idx, 0), d1 = FloatVector.fromArray(S, padY, r + 1, idx, 0);
        FloatVector d2 = FloatVector.fromArray(S, padY, r + 2, idx, 0), d3 = FloatVector.fromArray(S, padY, r + 3, idx, 0);
        FloatVector s = d0.add(d2), t = d1.add(d3), u = d0.add(d2.mul(4f)), w = d1.mul(2f).add(d3.mul(8f));
        d0.intoArray(tmp, off);
        s.add(t).intoArray(tmp, off + L);
        s.sub(t).intoArray(tmp, off + 2 * L);
        u.add(w).intoArray(tmp, off + 3 * L);
        u.sub(w).intoArray(tmp, off + 4 * L);
        d3.intoArray(tmp, off + 5 * L);
    }

    // As aGather for 4 runs of RUN tiles at padY[r + b_g ..]: two unzips turn 4 row loads into d_0..d_3 (lane = tile)
    private static void aRuns(float[] padY, int r, int b0, int b1, int b2, int b3, float[] tmp, int off) {
        FloatVector r0 = FloatVector.fromArray(S, padY, r + b0), r1 = FloatVector.fromArray(S, padY, r + b1);
        FloatVector r2 = FloatVector.fromArray(S, padY, r + b2), r3 = FloatVector.fromArray(S, padY, r + b3);
        FloatVector e01 = EVEN.selectFrom(r0, r1), e23 = EVEN.selectFrom(r2, r3), o01 = ODD.selectFrom(r0, r1);
        FloatVector o23 = ODD.selectFrom(r2, r3);
        FloatVector d0 = EVEN.selectFrom(e01, e23), d2 = ODD.selectFrom(e01, e23), d1 = EVEN.selectFrom(o01, o23);
        FloatVector d3 = ODD.selectFrom(o01, o23);
        FloatVector s = d0.add(d2), t = d1.add(d3), u = d0.add(d2.mul(4f)), w = d1.mul(2f).add(d3.mul(8f));
        d0.intoArray(tmp, off);
        s.add(t).intoArray(tmp, off + L);
        s.sub(t).intoArray(tmp, off + 2 * L);
        u.add(w).intoArray(tmp, off + 3 * L);
        u.sub(w).intoArray(tmp, off + 4 * L);
        d3.intoArray(tmp, off + 5 * L);
    }

    // m[off + i * stride] = (A d)_i with d_a = tmp[to + 6 a L]
    private static void aColumn(float[] tmp, int to, MemorySegment m, long off, long stride) {
        FloatVector d0 = FloatVector.fromArray(S, tmp, to), d1 = FloatVector.fromArray(S, tmp, to + 6 * L);
        FloatVector d2 = FloatVector.fromArray(S, tmp, to + 12 * L), d3 = FloatVector.fromArray(S, tmp, to + 18 * L);
        FloatVector s = d0.add(d2), t = d1.add(d3), u = d0.add(d2.mul(4f)), w = d1.mul(2f).add(d3.mul(8f));
        d0.intoMemorySegment(m, 4 * off, LE);
        s.add(t).intoMemorySegment(m, 4 * (off + stride), LE);
        s.sub(t).intoMemorySegment(m, 4 * (off + 2 * stride), LE);
        u.add(w).intoMemorySegment(m, 4 * (off + 3 * stride), LE);
        u.sub(w).intoMemorySegment(m, 4 * (off + 4 * stride), LE);
        d3.intoMemorySegment(m, 4 * (off + 5 * stride), LE);
    }

    // dw[(f + l) * 9 + r * 3 + s] = (G^T dU G)[r][s] for pairs f + l, l < cnt (f = k * C + c): dU[xi] at
    // du[xi * uPlane + f ..] (read L at a time; the planes are padded to a multiple of L), rows then columns in
    // float, reordered pair-major in y, then copied out.
    private static void outputTransform(Ctx w, MemorySegment du, int uPlane, MemorySegment dw, int f, int cnt) {
        float[] t = w.t, o = w.o, y = w.y;
        for (int i = 0; i < 6; i++) gtRow(du, (long) i * 6 * uPlane + f, uPlane, t, i * 3 * L);   // t = dU G
        for (int s = 0; s < 3; s++) gt(t, s * L, 3 * L, o, s * L, 3 * L);                     // o = G^T t
        for (int l = 0; l < cnt; l++)
            for (int e = 0; e < 9; e++) y[9 * l + e] = o[e * L + l];
        MemorySegment.copy(y, 0, dw, JAVA_FLOAT, 36L * f, 9 * cnt);
    }

    // The rows of G^T multiplied out, 6 -> 3: dst[off + r * stride] = (G^T u)_r with u_i = src[so + i * ss]:
    // u0/4 - (u1+u2)/6 + (u3+u4)/24, -(u1-u2)/6 + (u3-u4)/12, -(u1+u2)/6 + (u3+u4)/6 + u5
    private static void gt(float[] src, int so, int ss, float[] dst, int off, int stride) {
        FloatVector u0 = FloatVector.fromArray(S, src, so), u1 = FloatVector.fromArray(S, src, so + ss);
        FloatVector u2 = FloatVector.fromArray(S, src, so + 2 * ss), u3 = FloatVector.fromArray(S, src, so + 3 * ss);
        FloatVector u4 = FloatVector.fromArray(S, src, so + 4 * ss), u5 = FloatVector.fromArray(S, src, so + 5 * ss);
        FloatVector p = u1.add(u2), d = u1.sub(u2), s = u3.add(u4), e = u3.sub(u4);
        u0.mul(0.25f).sub(p.mul(1 / 6f)).add(s.mul(1 / 24f)).intoArray(dst, off);
        e.mul(1 / 12f).sub(d.mul(1 / 6f)).intoArray(dst, off + stride);
        s.sub(p).mul(1 / 6f).add(u5).intoArray(dst, off + 2 * stride);
    }

    // As gt for one row i of dU, read from du at (xi = 6 i + j) * uPlane + f: dst[off + s * L] = (dU G)[i][s]
    private static void gtRow(MemorySegment du, long at, long uPlane, float[] dst, int off) {
        FloatVector u0 = FloatVector.fromMemorySegment(S, du, 4 * at, LE), u1 = FloatVector.fromMemorySegment(S, du, 4 * (at + uPlane), LE);
        FloatVector u2 = FloatVector.fromMemorySegment(S, du, 4 * (at + 2 * uPlane), LE);
        FloatVector u3 = FloatVector.fromMemorySegment(S, du, 4 * (at + 3 * uPlane), LE);
        FloatVector u4 = FloatVector.fromMemorySegment(S, du, 4 * (at + 4 * uPlane), LE);
        FloatVector u5 = FloatVector.fromMemorySegment(S, du, 4 * (at + 5 * uPlane), LE);
        FloatVector p = u1.add(u2), d = u1.sub(u2), s = u3.add(u4), e = u3.sub(u4);
        u0.mul(0.25f).sub(p.mul(1 / 6f)).add(s.mul(1 / 24f)).intoArray(dst, off);
        e.mul(1 / 12f).sub(d.mul(1 / 6f)).intoArray(dst, off + L);
        s.sub(p).mul(1 / 6f).add(u5).intoArray(dst, off + 2 * L);
    }
}
