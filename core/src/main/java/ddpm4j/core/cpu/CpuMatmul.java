// SPDX-License-Identifier: Apache-2.0
// Batched matmul on the CPU: one Gemm.sgemm (OpenBLAS) per batch entry (a single taller one when the entries share B);
// small products run one per worker.
// Definition: ReferenceBackend.matmul.
package ddpm4j.core.cpu;

import ddpm4j.core.Tensor;
import java.lang.foreign.MemorySegment;

final class CpuMatmul {
    /** Below this many multiply-adds per entry, batch entries run in parallel instead of each GEMM splitting. */
    private static final long SMALL_MACS = 1L << 22;

    private CpuMatmul() {}

    // out: (batch, m, n); a: (m, k) or (k, m) when transA; b: (k, n) or (n, k) when transB; batch strides in elements
    static void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB,
                       int batch, int m, int n, int k, long strideA, long strideB) {
        MemorySegment o = CpuMem.seg(out), as = CpuMem.base(a), bs = CpuMem.base(b);
        long aOff = a.offset(), bOff = b.offset();
        long aLen = 4L * m * k, bLen = 4L * k * n, oLen = 4L * m * n;
        int lda = transA ? m : k, ldb = transB ? k : n;
        if (m == 0 || n == 0) return;
        if (batch > 1 && !transA && strideA == (long) m * k && strideB == 0 && (long) batch * m <= Integer.MAX_VALUE) {
            // back-to-back row-major A entries times one shared B (x W^T over a batch): one GEMM of batch * m rows
            Gemm.sgemm(false, transB, batch * m, n, k, 1f, as.asSlice(aOff * 4, aLen * batch), lda,
                    bs.asSlice(bOff * 4, bLen), ldb, 0f, o.asSlice(0, oLen * batch), n);
            return;
        }
        Parallel.Body body = (w, lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                Gemm.sgemm(transA, transB, m, n, k, 1f, as.asSlice((aOff + i * strideA) * 4, aLen), lda,
                        bs.asSlice((bOff + i * strideB) * 4, bLen), ldb, 0f, o.asSlice(i * oLen, oLen), n);
            }
        };
        if (batch > 1 && (long) m * n * k < SMALL_MACS) Parallel.forRange(batch, body);
        else body.run(0, 0, batch);
    }
}
