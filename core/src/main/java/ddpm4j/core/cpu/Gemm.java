// SPDX-License-Identifier: Apache-2.0
// Single-precision GEMM over MemorySegments: OpenBLAS (FFM) when it loads, else the Java Vector API kernel.
// Used by CpuMatmul and CpuConv2d; GemmTest checks both paths against a double-precision loop.
package ddpm4j.core.cpu;

import java.lang.foreign.MemorySegment;

/**
 * Row-major SGEMM: {@code C = alpha * op(A) * op(B) + beta * C}, with {@code op(A)} of shape (M, K), {@code op(B)} of
 * shape (K, N) and C of shape (M, N). Matrices start at offset 0 of their segments; {@code lda}, {@code ldb},
 * {@code ldc} are row strides in floats.
 *
 * <p>OpenBLAS is used when it loads (see {@link OpenBlas}); otherwise, or with {@code -Dddpm4j.gemm=java}, a Java
 * Vector API kernel runs, and a single line on stderr says so. With {@code beta == 0}, C is overwritten (NaN in C
 * does not propagate), as BLAS specifies.
 */
public final class Gemm {

    /** Which implementation runs {@link #sgemm}. */
    public enum Impl { OPENBLAS, JAVA }

    private static final class Choice {
        static final Impl IMPL = choose();
        /**
         * Whether OpenBLAS's threaded SGEMM gives one thread's bits on this CPU's kernels (with K in blocks of
         * {@link #K_BLOCK}). Checked (GemmTest, GemmThreadsTest, OPENBLAS_CORETYPE) for OpenBLAS 0.3.31's SkylakeX and
         * Cooperlake kernels; its Haswell (AVX2) kernels differ in the last bit for every tested shape even so.
         * Elsewhere, or with {@code -Dddpm4j.gemm.threads=grid}, a large product is cut into a fixed grid of blocks of
         * C, single-threaded full-K calls spread over Parallel's pool ({@link #blocks}; the same bits for any thread
         * count on any kernel set).
         */
        static final boolean THREADED_SAME_BITS = IMPL == Impl.OPENBLAS
                && java.util.Set.of("skylakex", "cooperlake").contains(OpenBlas.corename().toLowerCase(java.util.Locale.ROOT))
                && !"grid".equalsIgnoreCase(System.getProperty("ddpm4j.gemm.threads"));

        private static Impl choose() {
            if ("java".equalsIgnoreCase(System.getProperty("ddpm4j.gemm"))) return Impl.JAVA;
            if (OpenBlas.available()) return Impl.OPENBLAS;
            System.err.println("ddpm4j: OpenBLAS not available (" + OpenBlas.error() + "); using the Java GEMM, slower");
            return Impl.JAVA;
        }
    }

    private Gemm() {}

    /** The implementation in use (decided once, on first use). */
    public static Impl impl() {
        return Choice.IMPL;
    }

    /**
     * {@code C = alpha * op(A) * op(B) + beta * C}, row-major.
     *
     * @param transA use A^T, where A is stored (K, M) with row stride lda
     * @param transB use B^T, where B is stored (N, K) with row stride ldb
     * @throws IllegalArgumentException if a size is negative, a leading dimension is too small, or a segment is too
     *                                  small for the matrix it holds
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             MemorySegment a, int lda, MemorySegment b, int ldb, float beta, MemorySegment c, int ldc) {
        check(transA, transB, m, n, k, a, lda, b, ldb, c, ldc);
        if (m == 0 || n == 0) return;
        if (Choice.IMPL == Impl.OPENBLAS && k > 0) {
            long macs = (long) m * n * k;
            int threads = macs < THREAD_MACS ? 1 : (int) Math.min(Parallel.threads(), macs / SPLIT_MACS);
            boolean nat = a.isNative() && b.isNative() && c.isNative();
            if (!Choice.THREADED_SAME_BITS) {
                grid(shared(a) && shared(b) && shared(c), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            } else if (threads > 1 && nat && Parallel.tryTakePool()) {
                // OpenBLAS's own threads, as PyTorch uses them (measured 89-91% of the 2-core FMA peak at 512-2048
                // cubed in session 3, against 59-86% for the 128-row blocks of single-threaded calls since replaced by
                // the grid)
                try {
                    blas(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                } finally {
                    Parallel.releasePool();
                }
            } else {
                // small, or called from inside a kernel on the pool (the pool's other threads are busy): one thread
                blas(1, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            }
        } else {
            JavaGemm.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }

    /** A product of {@code t * t * GRID_MACS} multiply-adds or more is cut into at least 2t blocks. */
    private static final long GRID_MACS = 1L << 28;
    /** The most blocks a product is cut into. */
    static final int MAX_BLOCKS = 16;

    /**
     * How many blocks of C the grid cuts a product into: 1 below 2^19 multiply-adds, else the power of two nearest
     * above {@code sqrt(M N K / 2^28)}, at least 2 and at most {@value #MAX_BLOCKS}: 2 at 512 and 1024 cubed, 8 at
     * 2048. It depends on the shape only, never on the thread count. Few, large blocks, because each single-threaded
     * call packs its own panels of A and B again: at 1024 cubed on this 2-core Zen 4 (best fifth of interleaved
     * rounds), 2 blocks of 512 x 1024 reached 83% of the FMA peak on OpenBLAS's Cooperlake kernels and 84-88% on its Zen
     * kernels, 4 blocks 75-86%, 128-row blocks (the previous fallback) 57-69%; OpenBLAS's own threads 85-90%.
     */
    static int blocks(int m, int n, int k) {
        long macs = (long) m * n * k;
        if (macs < 2 * SPLIT_MACS) return 1;
        int t = 2;
        while (t < MAX_BLOCKS && (double) t * t < (double) macs / GRID_MACS) t *= 2;
        return t;
    }

    /** Whether large products run on OpenBLAS's threads (else on the fixed grid; see Choice.THREADED_SAME_BITS). */
    static boolean openBlasThreads() {
        return Choice.THREADED_SAME_BITS;
    }

    /** A thread that is never started: a segment it may access is not confined to the caller's thread. */
    private static final Thread ELSEWHERE = new Thread(() -> {});

    private static boolean shared(MemorySegment s) {
        return s.isAccessibleBy(ELSEWHERE);
    }

    // C in a fixed grid of blocks(m, n, k) blocks, each one single-threaded OpenBLAS call over the whole of K: on
    // Parallel's pool when parallel (run inline when called from a pool task), else one after another. Rows are split
    // first (while a block has at least half as many rows as columns), then columns; block rows are multiples of 16 and
    // block columns of 64, so every block but the last in each direction is made of whole OpenBLAS micro-tiles.
    private static void grid(boolean parallel, boolean transA, boolean transB, int m, int n, int k, float alpha,
                             MemorySegment a, int lda, MemorySegment b, int ldb, float beta, MemorySegment c, int ldc) {
        int t = blocks(m, n, k), bm = 1, bn = 1;
        while (bm * bn < t) {
            int rows = (m + bm - 1) / bm, cols = (n + bn - 1) / bn;
            if (rows >= 32 && 2 * rows >= cols) bm *= 2;
            else if (cols >= 128) bn *= 2;
            else if (rows >= 32) bm *= 2;
            else break;
        }
        int rb = ((m + bm - 1) / bm + 15) & ~15, cb = ((n + bn - 1) / bn + 63) & ~63;
        int nbm = (m + rb - 1) / rb, nbn = (n + cb - 1) / cb, blocks = nbm * nbn;
        if (blocks == 1) {
            sgemmOneThread(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        Parallel.Body body = (w, lo, hi) -> {
            for (int blk = lo; blk < hi; blk++) {
                int r0 = (blk / nbn) * rb, c0 = (blk % nbn) * cb, rows = Math.min(rb, m - r0), cols = Math.min(cb, n - c0);
                // rows r0.. of op(A): A stored (M, K) -> row offset r0 * lda; transposed (K, M) -> column offset r0.
                // columns c0.. of op(B): B stored (K, N) -> column offset c0; transposed (N, K) -> row offset c0 * ldb
                MemorySegment ar = a.asSlice(4L * (transA ? r0 : (long) r0 * lda));
                MemorySegment bc = b.asSlice(4L * (transB ? (long) c0 * ldb : c0));
                sgemmOneThread(transA, transB, rows, cols, k, alpha, ar, lda, bc, ldb, beta, c.asSlice(4L * ((long) r0 * ldc + c0)), ldc);
            }
        };
        if (parallel) Parallel.forRange(blocks, 1, body);
        else body.run(0, 0, blocks);
    }

    /**
     * Multiply-adds per thread at the least: the grid ({@link #blocks}) leaves a product of fewer than twice this many
     * in one block, and OpenBLAS's threads get at most one per this many.
     */
    private static final long SPLIT_MACS = 1L << 18;
    /**
     * Below this many multiply-adds a product stays off OpenBLAS's threads: waking its sleeping pool cost 0.5-1 ms a
     * call inside a sampling step (the time embedding's 16 x 256 x 512 projections: 0.96 ms each, against 0.08 ms on
     * one thread), more than such a product takes on one core. Bits are unchanged: the K blocks are the same.
     */
    private static final long THREAD_MACS = 1L << 24;

    /**
     * The depth of one OpenBLAS call. OpenBLAS cuts a longer K into blocks itself, but not at the same places on one
     * thread as on several (measured: most shapes with K above 384 differ in the last bit), so the sum over K would
     * depend on the thread count. Blocks of at most 256, below every x86 kernel's own K block, are never cut again,
     * and each element's sum then runs in the same order whatever the threads: the result is bit-identical for any
     * thread count (GemmTest). OpenBLAS updates C once per K block anyway, so this costs little.
     */
    static final int K_BLOCK = 256;

    // C = alpha op(A) op(B) + beta C as ceil(K / K_BLOCK) OpenBLAS calls accumulating into C
    private static void blas(int threads, boolean transA, boolean transB, int m, int n, int k, float alpha,
                             MemorySegment a, int lda, MemorySegment b, int ldb, float beta, MemorySegment c, int ldc) {
        int ta = op(transA), tb = op(transB);
        for (int k0 = 0; k0 < k; k0 += K_BLOCK) {
            int kb = Math.min(K_BLOCK, k - k0);
            // op(A)[:, k0:k0+kb] and op(B)[k0:k0+kb, :]
            MemorySegment ak = a.asSlice(4L * (transA ? (long) k0 * lda : k0));
            MemorySegment bk = b.asSlice(4L * (transB ? k0 : (long) k0 * ldb));
            float bt = k0 == 0 ? beta : 1f;
            if (threads > 1) {
                OpenBlas.cblasSgemmThreaded(threads, OpenBlas.CBLAS_ROW_MAJOR, ta, tb, m, n, kb, alpha, ak, lda, bk, ldb, bt, c, ldc);
            } else {
                OpenBlas.cblas_sgemm(OpenBlas.CBLAS_ROW_MAJOR, ta, tb, m, n, kb, alpha, ak, lda, bk, ldb, bt, c, ldc);
            }
        }
    }

    private static int op(boolean trans) { return trans ? OpenBlas.CBLAS_TRANS : OpenBlas.CBLAS_NO_TRANS; }

    /**
     * As {@link #sgemm} on the calling thread only, without argument checks or K blocking (one thread's sums never
     * depend on the thread count): for kernels that already run one block per worker, such as Winograd's 36 GEMMs.
     */
    static void sgemmOneThread(boolean transA, boolean transB, int m, int n, int k, float alpha, MemorySegment a, int lda,
                               MemorySegment b, int ldb, float beta, MemorySegment c, int ldc) {
        if (Choice.IMPL == Impl.OPENBLAS) {
            OpenBlas.cblas_sgemm(OpenBlas.CBLAS_ROW_MAJOR, op(transA), op(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } else {
            JavaGemm.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }

    /** The Java Vector API kernel, whatever {@link #impl()} is (for tests and benchmarks). Same contract as sgemm. */
    public static void sgemmJava(boolean transA, boolean transB, int m, int n, int k, float alpha,
                                 MemorySegment a, int lda, MemorySegment b, int ldb, float beta,
                                 MemorySegment c, int ldc) {
        check(transA, transB, m, n, k, a, lda, b, ldb, c, ldc);
        if (m == 0 || n == 0) return;
        JavaGemm.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    private static void check(boolean transA, boolean transB, int m, int n, int k, MemorySegment a, int lda,
                              MemorySegment b, int ldb, MemorySegment c, int ldc) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("sgemm: negative size M=" + m + " N=" + n + " K=" + k);
        }
        // stored shapes (rows, cols): A is (M, K) or (K, M) when transposed; B is (K, N) or (N, K)
        checkMatrix("A", transA ? k : m, transA ? m : k, a, lda, m, n, k);
        checkMatrix("B", transB ? n : k, transB ? k : n, b, ldb, m, n, k);
        checkMatrix("C", m, n, c, ldc, m, n, k);
        if (c.isReadOnly()) throw new IllegalArgumentException("sgemm: C is a read-only segment");
    }

    private static void checkMatrix(String name, int rows, int cols, MemorySegment s, int ld, int m, int n, int k) {
        if (ld < Math.max(1, cols)) {
            throw new IllegalArgumentException("sgemm: ld" + name.toLowerCase() + "=" + ld + " is smaller than the "
                    + cols + " columns of " + name + " (M=" + m + " N=" + n + " K=" + k + ")");
        }
        if (rows == 0 || cols == 0) return;
        long need = ((long) (rows - 1) * ld + cols) * Float.BYTES;
        if (s.byteSize() < need) {
            throw new IllegalArgumentException("sgemm: " + name + " (" + rows + " x " + cols + ", ld " + ld
                    + ") needs " + need + " bytes but its segment has " + s.byteSize()
                    + " (M=" + m + " N=" + n + " K=" + k + ")");
        }
    }
}
