// SPDX-License-Identifier: Apache-2.0
// Pure Java SGEMM (Vector API): packed A and B panels, a 6 x 2-vector register-tiled micro-kernel, Parallel tiles.
// The fallback behind Gemm when OpenBLAS cannot load; GemmTest checks it against a double-precision loop.
package ddpm4j.core.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/** Row-major {@code C = alpha * op(A) * op(B) + beta * C} in Java; arguments are checked by {@link Gemm}. */
final class JavaGemm {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder LE = ByteOrder.nativeOrder();
    /** Micro-tile: MR rows by NR = 2 vectors of columns, 12 accumulators (fits 16 or 32 vector registers). */
    private static final int MR = 6, NR = 2 * L;
    /** Cache blocking: a KC-deep slice of A (MC rows) stays in L2 while a KC x NR panel of B streams through L1. */
    private static final int KC = 256, MC = 16 * MR, NC = 64 * NR, NB = 8 * NR;

    // Packing buffers of the calling thread: A slice (M x KC) and B block (KC x NC), grown on demand, then reused.
    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[2][0]);

    private JavaGemm() {}

    static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                      MemorySegment a, int lda, MemorySegment b, int ldb, float beta, MemorySegment c, int ldc) {
        // segments of a confined arena can only be touched from this thread: one chunk per loop then
        boolean par = Parallel.accessibleByWorkers(a) && Parallel.accessibleByWorkers(b)
                && Parallel.accessibleByWorkers(c);
        // 1. C = beta * C (exact zero when beta == 0, so NaN or garbage in C does not leak through)
        if (beta != 1f) {
            Parallel.forRange(m, par ? Math.max(1, 4096 / Math.max(1, n)) : m, (w, lo, hi) -> {
                for (int i = lo; i < hi; i++) scaleRow(c, (long) i * ldc, n, beta);
            });
        }
        if (k == 0 || alpha == 0f || m == 0 || n == 0) return;

        int mPanels = (m + MR - 1) / MR;
        float[][] buf = BUFFERS.get();
        int aNeed = mPanels * MR * KC, bNeed = KC * NC;
        if (buf[0].length < aNeed) buf[0] = new float[aNeed];
        if (buf[1].length < bNeed) buf[1] = new float[bNeed];
        float[] aPack = buf[0], bPack = buf[1];

        for (int pc = 0; pc < k; pc += KC) {
            int kc = Math.min(KC, k - pc);
            int p0 = pc;
            // 2. pack alpha * op(A)[:, pc:pc+kc] into MR-row panels, laid out [panel][p][r]
            Parallel.forRange(mPanels, split(mPanels, par), (w, lo, hi) -> {
                for (int ip = lo; ip < hi; ip++) packA(transA, a, lda, m, ip * MR, p0, kc, alpha, aPack, ip * MR * kc);
            });
            for (int jc = 0; jc < n; jc += NC) {
                int nc = Math.min(NC, n - jc), j0 = jc;
                int nPanels = (nc + NR - 1) / NR;
                // 3. pack op(B)[pc:pc+kc, jc:jc+nc] into NR-column panels, laid out [panel][p][col]
                Parallel.forRange(nPanels, split(nPanels, par), (w, lo, hi) -> {
                    for (int jp = lo; jp < hi; jp++) packB(transB, b, ldb, n, p0, kc, j0 + jp * NR, bPack, jp * NR * kc);
                });
                // 4. tiles of MC rows x NB columns, spread over the pool
                int mTiles = (m + MC - 1) / MC, nTiles = (nc + NB - 1) / NB;
                Parallel.forRange(mTiles * nTiles, par ? 1 : mTiles * nTiles, (w, lo, hi) -> {
                    float[] tile = CpuMem.scratch(3, MR * NR);
                    for (int t = lo; t < hi; t++) {
                        int i0 = (t / nTiles) * MC, jt = (t % nTiles) * NB;
                        int iEnd = Math.min(m, i0 + MC), jEnd = Math.min(nc, jt + NB);
                        for (int j = jt; j < jEnd; j += NR) {
                            for (int i = i0; i < iEnd; i += MR) {
                                kernel(kc, aPack, (i / MR) * MR * kc, bPack, (j / NR) * NR * kc,
                                        c, (long) i * ldc + j0 + j, ldc, Math.min(MR, m - i), Math.min(NR, nc - j), tile);
                            }
                        }
                    }
                });
            }
        }
    }

    // grain that splits n evenly over the pool, or one chunk (serial) when the segments are confined
    private static int split(int n, boolean par) {
        return par ? Math.max(1, (n + Parallel.threads() - 1) / Parallel.threads()) : Math.max(1, n);
    }

    private static void scaleRow(MemorySegment c, long off, int n, float beta) {
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) {
            long o = (off + j) * 4;
            var v = beta == 0f ? FloatVector.zero(S) : FloatVector.fromMemorySegment(S, c, o, LE).mul(beta);
            v.intoMemorySegment(c, o, LE);
        }
        for (; j < n; j++) {
            long o = (off + j) * 4;
            c.set(JAVA_FLOAT_UNALIGNED, o, beta == 0f ? 0f : c.get(JAVA_FLOAT_UNALIGNED, o) * beta);
        }
    }

    // op(A)[i, p] is a[i * lda + p], or a[p * lda + i] when transposed; rows past m are zero.
    private static void packA(boolean trans, MemorySegment a, int lda, int m, int i0, int p0, int kc, float alpha,
                              float[] dst, int d) {
        int rows = Math.min(MR, m - i0);
        for (int p = 0; p < kc; p++) {
            int o = d + p * MR;
            for (int r = 0; r < rows; r++) {
                long idx = trans ? (long) (p0 + p) * lda + i0 + r : (long) (i0 + r) * lda + p0 + p;
                dst[o + r] = alpha * a.getAtIndex(JAVA_FLOAT_UNALIGNED, idx);
            }
            for (int r = rows; r < MR; r++) dst[o + r] = 0f;
        }
    }

    // op(B)[p, j] is b[p * ldb + j], or b[j * ldb + p] when transposed; columns past n are zero.
    private static void packB(boolean trans, MemorySegment b, int ldb, int n, int p0, int kc, int j0,
                              float[] dst, int d) {
        int cols = Math.min(NR, n - j0);
        for (int p = 0; p < kc; p++) {
            int o = d + p * NR;
            if (!trans && cols == NR) {
                long off = ((long) (p0 + p) * ldb + j0) * 4;
                FloatVector.fromMemorySegment(S, b, off, LE).intoArray(dst, o);
                FloatVector.fromMemorySegment(S, b, off + 4L * L, LE).intoArray(dst, o + L);
                continue;
            }
            for (int col = 0; col < cols; col++) {
                long idx = trans ? (long) (j0 + col) * ldb + p0 + p : (long) (p0 + p) * ldb + j0 + col;
                dst[o + col] = b.getAtIndex(JAVA_FLOAT_UNALIGNED, idx);
            }
            for (int col = cols; col < NR; col++) dst[o + col] = 0f;
        }
    }

    // C[rows x cols] += Apanel (MR x kc) * Bpanel (kc x NR); rows <= MR, cols <= NR mask the edge tiles.
    private static void kernel(int kc, float[] ap, int ao, float[] bp, int bo, MemorySegment c, long co, int ldc,
                               int rows, int cols, float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int p = 0; p < kc; p++, ao += MR, bo += NR) {
            var b0 = FloatVector.fromArray(S, bp, bo);
            var b1 = FloatVector.fromArray(S, bp, bo + L);
            var a = FloatVector.broadcast(S, ap[ao]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01);
            a = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11);
            a = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = a.fma(b0, c20); c21 = a.fma(b1, c21);
            a = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = a.fma(b0, c30); c31 = a.fma(b1, c31);
            a = FloatVector.broadcast(S, ap[ao + 4]);
            c40 = a.fma(b0, c40); c41 = a.fma(b1, c41);
            a = FloatVector.broadcast(S, ap[ao + 5]);
            c50 = a.fma(b0, c50); c51 = a.fma(b1, c51);
        }
        // 1. accumulators to a small array (passing vectors to a helper that is not inlined would box them)
        c00.intoArray(tile, 0); c01.intoArray(tile, L);
        c10.intoArray(tile, NR); c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR); c41.intoArray(tile, 4 * NR + L);
        c50.intoArray(tile, 5 * NR); c51.intoArray(tile, 5 * NR + L);
        // 2. C += tile, masked at the right edge, rows past the bottom edge skipped
        for (int r = 0; r < rows; r++) {
            long o = (co + (long) r * ldc) * 4;
            for (int h = 0; h < NR; h += L) {
                if (h + L <= cols) {
                    FloatVector.fromMemorySegment(S, c, o + 4L * h, LE).add(FloatVector.fromArray(S, tile, r * NR + h))
                            .intoMemorySegment(c, o + 4L * h, LE);
                } else if (h < cols) {
                    VectorMask<Float> m = S.indexInRange(h, cols);
                    FloatVector.fromMemorySegment(S, c, o + 4L * h, LE, m).add(FloatVector.fromArray(S, tile, r * NR + h))
                            .intoMemorySegment(c, o + 4L * h, LE, m);
                }
            }
        }
    }
}
