// SPDX-License-Identifier: Apache-2.0
// Nearest 2x upsampling forward/backward and row gather/scatter-add on the CPU.
// Definitions: RefLayers.upsample2xForward / upsample2xBackward, ReferenceBackend.gatherRows / scatterAddRows.
package ddpm4j.core.cpu;

import ddpm4j.core.Tensor;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

final class CpuUpsample {
    private CpuUpsample() {}

    // x: (P, H, W) -> out: (P, 2H, 2W); each input value fills a 2x2 block
    static void forward(Tensor out, Tensor x, int planes, int h, int w) {
        MemorySegment o = CpuMem.seg(out), xs = CpuMem.seg(x);
        int rows = planes * h;
        Parallel.forRange(rows, Math.max(1, CpuMem.grain(4L * rows * w) / Math.max(1, 4 * w)), (wk, lo, hi) -> {
            for (int row = lo; row < hi; row++) {
                long src = (long) row * w, dst = (long) row * 4 * w;   // output rows 2*row and 2*row + 1
                for (int j = 0; j < w; j++) {
                    float v = xs.getAtIndex(JAVA_FLOAT, src + j);
                    o.setAtIndex(JAVA_FLOAT, dst + 2L * j, v);
                    o.setAtIndex(JAVA_FLOAT, dst + 2L * j + 1, v);
                }
                MemorySegment.copy(o, dst * 4, o, (dst + 2L * w) * 4, 8L * w);
            }
        });
    }

    // dx: (P, H, W) = sum of each 2x2 block of dy: (P, 2H, 2W)
    static void backward(Tensor dx, Tensor dy, int planes, int h, int w) {
        MemorySegment d = CpuMem.seg(dx), g = CpuMem.seg(dy);
        int rows = planes * h;
        Parallel.forRange(rows, Math.max(1, CpuMem.grain(4L * rows * w) / Math.max(1, 4 * w)), (wk, lo, hi) -> {
            for (int row = lo; row < hi; row++) {
                long top = (long) row * 4 * w, bottom = top + 2L * w;
                for (int j = 0; j < w; j++) {
                    float s = g.getAtIndex(JAVA_FLOAT, top + 2L * j) + g.getAtIndex(JAVA_FLOAT, top + 2L * j + 1)
                            + g.getAtIndex(JAVA_FLOAT, bottom + 2L * j) + g.getAtIndex(JAVA_FLOAT, bottom + 2L * j + 1);
                    d.setAtIndex(JAVA_FLOAT, (long) row * w + j, s);
                }
            }
        });
    }

    // out[i, :] = table[idx[i], :]
    static void gatherRows(Tensor out, Tensor table, int[] idx, int rowLen) {
        MemorySegment o = CpuMem.seg(out), t = CpuMem.seg(table);
        long rowsInTable = table.numel() / Math.max(1, rowLen);
        for (int i = 0; i < idx.length; i++) {
            checkIndex("gatherRows", idx[i], rowsInTable);
            MemorySegment.copy(t, 4L * idx[i] * rowLen, o, 4L * i * rowLen, 4L * rowLen);
        }
    }

    // dtable[idx[i], :] += dy[i, :]; sequential, so repeated indices add up exactly as in the reference
    static void scatterAddRows(Tensor dtable, Tensor dy, int[] idx, int rowLen) {
        MemorySegment d = CpuMem.seg(dtable), g = CpuMem.seg(dy);
        long rowsInTable = dtable.numel() / Math.max(1, rowLen);
        for (int i = 0; i < idx.length; i++) {
            checkIndex("scatterAddRows", idx[i], rowsInTable);
            long dst = (long) idx[i] * rowLen, src = (long) i * rowLen;
            for (int j = 0; j < rowLen; j++) {
                d.setAtIndex(JAVA_FLOAT, dst + j, d.getAtIndex(JAVA_FLOAT, dst + j) + g.getAtIndex(JAVA_FLOAT, src + j));
            }
        }
    }

    private static void checkIndex(String op, int i, long rows) {
        if (i < 0 || i >= rows) throw new IndexOutOfBoundsException(op + ": index " + i + " outside [0, " + rows + ")");
    }
}
