// SPDX-License-Identifier: Apache-2.0
// src/cuda/elementwise.cu on the host emulation against double-precision Java references, on awkward sizes and
// several launch geometries. Tolerance: atol 1e-6, rtol 2e-6 (libm float functions are within ~1 ulp; no FMA).
package ddpm4j.kernels.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ddpm4j.kernels.emu.EmuKernels.Dim3;
import java.util.List;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;

class ElementwiseEmuTest {
    static final int[] SIZES = {1, 7, 33, 1000};
    static final double ATOL = 1e-6, RTOL = 2e-6;

    static List<Dim3[]> geometries(int n) {
        return List.of(new Dim3[] {Dim3.of(1), Dim3.of(32)}, new Dim3[] {Dim3.of(3), Dim3.of(64)},
                new Dim3[] {Dim3.of(Check.blocksFor(n, 256)), Dim3.of(256)}, new Dim3[] {Dim3.of(2), Dim3.of(96)});
    }

    static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    static final DoubleUnaryOperator[] UNARY = {
        x -> -x, Math::exp, Math::log, Math::sqrt, x -> 1 / Math.sqrt(x), x -> x * x, Math::tanh,
        ElementwiseEmuTest::sigmoid, x -> x * sigmoid(x), Math::sin, Math::cos, x -> Math.max(x, 0), Math::abs};
    static final DoubleUnaryOperator[] UNARY_GRAD = {
        x -> -1, Math::exp, x -> 1 / x, x -> 0.5 / Math.sqrt(x), x -> -0.5 * Math.pow(x, -1.5), x -> 2 * x,
        x -> 1 - Math.tanh(x) * Math.tanh(x), x -> sigmoid(x) * (1 - sigmoid(x)),
        x -> sigmoid(x) * (1 + x * (1 - sigmoid(x))), Math::cos, x -> -Math.sin(x), x -> x > 0 ? 1 : 0, Math::signum};

    static float[] input(int op, int n, long seed) {
        boolean positive = op == 2 || op == 3 || op == 4;
        return positive ? Check.uniform(seed, n, 0.05, 4) : Check.uniform(seed, n, -4, 4);
    }

    @Test
    void unaryForwardAndBackwardMatchReference() {
        try (var k = EmuKernels.open()) {
            for (int n : SIZES)
                for (int op = 0; op < UNARY.length; op++) {
                    float[] x = input(op, n, 100 + op), dy = Check.uniform(7 + op, n, -1, 1);
                    double[] ref = new double[n], refGrad = new double[n];
                    for (int i = 0; i < n; i++) {
                        ref[i] = UNARY[op].applyAsDouble(x[i]);
                        refGrad[i] = dy[i] * UNARY_GRAD[op].applyAsDouble(x[i]);
                    }
                    var xs = k.floats(x);
                    for (Dim3[] g : geometries(n)) {
                        var y = k.poisoned(n);
                        k.launch("unary_forward", g[0], g[1], 0, y, xs, n, op);
                        Check.close("unary op " + op + " n " + n, ref, EmuKernels.read(y, n), ATOL, RTOL);
                    }
                    var dx = k.poisoned(n);
                    k.launch("unary_backward", Dim3.of(2), Dim3.of(64), 0, dx, k.floats(dy), xs, n, op);
                    Check.close("unary_backward op " + op + " n " + n, refGrad, EmuKernels.read(dx, n), 1e-6, 1e-5);
                }
        }
    }

    static final DoubleBinaryOperator[] BINARY = {
        Double::sum, (a, b) -> a - b, (a, b) -> a * b, (a, b) -> a / b, (a, b) -> a == b ? 1 : 0, Math::max,
        (a, b) -> a > b ? 1 : 0, Math::min};

    /** out = a op b over `shape`, with a read through strides sa (+offset oa) and b through sb (+ob). */
    static void checkBinary(EmuKernels k, int[] shape, float[] a, int[] sa, int oa, float[] b, int[] sb, int ob) {
        int n = 1;
        for (int d : shape) n *= d;
        var as = k.floats(a);
        var bs = k.floats(b);
        for (int op = 0; op < BINARY.length; op++) {
            double[] ref = new double[n];
            for (int i = 0; i < n; i++) {
                int rem = i, ia = oa, ib = ob;
                for (int d = shape.length - 1; d >= 0; d--) {
                    int c = rem % shape[d];
                    rem /= shape[d];
                    ia += c * sa[d];
                    ib += c * sb[d];
                }
                ref[i] = (float) BINARY[op].applyAsDouble(a[ia], b[ib]);   // a/b rounded once, like the kernel
            }
            for (Dim3[] g : geometries(n)) {
                var out = k.poisoned(n);
                k.launch("binary_forward", g[0], g[1], 0, out, as, bs, k.strides6(shape, sa, sb, oa, ob), op);
                Check.close("binary op " + op + " shape " + java.util.Arrays.toString(shape), ref,
                        EmuKernels.read(out, n), 0, 0);
            }
        }
    }

    @Test
    void binaryBroadcastsAndReadsStridedViews() {
        try (var k = EmuKernels.open()) {
            // (2,3,4) op (3,1): b broadcast over dims 0 and 2; some equal elements so EQ sees both outcomes
            float[] a = Check.uniform(1, 24, -2, 2), b = Check.uniform(2, 3, -2, 2);
            a[5] = b[1];
            checkBinary(k, new int[] {2, 3, 4}, a, new int[] {12, 4, 1}, 0, b, new int[] {0, 1, 0}, 0);
            // scalar b, a of awkward length
            float[] a2 = Check.uniform(3, 1000, -2, 2);
            checkBinary(k, new int[] {1000}, a2, new int[] {1}, 0, new float[] {0.25f}, new int[] {0}, 0);
            // transposed a (7,33) read from a (33,7) buffer at an offset; b a row vector; rank 6 with ones
            float[] a3 = Check.uniform(4, 3 + 7 * 33, -2, 2), b3 = Check.uniform(5, 33, 0.5, 2);
            checkBinary(k, new int[] {7, 33}, a3, new int[] {1, 7}, 3, b3, new int[] {0, 1}, 0);
            checkBinary(k, new int[] {1, 2, 1, 3, 1, 4}, a, new int[] {0, 12, 0, 4, 0, 1}, 0, b,
                    new int[] {0, 0, 0, 1, 0, 0}, 0);
            checkBinary(k, new int[] {1}, new float[] {3f}, new int[] {0}, 0, new float[] {3f}, new int[] {0}, 0);
        }
    }

    @Test
    void affineAxpyAndFill() {
        try (var k = EmuKernels.open()) {
            for (int n : SIZES) {
                float[] x = Check.uniform(11, n, -3, 3), y0 = Check.uniform(12, n, -3, 3);
                double[] aff = new double[n], axpy = new double[n], fill = new double[n];
                for (int i = 0; i < n; i++) {
                    aff[i] = (float) (1.5f * x[i]) + -0.25f;
                    axpy[i] = y0[i] + (float) (-0.75f * x[i]);
                    fill[i] = 7.5;
                }
                for (Dim3[] g : geometries(n)) {
                    var y = k.poisoned(n);
                    k.launch("affine_forward", g[0], g[1], 0, y, k.floats(x), 1.5f, -0.25f, n);
                    Check.close("affine n " + n, aff, EmuKernels.read(y, n), 0, 0);
                    var ya = k.floats(y0);
                    k.launch("axpy_forward", g[0], g[1], 0, ya, k.floats(x), -0.75f, n);
                    Check.close("axpy n " + n, axpy, EmuKernels.read(ya, n), 0, 0);
                    var yf = k.poisoned(n);
                    k.launch("fill_forward", g[0], g[1], 0, yf, 7.5f, n);
                    Check.close("fill n " + n, fill, EmuKernels.read(yf, n), 0, 0);
                }
            }
            // in place: y = 2y + 1
            var inPlace = k.floats(1f, 2f, 3f);
            k.launch("affine_forward", Dim3.of(1), Dim3.of(32), 0, inPlace, inPlace, 2f, 1f, 3);
            Check.close("affine in place", new double[] {3, 5, 7}, EmuKernels.read(inPlace, 3), 0, 0);
        }
    }

    @Test
    void stridedCopyPermutesAndScattersIntoViews() {
        try (var k = EmuKernels.open()) {
            // src (3,5,7) contiguous, read as its (7,3,5) permutation into a dense dst
            int d0 = 3, d1 = 5, d2 = 7, n = d0 * d1 * d2;
            float[] src = Check.uniform(21, n, -1, 1);
            double[] ref = new double[n];
            for (int i = 0; i < d2; i++)
                for (int j = 0; j < d0; j++)
                    for (int l = 0; l < d1; l++) ref[(i * d0 + j) * d1 + l] = src[(j * d1 + l) * d2 + i];
            for (Dim3[] g : geometries(n)) {
                var dst = k.poisoned(n);
                k.launch("copy_forward", g[0], g[1], 0, dst, k.floats(src),
                        k.strides6(new int[] {d2, d0, d1}, new int[] {1, d1 * d2, d2}, new int[] {d0 * d1, d1, 1}, 0, 0));
                Check.close("permuting copy", ref, EmuKernels.read(dst, n), 0, 0);
            }
            // dst strided: write a (4,6) block into column 2.. of a (5,10) buffer at row 1; other cells untouched
            float[] blk = Check.uniform(22, 24, -1, 1);
            float[] big = new float[50];
            java.util.Arrays.fill(big, -9f);
            var bs = k.floats(big);
            k.launch("copy_forward", Dim3.of(1), Dim3.of(32), 0, bs, k.floats(blk),
                    k.strides6(new int[] {4, 6}, new int[] {6, 1}, new int[] {10, 1}, 0, 12));
            float[] got = EmuKernels.read(bs, 50);
            for (int r = 0; r < 5; r++)
                for (int c = 0; c < 10; c++) {
                    boolean in = r >= 1 && c >= 2 && c < 8;
                    assertEquals(in ? blk[(r - 1) * 6 + c - 2] : -9f, got[r * 10 + c], "cell " + r + "," + c);
                }
        }
    }
}
