// SPDX-License-Identifier: Apache-2.0
// Tiled transposing copy: out contiguous, x a view whose unit-stride axis is not the last (e.g. (N, C, HW) seen as
// (N, HW, C) for attention). Tiles of L x L values are transposed in a small array, so both sides move whole vectors.
package ddpm4j.core.cpu;

import ddpm4j.core.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

import static ddpm4j.core.cpu.CpuMem.L;
import static ddpm4j.core.cpu.CpuMem.LE;
import static ddpm4j.core.cpu.CpuMem.S;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

final class CpuTranspose {
    private CpuTranspose() {}

    /** Copies x into out if x is a transposed view of the kind above; false (nothing done) otherwise. */
    static boolean tryCopy(Tensor out, Tensor x, MemorySegment o, MemorySegment a) {
        int[] shape = out.shape();
        int rank = shape.length;
        if (rank < 2 || !out.isContiguous()) return false;
        long[] xs = x.strides(), os = out.strides();
        int last = rank - 1, d = -1;
        for (int i = 0; i < last; i++) if (xs[i] == 1 && shape[i] > 1) d = i;
        if (d < 0 || shape[last] < L || shape[d] < L || xs[last] == 1) return false;
        // outer dims: all but d and last
        int[] outerDims = new int[rank - 2];
        long[] oStride = new long[rank - 2], xStride = new long[rank - 2];
        int k = 0;
        long outer = 1;
        for (int i = 0; i < last; i++) {
            if (i == d) continue;
            outerDims[k] = shape[i];
            oStride[k] = os[i];
            xStride[k] = xs[i];
            outer *= shape[i];
            k++;
        }
        int rows = shape[d], cols = shape[last];
        long osd = os[d], xsl = xs[last], o0 = out.offset(), x0 = x.offset();
        int rowTiles = (rows + L - 1) / L;
        long tiles = outer * rowTiles;
        Parallel.forRange(Math.toIntExact(tiles), Math.max(1, CpuMem.grain(tiles * L * cols) / (L * cols)), (w, lo, hi) -> {
            float[] tile = CpuMem.scratch(2, 2 * L * L);
            for (int t = lo; t < hi; t++) {
                long rem = t / rowTiles, ob = o0, xb = x0;
                for (int i = outerDims.length - 1; i >= 0; i--) {
                    long c = rem % outerDims[i];
                    rem /= outerDims[i];
                    ob += c * oStride[i];
                    xb += c * xStride[i];
                }
                int i0 = (t % rowTiles) * L;
                block(o, ob, osd, a, xb, xsl, i0, Math.min(L, rows - i0), cols, tile);
            }
        });
        return true;
    }

    // out[i, j] = x[i, j] for rows i0..i0+n, all j; out row stride osd (unit column stride), x column stride xsl
    // (unit row stride)
    private static void block(MemorySegment o, long ob, long osd, MemorySegment a, long xb, long xsl,
                              int i0, int n, int cols, float[] tile) {
        int j0 = 0;
        if (n == L) {
            for (; j0 + L <= cols; j0 += L) {
                // 1. stage: tile[jj * L + ii] = x[i0 + ii, j0 + jj], each a contiguous vector along i
                for (int jj = 0; jj < L; jj++) {
                    FloatVector.fromMemorySegment(S, a, (xb + i0 + (j0 + jj) * xsl) * 4, LE).intoArray(tile, jj * L);
                }
                // 2. transpose in the array (scalar moves within L1 beat vector gathers here), 3. emit whole rows
                for (int ii = 0; ii < L; ii++)
                    for (int jj = 0; jj < L; jj++) tile[L * L + ii * L + jj] = tile[jj * L + ii];
                for (int ii = 0; ii < L; ii++) {
                    FloatVector.fromArray(S, tile, L * L + ii * L).intoMemorySegment(o, (ob + (i0 + ii) * osd + j0) * 4, LE);
                }
            }
        }
        for (int ii = 0; ii < n; ii++) {
            for (int j = j0; j < cols; j++) {
                o.setAtIndex(JAVA_FLOAT, ob + (i0 + ii) * osd + j, a.getAtIndex(JAVA_FLOAT, xb + i0 + ii + j * xsl));
            }
        }
    }
}
