// SPDX-License-Identifier: Apache-2.0
// The by-value `Strides6` struct of src/cuda/elementwise.cu (22 ints, 88 bytes): an iteration shape of rank <= 6 with
// element strides and offsets for two operands. Size-1 dims are dropped and mergeable neighbours fused first.
package ddpm4j.kernels.cuda;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/** Builds the Strides6 argument for binary_forward and copy_forward. */
final class Strides6 {
    private Strides6() {}

    static final int MAX_RANK = 6;

    /**
     * @param shape  iteration (output) shape
     * @param sa     element strides of operand a (0 where broadcast)
     * @param offA   element offset of a
     * @param sb     element strides of operand b
     * @param offB   element offset of b
     * @param sOut   strides of the output (contiguous for binary), used only to decide which dims can be merged
     */
    static MemorySegment of(int[] shape, long[] sa, long offA, long[] sb, long offB, long[] sOut) {
        List<int[]> dims = new ArrayList<>();            // {size, strideA, strideB, strideOut}
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            int[] cur = {shape[d], toInt(sa[d], "stride"), toInt(sb[d], "stride"), toInt(sOut[d], "stride")};
            if (!dims.isEmpty()) {
                int[] prev = dims.get(dims.size() - 1);
                boolean merge = true;
                for (int j = 1; j < 4; j++) merge &= (long) prev[j] == (long) cur[0] * cur[j];
                if (merge) {
                    prev[0] = toInt((long) prev[0] * cur[0], "size");
                    for (int j = 1; j < 4; j++) prev[j] = cur[j];
                    continue;
                }
            }
            dims.add(cur);
        }
        if (dims.isEmpty()) dims.add(new int[] {1, 0, 0, 0});
        if (dims.size() > MAX_RANK)
            throw new IllegalArgumentException("CUDA elementwise kernels take rank <= 6 after merging dims; shape "
                    + java.util.Arrays.toString(shape) + " needs " + dims.size());
        int[] s = new int[22];
        s[0] = dims.size();
        long n = 1;
        for (int d = 0; d < MAX_RANK; d++) {
            boolean used = d < dims.size();
            s[2 + d] = used ? dims.get(d)[0] : 1;
            s[8 + d] = used ? dims.get(d)[1] : 0;
            s[14 + d] = used ? dims.get(d)[2] : 0;
            if (used) n *= dims.get(d)[0];
        }
        s[1] = toInt(n, "element count");
        s[20] = toInt(offA, "offset");
        s[21] = toInt(offB, "offset");
        return MemorySegment.ofArray(s);
    }

    /** Contiguous row-major strides of a shape. */
    static long[] contiguous(int[] shape) {
        long[] st = new long[shape.length];
        long acc = 1;
        for (int d = shape.length - 1; d >= 0; d--) { st[d] = acc; acc *= shape[d]; }
        return st;
    }

    private static int toInt(long v, String what) {
        if (v > Integer.MAX_VALUE || v < Integer.MIN_VALUE)
            throw new IllegalArgumentException("CUDA kernels take 32-bit sizes; " + what + " " + v + " is too large");
        return (int) v;
    }
}
