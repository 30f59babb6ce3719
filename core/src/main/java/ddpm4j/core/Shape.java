// SPDX-License-Identifier: Apache-2.0
// Shape arithmetic shared by Tensor and the backends: element counts, row-major strides, broadcasting, axis checks.
package ddpm4j.core;

import java.util.Arrays;

/** Static helpers on shapes ({@code int[]}, outermost dimension first). */
public final class Shape {
    private Shape() {}

    /** Number of elements; throws if a dimension is negative or the count overflows. */
    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + str(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Row-major (C-contiguous) strides in elements. */
    public static long[] strides(int... shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    /** {@code (2, 3, 4)}. */
    public static String str(int... shape) {
        StringBuilder b = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) { if (i > 0) b.append(", "); b.append(shape[i]); }
        return b.append(shape.length == 1 ? ",)" : ")").toString();
    }

    /** Broadcast result of two shapes (NumPy rules), or an error naming the op and the clashing dimension. */
    public static int[] broadcast(String op, int[] a, int[] b) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)] : 1;
            int db = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new IllegalArgumentException(op + ": shapes " + str(a) + " and " + str(b)
                        + " cannot be broadcast (dimension " + i + " of the result: " + da + " vs " + db + ")");
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** Normalizes a possibly negative axis, or throws naming the op, the axis and the rank. */
    public static int axis(String op, int axis, int rank) {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank)
            throw new IllegalArgumentException(op + ": axis " + axis + " is out of range for a tensor of rank " + rank
                    + " (expected " + (-rank) + " .. " + (rank - 1) + ")");
        return a;
    }

    /** Product of {@code shape[from..to)}. */
    public static int prod(int[] shape, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) p *= shape[i];
        return Math.toIntExact(p);
    }

    public static boolean same(int[] a, int[] b) { return Arrays.equals(a, b); }
}
