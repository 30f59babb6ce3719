// SPDX-License-Identifier: Apache-2.0
// Walks up to three same-shaped strided operands row by row (after merging dimensions that are contiguous for all of
// them; long rows cut into fixed pieces), spreading them over Parallel's pool. Used by CpuElementwise.
package ddpm4j.core.cpu;

import ddpm4j.core.Tensor;

/** Strided iteration over (out, a, b) sharing one shape. */
final class CpuStrided {

    /** One row: {@code len} elements at element offsets oOff, aOff, bOff with element strides so, sa, sb. */
    @FunctionalInterface
    interface Row {
        void run(long oOff, long so, long aOff, long sa, long bOff, long sb, int len);
    }

    /** Longest row handed to one call of Row: 128 KiB of floats, a multiple of every vector length. */
    static final int PIECE = CpuMem.GRAIN;

    private CpuStrided() {}

    /** Iterates out's shape; a and b may be null. Offsets passed to {@code row} are in elements of each storage. */
    static void walk(Tensor out, Tensor a, Tensor b, Row row) {
        int[] shape = out.shape();
        int rank = shape.length;
        long[][] st = {out.strides(), a == null ? new long[rank] : a.strides(), b == null ? new long[rank] : b.strides()};
        // 1. drop size-1 dims and merge neighbours that are contiguous for every operand
        int[] dims = new int[Math.max(1, rank)];
        long[][] s = new long[3][Math.max(1, rank)];
        int r = 0;
        for (int d = 0; d < rank; d++) {
            if (shape[d] == 1) continue;
            if (r > 0 && st[0][d] * shape[d] == s[0][r - 1] && st[1][d] * shape[d] == s[1][r - 1]
                    && st[2][d] * shape[d] == s[2][r - 1]) {
                dims[r - 1] *= shape[d];
                for (int k = 0; k < 3; k++) s[k][r - 1] = st[k][d];
                continue;
            }
            dims[r] = shape[d];
            for (int k = 0; k < 3; k++) s[k][r] = st[k][d];
            r++;
        }
        if (r == 0) { dims[0] = 1; r = 1; }
        // 2. the last merged dim is the row. A row longer than PIECE (a contiguous tensor is one row) is cut into
        //    pieces of PIECE elements, fixed whatever the thread count, so both cores share it; pieces are spread
        //    over the pool in chunks of about GRAIN elements. (Elementwise: the cut changes no result bit.)
        int len = dims[r - 1];
        long rows = 1;
        for (int d = 0; d < r - 1; d++) rows *= dims[d];
        long o0 = out.offset(), a0 = a == null ? 0 : a.offset(), b0 = b == null ? 0 : b.offset();
        long so = s[0][r - 1], sa = s[1][r - 1], sb = s[2][r - 1];
        int outerDims = r - 1;
        int pieces = (int) ((len + (long) PIECE - 1) / PIECE), pieceLen = pieces == 1 ? len : PIECE;
        int tasks = Math.toIntExact(rows * pieces);
        int perChunk = (int) Math.max(1, Math.min(tasks, CpuMem.grain(rows * len) / Math.max(1, pieceLen)));
        Parallel.forRange(tasks, perChunk, (w, lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                long rem = t / pieces, oo = o0, ao = a0, bo = b0;
                for (int d = outerDims - 1; d >= 0; d--) {
                    long c = rem % dims[d];
                    rem /= dims[d];
                    oo += c * s[0][d];
                    ao += c * s[1][d];
                    bo += c * s[2][d];
                }
                long start = (long) (t % pieces) * PIECE;
                row.run(oo + start * so, so, ao + start * sa, sa, bo + start * sb, sb, (int) Math.min(pieceLen, len - start));
            }
        });
    }

    /** Element offset of linear (row-major) index {@code i} of {@code t}. */
    static long offsetOf(Tensor t, long i, int[] shape, long[] strides) {
        long at = t.offset();
        for (int d = shape.length - 1; d >= 0; d--) {
            long c = i % shape[d];
            i /= shape[d];
            at += c * strides[d];
        }
        return at;
    }
}
