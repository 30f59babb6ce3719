// SPDX-License-Identifier: Apache-2.0
// Batched matmul on the CPU via Gemm.sgemm (OpenBLAS): row-major entries sharing one B become a single taller GEMM;
// one large product runs on OpenBLAS's threads (Gemm); several are cut into (entry, row block) tasks that the pool's
// threads claim one by one. Definition:
// ReferenceBackend.matmul.
package ddpm4j.core.cpu;

import ddpm4j.core.Tensor;
import java.lang.foreign.MemorySegment;

final class CpuMatmul {
    /** Below this many multiply-adds per entry, batch entries run in parallel instead of each GEMM splitting. */
    private static final long SMALL_MACS = 1L << 22;
    /** Row blocks are multiples of OpenBLAS's 16-row micro-tile and at least this tall (packing B is per block). */
    private static final int MIN_BLOCK_ROWS = 128;
    /** About this many tasks per call: a thread that the OS deschedules then holds up one task, not half the work. */
    private static final int TASKS = 8;

    private CpuMatmul() {}

    // out: (batch, m, n); a: (m, k) or (k, m) when transA; b: (k, n) or (n, k) when transB; batch strides in elements
    static void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB,
                       int batch, int m, int n, int k, long strideA, long strideB) {
        if (m == 0 || n == 0) return;
        if (batch > 1 && !transA && strideA == (long) m * k && strideB == 0 && (long) batch * m <= Integer.MAX_VALUE) {
            // back-to-back row-major A entries times one shared B (x W^T over a batch): one GEMM of batch * m rows
            m *= batch;
            batch = 1;
        }
        MemorySegment o = CpuMem.seg(out), as = CpuMem.base(a), bs = CpuMem.base(b);
        long aOff = a.offset(), bOff = b.offset();
        long aLen = 4L * m * k, bLen = 4L * k * n, oLen = 4L * m * n;
        int lda = transA ? m : k, ldb = transB ? k : n, mm = m;
        long macs = (long) m * n * k;
        if (batch > 1 && macs < SMALL_MACS) {
            Parallel.forRange(batch, (w, lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    Gemm.sgemm(transA, transB, mm, n, k, 1f, as.asSlice((aOff + i * strideA) * 4, aLen), lda,
                            bs.asSlice((bOff + i * strideB) * 4, bLen), ldb, 0f, o.asSlice(i * oLen, oLen), n);
                }
            });
            return;
        }
        // rows [r0, r0 + rows) of op(A) and C: op(A)'s rows are columns of the stored A when transA. One entry is one
        // task: Gemm then runs it on OpenBLAS's own threads, faster than row blocks of single-threaded calls
        int perEntry = batch == 1 ? 1 : Math.max(1, Math.min(m / MIN_BLOCK_ROWS, (TASKS + batch - 1) / batch));
        int rb = perEntry == 1 ? m : (m + perEntry - 1) / perEntry + 15 & ~15, blocks = (m + rb - 1) / rb;
        Parallel.Body body = (w, lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                int i = t / blocks, r0 = (t % blocks) * rb, rows = Math.min(rb, mm - r0);
                long aAt = (aOff + i * strideA + (transA ? r0 : (long) r0 * lda)) * 4;
                Gemm.sgemm(transA, transB, rows, n, k, 1f, as.asSlice(aAt, aLen - (transA ? 4L * r0 : 4L * r0 * lda)), lda,
                        bs.asSlice((bOff + i * strideB) * 4, bLen), ldb, 0f, o.asSlice(i * oLen + 4L * r0 * n), n);
            }
        };
        // a single task: Gemm runs it on OpenBLAS's threads when the pool is free
        if (batch * blocks == 1) body.run(0, 0, 1);
        else Parallel.forRange(batch * blocks, 1, body);
    }
}
