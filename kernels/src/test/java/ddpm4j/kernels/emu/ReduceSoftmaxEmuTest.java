// SPDX-License-Identifier: Apache-2.0
// src/cuda/reduce.cu and src/cuda/softmax.cu on the host emulation against double-precision references.
// Tolerances: sums atol 1e-5 + rtol 1e-5 (float accumulation in a different order), max exact.
package ddpm4j.kernels.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ddpm4j.kernels.emu.EmuKernels.Dim3;
import org.junit.jupiter.api.Test;

class ReduceSoftmaxEmuTest {
    static final int[][] VIEWS = {{1, 1, 1}, {1, 1000, 1}, {7, 33, 1}, {3, 7, 33}, {2, 1000, 7}, {33, 1, 5},
        {1, 5, 1000}, {300, 3, 1}};

    @Test
    void sumAndMaxOverTheMiddleAxis() {
        try (var k = EmuKernels.open()) {
            for (int[] v : VIEWS) {
                int outer = v[0], r = v[1], inner = v[2], n = outer * r * inner;
                float[] x = Check.uniform(31 + n, n, -2, 2);
                double[] sum = new double[outer * inner], max = new double[outer * inner], sq = new double[outer * inner];
                for (int o = 0; o < outer; o++)
                    for (int i = 0; i < inner; i++) {
                        double s = 0, m = Double.NEGATIVE_INFINITY, q = 0;
                        for (int j = 0; j < r; j++) {
                            float e = x[(o * r + j) * inner + i];
                            s += e;
                            m = Math.max(m, e);
                            q += (double) e * e;
                        }
                        sum[o * inner + i] = s;
                        max[o * inner + i] = m;
                        sq[o * inner + i] = q;
                    }
                var xs = k.floats(x);
                Dim3 grid = Dim3.of((inner + 31) / 32, Math.min(outer, 65535)), block = Dim3.of(32, 8);
                var out = k.poisoned(outer * inner);
                k.launch("sum_forward", grid, block, 0, out, xs, outer, r, inner);
                Check.close("sum over " + java.util.Arrays.toString(v), sum, EmuKernels.read(out, outer * inner),
                        1e-5 * Math.sqrt(r), 1e-5);
                k.launch("max_forward", grid, block, 0, out, xs, outer, r, inner);
                Check.close("max over " + java.util.Arrays.toString(v), max, EmuKernels.read(out, outer * inner), 0, 0);
                k.launch("sumsq_forward_axis", grid, block, 0, out, xs, outer, r, inner);
                Check.close("sum of squares over " + java.util.Arrays.toString(v), sq, EmuKernels.read(out, outer * inner),
                        1e-5 * Math.sqrt(r), 1e-5);
                if (outer > 4) {   // fewer blocks than rows: the grid-stride loop over outer
                    var out2 = k.poisoned(outer * inner);
                    k.launch("sum_forward", Dim3.of(grid.x(), 3), block, 0, out2, xs, outer, r, inner);
                    Check.close("sum (grid y 3) " + java.util.Arrays.toString(v), sum,
                            EmuKernels.read(out2, outer * inner), 1e-5 * Math.sqrt(r), 1e-5);
                }
            }
        }
    }

    @Test
    void sumOfSquaresAccumulatesAndAllFiniteFlags() {
        try (var k = EmuKernels.open()) {
            var acc = k.zeros(1);
            double ref = 0;
            for (int n : new int[] {1, 7, 33, 1000, 5000}) {
                float[] x = Check.uniform(41 + n, n, -1, 1);
                for (float e : x) ref += (double) e * e;
                int block = n < 100 ? 64 : 256;
                int blocks = Check.blocksFor(n, block);
                var part = k.poisoned(blocks);
                k.launch("sumsq_partial", Dim3.of(blocks), Dim3.of(block), 0, part, k.floats(x), n);
                k.launch("sum_partials", Dim3.of(1), Dim3.of(64), 0, acc, part, blocks, 1f);
                var flag = k.ints(1);
                k.launch("allfinite_forward", Dim3.of(3), Dim3.of(64), 0, flag, k.floats(x), n);
                assertEquals(1, EmuKernels.readInts(flag, 1)[0], "finite input, n " + n);
                for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                    float[] y = x.clone();
                    y[n - 1] = bad;
                    var f2 = k.ints(1);
                    k.launch("allfinite_forward", Dim3.of(2), Dim3.of(32), 0, f2, k.floats(y), n);
                    assertEquals(0, EmuKernels.readInts(f2, 1)[0], bad + " at the end, n " + n);
                }
            }
            Check.close("sum of squares over 5 tensors", new double[] {ref}, EmuKernels.read(acc, 1), 0, 1e-5);
        }
    }

    @Test
    void softmaxForwardAndBackwardRows() {
        try (var k = EmuKernels.open()) {
            for (int[] rc : new int[][] {{1, 1}, {7, 33}, {3, 1000}, {33, 7}, {1, 2049}}) {
                int rows = rc[0], cols = rc[1], n = rows * cols;
                float[] x = Check.uniform(51 + n, n, -8, 8), dy = Check.uniform(52 + n, n, -1, 1);
                x[0] = 80f;   // exp(80) overflows float unless the max is subtracted
                double[] y = new double[n], dx = new double[n];
                float[] yf = new float[n];
                for (int r = 0; r < rows; r++) {
                    double m = Double.NEGATIVE_INFINITY, s = 0, dot = 0;
                    for (int j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]);
                    for (int j = 0; j < cols; j++) s += Math.exp(x[r * cols + j] - m);
                    for (int j = 0; j < cols; j++) {
                        y[r * cols + j] = Math.exp(x[r * cols + j] - m) / s;
                        yf[r * cols + j] = (float) y[r * cols + j];
                    }
                    for (int j = 0; j < cols; j++) dot += (double) dy[r * cols + j] * yf[r * cols + j];
                    for (int j = 0; j < cols; j++) dx[r * cols + j] = yf[r * cols + j] * (dy[r * cols + j] - dot);
                }
                for (int[] g : new int[][] {{Math.min(rows, 65535), 256}, {2, 64}, {1, 1024}}) {
                    var out = k.poisoned(n);
                    k.launch("softmax_forward", Dim3.of(g[0]), Dim3.of(g[1]), 0, out, k.floats(x), rows, cols);
                    Check.close("softmax " + rows + "x" + cols, y, EmuKernels.read(out, n), 1e-7, 1e-5);
                    var dxs = k.poisoned(n);
                    k.launch("softmax_backward", Dim3.of(g[0]), Dim3.of(g[1]), 0, dxs, k.floats(dy), k.floats(yf), rows,
                            cols);
                    Check.close("softmax_backward " + rows + "x" + cols, dx, EmuKernels.read(dxs, n), 1e-6, 1e-4);
                }
            }
        }
    }
}
