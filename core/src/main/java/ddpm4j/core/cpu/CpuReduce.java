// SPDX-License-Identifier: Apache-2.0
// Reductions over the middle axis of (outer, r, inner) and row softmax forward/backward, Vector API on both cores.
// Definitions: ReferenceBackend.reduce / softmaxForward / softmaxBackward.
package ddpm4j.core.cpu;

import ddpm4j.core.Backend.ReduceOp;
import ddpm4j.core.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static ddpm4j.core.cpu.CpuMem.L;
import static ddpm4j.core.cpu.CpuMem.LE;
import static ddpm4j.core.cpu.CpuMem.S;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

final class CpuReduce {
    private CpuReduce() {}

    // x: (outer, r, inner) -> out: (outer, inner)
    static void reduce(ReduceOp op, Tensor out, Tensor x, int outer, int r, int inner) {
        MemorySegment o = CpuMem.seg(out), a = CpuMem.seg(x);
        if (inner == 1) {
            int grain = Math.max(1, CpuMem.grain((long) outer * r) / Math.max(1, r));
            Parallel.forRange(outer, grain, (w, lo, hi) -> {
                for (int i = lo; i < hi; i++) o.setAtIndex(JAVA_FLOAT, i, reduceRow(op, a, (long) i * r, r));
            });
            return;
        }
        // inner > 1: lanes run along inner, each lane accumulates its column over r
        int block = Math.min(inner, 1024);
        int blocks = (inner + block - 1) / block;
        int grain = Math.max(1, CpuMem.grain((long) outer * r * inner) / Math.max(1, r * block));
        Parallel.forRange(outer * blocks, grain, (w, lo, hi) -> {
            float[] acc = CpuMem.scratch(0, block);
            for (int t = lo; t < hi; t++) {
                int ai = t / blocks, i0 = (t % blocks) * block, n = Math.min(block, inner - i0);
                java.util.Arrays.fill(acc, 0, n, op == ReduceOp.MAX ? Float.NEGATIVE_INFINITY : 0f);
                for (int k = 0; k < r; k++) {
                    long base = ((long) ai * r + k) * inner + i0;
                    int j = 0;
                    for (int bound = S.loopBound(n); j < bound; j += L) {
                        var v = FloatVector.fromMemorySegment(S, a, (base + j) * 4, LE);
                        var c = FloatVector.fromArray(S, acc, j);
                        c = switch (op) {
                            case SUM -> c.add(v);
                            case MAX -> c.max(v);
                            case SUMSQ -> v.fma(v, c);
                        };
                        c.intoArray(acc, j);
                    }
                    for (; j < n; j++) {
                        float v = a.getAtIndex(JAVA_FLOAT, base + j);
                        acc[j] = switch (op) {
                            case SUM -> acc[j] + v;
                            case MAX -> Math.max(acc[j], v);
                            case SUMSQ -> acc[j] + v * v;
                        };
                    }
                }
                MemorySegment.copy(acc, 0, o, JAVA_FLOAT, ((long) ai * inner + i0) * 4, n);
            }
        });
    }

    // One contiguous row. One method per op, for the reason at CpuElementwise.unaryRow: a per-vector switch over the
    // ops kept C2 from compiling the loop without boxing once all ops had run.
    private static float reduceRow(ReduceOp op, MemorySegment a, long base, int r) {
        return switch (op) {
            case SUM -> sumRow(a, base, r);
            case MAX -> maxRow(a, base, r);
            case SUMSQ -> sumSqRow(a, base, r);
        };
    }

    // Four vector accumulators shorten the float rounding chains; their sum leaves through CpuMem.lanes().
    private static float sumRow(MemorySegment a, long base, int r) {
        var c0 = FloatVector.zero(S);
        var c1 = c0;
        var c2 = c0;
        var c3 = c0;
        int k = 0;
        for (int bound = r - 4 * L + 1; k < bound; k += 4 * L) {
            long b = (base + k) * 4;
            c0 = c0.add(FloatVector.fromMemorySegment(S, a, b, LE));
            c1 = c1.add(FloatVector.fromMemorySegment(S, a, b + 4L * L, LE));
            c2 = c2.add(FloatVector.fromMemorySegment(S, a, b + 8L * L, LE));
            c3 = c3.add(FloatVector.fromMemorySegment(S, a, b + 12L * L, LE));
        }
        for (int bound = S.loopBound(r); k < bound; k += L) c0 = c0.add(FloatVector.fromMemorySegment(S, a, (base + k) * 4, LE));
        float[] lanes = CpuMem.lanes();
        c0.add(c1).add(c2.add(c3)).intoArray(lanes, 0);
        float acc = CpuMem.sumLanes(lanes);
        for (; k < r; k++) acc += a.getAtIndex(JAVA_FLOAT, base + k);
        return acc;
    }

    private static float sumSqRow(MemorySegment a, long base, int r) {
        var c0 = FloatVector.zero(S);
        var c1 = c0;
        var c2 = c0;
        var c3 = c0;
        int k = 0;
        for (int bound = r - 4 * L + 1; k < bound; k += 4 * L) {
            long b = (base + k) * 4;
            var v0 = FloatVector.fromMemorySegment(S, a, b, LE);
            var v1 = FloatVector.fromMemorySegment(S, a, b + 4L * L, LE);
            var v2 = FloatVector.fromMemorySegment(S, a, b + 8L * L, LE);
            var v3 = FloatVector.fromMemorySegment(S, a, b + 12L * L, LE);
            c0 = v0.fma(v0, c0);
            c1 = v1.fma(v1, c1);
            c2 = v2.fma(v2, c2);
            c3 = v3.fma(v3, c3);
        }
        for (int bound = S.loopBound(r); k < bound; k += L) {
            var v = FloatVector.fromMemorySegment(S, a, (base + k) * 4, LE);
            c0 = v.fma(v, c0);
        }
        float[] lanes = CpuMem.lanes();
        c0.add(c1).add(c2.add(c3)).intoArray(lanes, 0);
        float acc = CpuMem.sumLanes(lanes);
        for (; k < r; k++) {
            float v = a.getAtIndex(JAVA_FLOAT, base + k);
            acc += v * v;
        }
        return acc;
    }

    // Max is exact in any order, so reduceLanes(MAX) is safe here (unlike ADD, see CpuMem.sumLanes).
    private static float maxRow(MemorySegment a, long base, int r) {
        var c0 = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        var c1 = c0;
        var c2 = c0;
        var c3 = c0;
        int k = 0;
        for (int bound = r - 4 * L + 1; k < bound; k += 4 * L) {
            long b = (base + k) * 4;
            c0 = c0.max(FloatVector.fromMemorySegment(S, a, b, LE));
            c1 = c1.max(FloatVector.fromMemorySegment(S, a, b + 4L * L, LE));
            c2 = c2.max(FloatVector.fromMemorySegment(S, a, b + 8L * L, LE));
            c3 = c3.max(FloatVector.fromMemorySegment(S, a, b + 12L * L, LE));
        }
        for (int bound = S.loopBound(r); k < bound; k += L) c0 = c0.max(FloatVector.fromMemorySegment(S, a, (base + k) * 4, LE));
        float acc = c0.max(c1).max(c2.max(c3)).reduceLanes(VectorOperators.MAX);
        for (; k < r; k++) acc = Math.max(acc, a.getAtIndex(JAVA_FLOAT, base + k));
        return acc;
    }

    // x, out: (rows, cols); out = exp(x - max) / sum
    static void softmaxForward(Tensor out, Tensor x, int rows, int cols) {
        MemorySegment o = CpuMem.seg(out), a = CpuMem.seg(x);
        Parallel.forRange(rows, Math.max(1, CpuMem.grain((long) rows * cols) / Math.max(1, cols)), (w, lo, hi) -> {
            for (int r = lo; r < hi; r++) softmaxRow(o, a, (long) r * cols, cols);
        });
    }

    /** One row of softmax at element offset {@code base}; returns the row's log-sum-exp. o may alias a. */
    static float softmaxRow(MemorySegment o, MemorySegment a, long base, int cols) {
        float max = reduceRow(ReduceOp.MAX, a, base, cols);
        float sum = expShiftRow(o, a, base, cols, max);
        scaleRow(o, base, cols, 1f / sum);
        return max + (float) Math.log(sum);
    }

    /** o = exp(a - shift) over a row; returns the sum of the results. */
    static float expShiftRow(MemorySegment o, MemorySegment a, long base, int cols, float shift) {
        // One pass with a mask (all lanes but in the last vector), so exp has a single call site in the hot loop: a
        // separate call for the tail was sometimes compiled cold, with exp out of line and its vectors boxed (about
        // 190 B per row). Masked-off lanes keep their sums. The lane sums travel in lanes.
        var acc = FloatVector.zero(S);
        for (int c = 0; c < cols; c += L) {
            var m = S.indexInRange(c, cols);
            long b = (base + c) * 4;
            var e = CpuMath.exp(FloatVector.fromMemorySegment(S, a, b, LE, m).sub(shift));
            e.intoMemorySegment(o, b, LE, m);
            acc = acc.add(e, m);
        }
        float[] lanes = CpuMem.lanes();
        acc.intoArray(lanes, 0);
        return CpuMem.sumLanes(lanes);                  // not sumLanes(acc): see CpuMem.sumLanes(float[])
    }

    static void scaleRow(MemorySegment o, long base, int cols, float s) {
        int c = 0;
        for (int bound = S.loopBound(cols); c < bound; c += L) {
            long b = (base + c) * 4;
            FloatVector.fromMemorySegment(S, o, b, LE).mul(s).intoMemorySegment(o, b, LE);
        }
        for (; c < cols; c++) o.setAtIndex(JAVA_FLOAT, base + c, o.getAtIndex(JAVA_FLOAT, base + c) * s);
    }

    // dx = y * (dy - sum(dy * y)) row by row
    static void softmaxBackward(Tensor dx, Tensor y, Tensor dy, int rows, int cols) {
        MemorySegment d = CpuMem.seg(dx), ys = CpuMem.seg(y), g = CpuMem.seg(dy);
        Parallel.forRange(rows, Math.max(1, CpuMem.grain((long) rows * cols) / Math.max(1, cols)), (w, lo, hi) -> {
            for (int r = lo; r < hi; r++) softmaxBackwardRow(d, ys, g, (long) r * cols, cols);
        });
    }

    static void softmaxBackwardRow(MemorySegment d, MemorySegment ys, MemorySegment g, long base, int cols) {
        float dot = dot(ys, base, g, base, cols);
        int c = 0;
        for (int bound = S.loopBound(cols); c < bound; c += L) {
            long b = (base + c) * 4;
            var yv = FloatVector.fromMemorySegment(S, ys, b, LE);
            yv.mul(FloatVector.fromMemorySegment(S, g, b, LE).sub(dot)).intoMemorySegment(d, b, LE);
        }
        for (; c < cols; c++) {
            float yv = ys.getAtIndex(JAVA_FLOAT, base + c);
            d.setAtIndex(JAVA_FLOAT, base + c, yv * (g.getAtIndex(JAVA_FLOAT, base + c) - dot));
        }
    }

    /** Sum of a[i] * b[i] over n elements at element offsets ao, bo. */
    static float dot(MemorySegment a, long ao, MemorySegment b, long bo, int n) {
        var acc = FloatVector.zero(S);
        int c = 0;
        for (int bound = S.loopBound(n); c < bound; c += L) {
            acc = FloatVector.fromMemorySegment(S, a, (ao + c) * 4, LE)
                    .fma(FloatVector.fromMemorySegment(S, b, (bo + c) * 4, LE), acc);
        }
        float[] lanes = CpuMem.lanes();
        acc.intoArray(lanes, 0);
        float s = CpuMem.sumLanes(lanes);
        for (; c < n; c++) s += a.getAtIndex(JAVA_FLOAT, ao + c) * b.getAtIndex(JAVA_FLOAT, bo + c);
        return s;
    }
}
