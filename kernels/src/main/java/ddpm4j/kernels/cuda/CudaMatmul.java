// SPDX-License-Identifier: Apache-2.0
// Launcher for row-major batched GEMM on cuBLAS (no .cu): column-major cuBLAS computes C^T = op(B)^T op(A)^T, which
// is row-major C = op(A) op(B) with the operands swapped and the transpose flags kept.
package ddpm4j.kernels.cuda;

import java.lang.foreign.MemorySegment;

/** out[b] (m, n) = op(a[b]) op(b[b]); a stored (m, k) or (k, m) when transA, b stored (k, n) or (n, k) when transB. */
final class CudaMatmul {
    private CudaMatmul() {}

    static void forward(CudaBackend be, long out, long a, long b, boolean transA, boolean transB, int batch,
                        int m, int n, int k, long strideA, long strideB) {
        if (m < 1 || n < 1 || batch < 1) throw new IllegalArgumentException("matmul: empty output (" + batch + "," + m + "," + n + ")");
        MemorySegment h = be.cublas();
        if (k == 0) {   // an empty sum: cuBLAS would leave C untouched with beta 0 semantics unclear; define it as zeros
            CudaDriver.cuMemsetD32Async(out, 0, (long) batch * m * n, be.stream());
            return;
        }
        int opB = transB ? Cublas.OP_T : Cublas.OP_N, opA = transA ? Cublas.OP_T : Cublas.OP_N;
        int ldb = transB ? k : n, lda = transA ? m : k;
        if (batch == 1) {
            Cublas.cublasSgemm(h, opB, opA, n, m, k, be.oneZero(), b, ldb, a, lda, out, n);
        } else {
            Cublas.cublasSgemmStridedBatched(h, opB, opA, n, m, k, be.oneZero(), b, ldb, strideB, a, lda, strideA,
                    out, n, (long) m * n, batch);
        }
    }
}
