// SPDX-License-Identifier: Apache-2.0
// Fused self-attention on the CPU, blocked over query rows: S = scale q k^T, P = softmax(S), out = P v, with the
// row log-sum-exp saved so the backward pass recomputes P instead of storing it. GEMMs via Gemm (OpenBLAS).
// Definition: RefLayers.attentionForward / attentionBackward. Test: CpuAttentionTest.
package ddpm4j.core.cpu;

import ddpm4j.core.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

import static ddpm4j.core.cpu.CpuMem.L;
import static ddpm4j.core.cpu.CpuMem.LE;
import static ddpm4j.core.cpu.CpuMem.S;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

final class CpuAttention {
    private CpuAttention() {}

    /** Query rows per block: a block's (rows x len) score matrix stays near 256 KB. */
    private static int block(int len) {
        return Math.max(1, Math.min(len, Math.max(16, 65536 / Math.max(1, len))));
    }

    // q, k, v, out: (B, L, D)  lse: (B, L)
    static void forward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, int batch, int len, int dim, float scale) {
        MemorySegment o = CpuMem.seg(out), ls = CpuMem.seg(lse), qs = CpuMem.seg(q), ks = CpuMem.seg(k), vs = CpuMem.seg(v);
        int qb = block(len), blocks = (len + qb - 1) / qb;
        long mat = (long) len * dim;
        Parallel.forRange(batch * blocks, 1, (wk, lo, hi) -> {
            MemorySegment sc = CpuMem.scratchSegment(2, 4L * qb * len);
            for (int t = lo; t < hi; t++) {
                int b = t / blocks, i0 = (t % blocks) * qb, rows = Math.min(qb, len - i0);
                long qOff = b * mat + (long) i0 * dim;
                MemorySegment kb = ks.asSlice(b * mat * 4, mat * 4), vb = vs.asSlice(b * mat * 4, mat * 4);
                // 1. S = scale * q_blk k^T            (rows x len)
                Gemm.sgemm(false, true, rows, len, dim, scale, qs.asSlice(qOff * 4, 4L * rows * dim), dim, kb, dim,
                        0f, sc, len);
                // 2. P = softmax(S) row by row, lse = max + log(sum)
                for (int i = 0; i < rows; i++) {
                    ls.setAtIndex(JAVA_FLOAT, (long) b * len + i0 + i, CpuReduce.softmaxRow(sc, sc, (long) i * len, len));
                }
                // 3. out_blk = P v                     (rows x dim)
                Gemm.sgemm(false, false, rows, dim, len, 1f, sc, len, vb, dim, 0f, o.asSlice(qOff * 4, 4L * rows * dim), dim);
            }
        });
    }

    // dV = P^T dO; dP = dO V^T; dS = P (dP - rowsum(dO o)); dQ = scale dS K; dK = scale dS^T Q
    static void backward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v,
                         Tensor out, Tensor lse, int batch, int len, int dim, float scale) {
        MemorySegment dqs = CpuMem.seg(dq), dks = CpuMem.seg(dk), dvs = CpuMem.seg(dv), dos = CpuMem.seg(dout);
        MemorySegment qs = CpuMem.seg(q), ks = CpuMem.seg(k), vs = CpuMem.seg(v), os = CpuMem.seg(out), ls = CpuMem.seg(lse);
        int qb = block(len);
        long mat = (long) len * dim;
        // one batch entry per task: dK and dV accumulate over that entry's query blocks
        Parallel.forRange(batch, 1, (wk, lo, hi) -> {
            MemorySegment p = CpuMem.scratchSegment(2, 4L * qb * len), dp = CpuMem.scratchSegment(3, 4L * qb * len);
            for (int b = lo; b < hi; b++) {
                MemorySegment kb = ks.asSlice(b * mat * 4, mat * 4), vb = vs.asSlice(b * mat * 4, mat * 4);
                MemorySegment dkb = dks.asSlice(b * mat * 4, mat * 4), dvb = dvs.asSlice(b * mat * 4, mat * 4);
                for (int i0 = 0; i0 < len; i0 += qb) {
                    int rows = Math.min(qb, len - i0);
                    long off = b * mat + (long) i0 * dim, bytes = 4L * rows * dim;
                    MemorySegment qBlk = qs.asSlice(off * 4, bytes), doBlk = dos.asSlice(off * 4, bytes);
                    float beta = i0 == 0 ? 0f : 1f;
                    // 1. P = exp(scale q k^T - lse), recomputed from the saved log-sum-exp
                    Gemm.sgemm(false, true, rows, len, dim, scale, qBlk, dim, kb, dim, 0f, p, len);
                    for (int i = 0; i < rows; i++) {
                        float l = ls.getAtIndex(JAVA_FLOAT, (long) b * len + i0 + i);
                        CpuReduce.expShiftRow(p, p, (long) i * len, len, l);
                    }
                    // 2. dV += P^T dO_blk;  dP = dO_blk V^T
                    Gemm.sgemm(true, false, len, dim, rows, 1f, p, len, doBlk, dim, beta, dvb, dim);
                    Gemm.sgemm(false, true, rows, len, dim, 1f, doBlk, dim, vb, dim, 0f, dp, len);
                    // 3. dS = P (dP - delta), delta_i = dO_i . out_i   (written over dP)
                    for (int i = 0; i < rows; i++) {
                        float delta = CpuReduce.dot(dos, off + (long) i * dim, os, off + (long) i * dim, dim);
                        dsRow(dp, p, (long) i * len, len, delta);
                    }
                    // 4. dQ_blk = scale dS K;  dK += scale dS^T Q_blk
                    Gemm.sgemm(false, false, rows, dim, len, scale, dp, len, kb, dim, 0f, dqs.asSlice(off * 4, bytes), dim);
                    Gemm.sgemm(true, false, len, dim, rows, scale, dp, len, qBlk, dim, beta, dkb, dim);
                }
            }
        });
    }

    // dp = p * (dp - delta) over one row
    private static void dsRow(MemorySegment dp, MemorySegment p, long base, int n, float delta) {
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) {
            long at = (base + j) * 4;
            FloatVector.fromMemorySegment(S, p, at, LE).mul(FloatVector.fromMemorySegment(S, dp, at, LE).sub(delta))
                    .intoMemorySegment(dp, at, LE);
        }
        for (; j < n; j++) {
            dp.setAtIndex(JAVA_FLOAT, base + j, p.getAtIndex(JAVA_FLOAT, base + j) * (dp.getAtIndex(JAVA_FLOAT, base + j) - delta));
        }
    }
}
