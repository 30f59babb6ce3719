// SPDX-License-Identifier: Apache-2.0
// Elementwise CPU kernels (Vector API, both cores): fill, copy, unary, binary with broadcasting, affine.
// Definitions: ReferenceBackend.unary / binary. Rows come from CpuStrided; unit-stride rows run vectorised.
package ddpm4j.core.cpu;

import ddpm4j.core.Backend.BinaryOp;
import ddpm4j.core.Backend.UnaryOp;
import ddpm4j.core.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import static ddpm4j.core.cpu.CpuMem.L;
import static ddpm4j.core.cpu.CpuMem.LE;
import static ddpm4j.core.cpu.CpuMem.S;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

final class CpuElementwise {
    private CpuElementwise() {}

    static void fill(Tensor out, double value) {
        MemorySegment o = CpuMem.base(out);
        float v = (float) value;
        CpuStrided.walk(out, null, null, (oo, so, ao, sa, bo, sb, len) -> {
            if (so == 1) {
                var vv = FloatVector.broadcast(S, v);
                int i = 0;
                for (int bound = S.loopBound(len); i < bound; i += L) vv.intoMemorySegment(o, (oo + i) * 4, LE);
                for (; i < len; i++) o.setAtIndex(JAVA_FLOAT, oo + i, v);
            } else {
                for (int i = 0; i < len; i++) o.setAtIndex(JAVA_FLOAT, oo + i * so, v);
            }
        });
    }

    static void copy(Tensor out, Tensor x) {
        MemorySegment o = CpuMem.base(out), a = CpuMem.base(x);
        if (CpuTranspose.tryCopy(out, x, o, a)) return;
        CpuStrided.walk(out, x, null, (oo, so, ao, sa, bo, sb, len) -> {
            if (so == 1 && sa == 1) {
                MemorySegment.copy(a, ao * 4, o, oo * 4, len * 4L);
            } else if (so == 1 && sa == 0) {
                float v = a.getAtIndex(JAVA_FLOAT, ao);
                for (int i = 0; i < len; i++) o.setAtIndex(JAVA_FLOAT, oo + i, v);
            } else {
                for (int i = 0; i < len; i++) o.setAtIndex(JAVA_FLOAT, oo + i * so, a.getAtIndex(JAVA_FLOAT, ao + i * sa));
            }
        });
    }

    static void affine(Tensor out, Tensor x, double scale, double shift) {
        MemorySegment o = CpuMem.base(out), a = CpuMem.base(x);
        float sc = (float) scale, sh = (float) shift;
        CpuStrided.walk(out, x, null, (oo, so, ao, sa, bo, sb, len) -> {
            int i = 0;
            if (so == 1 && sa == 1) {
                for (int bound = S.loopBound(len); i < bound; i += L) {
                    FloatVector.fromMemorySegment(S, a, (ao + i) * 4, LE).fma(sc, sh).intoMemorySegment(o, (oo + i) * 4, LE);
                }
            }
            for (; i < len; i++) o.setAtIndex(JAVA_FLOAT, oo + i * so, Math.fma(sc, a.getAtIndex(JAVA_FLOAT, ao + i * sa), sh));
        });
    }

    static void unary(UnaryOp op, Tensor out, Tensor x) {
        MemorySegment o = CpuMem.base(out), a = CpuMem.base(x);
        CpuStrided.walk(out, x, null, (oo, so, ao, sa, bo, sb, len) -> {
            if (so == 1 && sa == 1 && vectorised(op)) {
                unaryRow(op, o, oo * 4, a, ao * 4, len);
            } else {
                for (int i = 0; i < len; i++) {
                    o.setAtIndex(JAVA_FLOAT, oo + i * so, unaryScalar(op, a.getAtIndex(JAVA_FLOAT, ao + i * sa)));
                }
            }
        });
    }

    // LOG, TANH, SIN, COS run through Math per element: the Vector API's versions give different bits compiled (SVML)
    // and interpreted (Math per lane), which would make results depend on JIT timing (see CpuMath). None is hot here.
    private static boolean vectorised(UnaryOp op) {
        return !(op == UnaryOp.LOG || op == UnaryOp.TANH || op == UnaryOp.SIN || op == UnaryOp.COS);
    }

    // One unit-stride row of out = op(x) at byte offsets ob, ab. One small method per op, chosen once per row: a
    // per-vector switch over all ops in one loop grew too large for C2 to inline once several ops had run, and then
    // boxed every FloatVector (measured: 12.6 MB per SiLU call at 16x64x32x32). Here no vector crosses a call that
    // C2 might not inline.
    private static void unaryRow(UnaryOp op, MemorySegment o, long ob, MemorySegment a, long ab, int len) {
        switch (op) {
            case NEG -> negRow(o, ob, a, ab, len);
            case EXP -> expRow(o, ob, a, ab, len);
            case LOG, TANH, SIN, COS -> throw new AssertionError(op + " runs scalar (see vectorised)");
            case SQRT -> sqrtRow(o, ob, a, ab, len);
            case RSQRT -> rsqrtRow(o, ob, a, ab, len);
            case SQUARE -> squareRow(o, ob, a, ab, len);
            case SIGMOID -> sigmoidRow(o, ob, a, ab, len);
            case SILU -> siluRow(o, ob, a, ab, len);
            case RELU -> reluRow(o, ob, a, ab, len);
            case ABS -> absRow(o, ob, a, ab, len);
        }
    }

    // Each row: full vectors, then a masked tail (masked-off lanes load 0 and are not stored).
    private static void negRow(MemorySegment o, long ob, MemorySegment a, long ab, int len) {
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) load(a, ab, i).neg().intoMemorySegment(o, ob + 4L * i, LE);
        if (i < len) { var m = S.indexInRange(i, len); load(a, ab, i, m).neg().intoMemorySegment(o, ob + 4L * i, LE, m); }
    }

    // Rows that call exp (directly or through sigmoid) make one pass with a mask (all lanes but in the last vector),
    // so exp has a single call site, inside the hot loop. With a separate tail call, C2 sometimes judged that site
    // cold and left exp (249 bytecodes) out of line there, boxing its argument and result on every row.
    private static void expRow(MemorySegment o, long ob, MemorySegment a, long ab, int len) {
        for (int i = 0; i < len; i += L) {
            var m = S.indexInRange(i, len);
            CpuMath.exp(load(a, ab, i, m)).intoMemorySegment(o, ob + 4L * i, LE, m);
        }
    }

    private static void sqrtRow(MemorySegment o, long ob, MemorySegment a, long ab, int len) {
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) load(a, ab, i).sqrt().intoMemorySegment(o, ob + 4L * i, LE);
        if (i < len) { var m = S.indexInRange(i, len); load(a, ab, i, m).sqrt().intoMemorySegment(o, ob + 4L * i, LE, m); }
    }

    private static void rsqrtRow(MemorySegment o, long ob, MemorySegment a, long ab, int len) {
        var one = FloatVector.broadcast(S, 1f);
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) one.div(load(a, ab, i).sqrt()).intoMemorySegment(o, ob + 4L * i, LE);
        if (i < len) { var m = S.indexInRange(i, len); one.div(load(a, ab, i, m).sqrt()).intoMemorySegment(o, ob + 4L * i, LE, m); }
    }

    private static void squareRow(MemorySegment o, long ob, MemorySegment a, long ab, int len) {
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) {
            var x = load(a, ab, i);
            x.mul(x).intoMemorySegment(o, ob + 4L * i, LE);
        }
        if (i < len) { var m = S.indexInRange(i, len); var x = load(a, ab, i, m); x.mul(x).intoMemorySegment(o, ob + 4L * i, LE, m); }
    }

    private static void sigmoidRow(MemorySegment o, long ob, MemorySegment a, long ab, int len) {
        for (int i = 0; i < len; i += L) {
            var m = S.indexInRange(i, len);
            sigmoid(load(a, ab, i, m)).intoMemorySegment(o, ob + 4L * i, LE, m);
        }
    }

    private static void siluRow(MemorySegment o, long ob, MemorySegment a, long ab, int len) {
        for (int i = 0; i < len; i += L) {
            var m = S.indexInRange(i, len);
            var x = load(a, ab, i, m);
            x.mul(sigmoid(x)).intoMemorySegment(o, ob + 4L * i, LE, m);
        }
    }

    private static void reluRow(MemorySegment o, long ob, MemorySegment a, long ab, int len) {
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) load(a, ab, i).max(0f).intoMemorySegment(o, ob + 4L * i, LE);
        if (i < len) { var m = S.indexInRange(i, len); load(a, ab, i, m).max(0f).intoMemorySegment(o, ob + 4L * i, LE, m); }
    }

    private static void absRow(MemorySegment o, long ob, MemorySegment a, long ab, int len) {
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) load(a, ab, i).abs().intoMemorySegment(o, ob + 4L * i, LE);
        if (i < len) { var m = S.indexInRange(i, len); load(a, ab, i, m).abs().intoMemorySegment(o, ob + 4L * i, LE, m); }
    }

    // Vector i of the row at byte offset ab (tiny, so C2 always inlines it).
    private static FloatVector load(MemorySegment a, long ab, int i) {
        return FloatVector.fromMemorySegment(S, a, ab + 4L * i, LE);
    }

    private static FloatVector load(MemorySegment a, long ab, int i, VectorMask<Float> m) {
        return FloatVector.fromMemorySegment(S, a, ab + 4L * i, LE, m);
    }

    /** 1 / (1 + e^-x); exp overflow for very negative x gives 0, as it should. */
    static FloatVector sigmoid(FloatVector x) {
        var one = FloatVector.broadcast(S, 1f);
        return one.div(one.add(CpuMath.exp(x.neg())));
    }

    static float unaryScalar(UnaryOp op, float x) {
        return switch (op) {
            case NEG -> -x;
            case EXP -> (float) Math.exp(x);
            case LOG -> (float) Math.log(x);
            case SQRT -> (float) Math.sqrt(x);
            case RSQRT -> (float) (1 / Math.sqrt(x));
            case SQUARE -> x * x;
            case TANH -> (float) Math.tanh(x);
            case SIGMOID -> (float) (1 / (1 + Math.exp(-x)));
            case SILU -> (float) (x / (1 + Math.exp(-x)));
            case SIN -> (float) Math.sin(x);
            case COS -> (float) Math.cos(x);
            case RELU -> x > 0 ? x : 0;
            case ABS -> Math.abs(x);
        };
    }

    static void binary(BinaryOp op, Tensor out, Tensor x, Tensor y) {
        MemorySegment o = CpuMem.base(out), a = CpuMem.base(x), b = CpuMem.base(y);
        CpuStrided.walk(out, x, y, (oo, so, ao, sa, bo, sb, len) -> {
            int i = 0;
            if (so == 1 && (sa == 0 || sa == 1) && (sb == 0 || sb == 1)) {
                i = binaryRow(op, o, oo * 4, a, ao * 4, sa == 0, b, bo * 4, sb == 0, len);
            }
            for (; i < len; i++) {
                float va = a.getAtIndex(JAVA_FLOAT, ao + i * sa), vb = b.getAtIndex(JAVA_FLOAT, bo + i * sb);
                o.setAtIndex(JAVA_FLOAT, oo + i * so, binaryScalar(op, va, vb));
            }
        });
    }

    // The full vectors of one row of out = a op b at byte offsets ob, ab, bb; returns how many elements it wrote. One
    // small method per op, as for unaryRow (a per-vector switch boxed 3 FloatVectors per vector once several ops ran).
    // A broadcast operand (stride 0) is one value for the whole row.
    private static int binaryRow(BinaryOp op, MemorySegment o, long ob, MemorySegment a, long ab, boolean ba,
                                 MemorySegment b, long bb, boolean bbc, int len) {
        return switch (op) {
            case ADD -> addRow(o, ob, a, ab, ba, b, bb, bbc, len);
            case SUB -> subRow(o, ob, a, ab, ba, b, bb, bbc, len);
            case MUL -> mulRow(o, ob, a, ab, ba, b, bb, bbc, len);
            case DIV -> divRow(o, ob, a, ab, ba, b, bb, bbc, len);
            case MAX -> maxRow(o, ob, a, ab, ba, b, bb, bbc, len);
            case MIN -> minRow(o, ob, a, ab, ba, b, bb, bbc, len);
            case EQ -> eqRow(o, ob, a, ab, ba, b, bb, bbc, len);
            case GT -> gtRow(o, ob, a, ab, ba, b, bb, bbc, len);
        };
    }

    private static int addRow(MemorySegment o, long ob, MemorySegment a, long ab, boolean ba, MemorySegment b, long bb,
                              boolean bbc, int len) {
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) {
            operand(a, ab, ba, i).add(operand(b, bb, bbc, i)).intoMemorySegment(o, ob + 4L * i, LE);
        }
        return i;
    }

    private static int subRow(MemorySegment o, long ob, MemorySegment a, long ab, boolean ba, MemorySegment b, long bb,
                              boolean bbc, int len) {
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) {
            operand(a, ab, ba, i).sub(operand(b, bb, bbc, i)).intoMemorySegment(o, ob + 4L * i, LE);
        }
        return i;
    }

    private static int mulRow(MemorySegment o, long ob, MemorySegment a, long ab, boolean ba, MemorySegment b, long bb,
                              boolean bbc, int len) {
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) {
            operand(a, ab, ba, i).mul(operand(b, bb, bbc, i)).intoMemorySegment(o, ob + 4L * i, LE);
        }
        return i;
    }

    private static int divRow(MemorySegment o, long ob, MemorySegment a, long ab, boolean ba, MemorySegment b, long bb,
                              boolean bbc, int len) {
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) {
            operand(a, ab, ba, i).div(operand(b, bb, bbc, i)).intoMemorySegment(o, ob + 4L * i, LE);
        }
        return i;
    }

    private static int maxRow(MemorySegment o, long ob, MemorySegment a, long ab, boolean ba, MemorySegment b, long bb,
                              boolean bbc, int len) {
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) {
            operand(a, ab, ba, i).lanewise(VectorOperators.MAX, operand(b, bb, bbc, i)).intoMemorySegment(o, ob + 4L * i, LE);
        }
        return i;
    }

    private static int minRow(MemorySegment o, long ob, MemorySegment a, long ab, boolean ba, MemorySegment b, long bb,
                              boolean bbc, int len) {
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) {
            operand(a, ab, ba, i).lanewise(VectorOperators.MIN, operand(b, bb, bbc, i)).intoMemorySegment(o, ob + 4L * i, LE);
        }
        return i;
    }

    private static int eqRow(MemorySegment o, long ob, MemorySegment a, long ab, boolean ba, MemorySegment b, long bb,
                             boolean bbc, int len) {
        var zero = FloatVector.zero(S);
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) {
            var eq = operand(a, ab, ba, i).compare(VectorOperators.EQ, operand(b, bb, bbc, i));
            zero.blend(1f, eq).intoMemorySegment(o, ob + 4L * i, LE);
        }
        return i;
    }

    private static int gtRow(MemorySegment o, long ob, MemorySegment a, long ab, boolean ba, MemorySegment b, long bb,
                             boolean bbc, int len) {
        var zero = FloatVector.zero(S);
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) {
            var gt = operand(a, ab, ba, i).compare(VectorOperators.GT, operand(b, bb, bbc, i));
            zero.blend(1f, gt).intoMemorySegment(o, ob + 4L * i, LE);
        }
        return i;
    }

    // Vector i of a row operand at byte offset ab, or its first value in every lane when broadcast.
    private static FloatVector operand(MemorySegment a, long ab, boolean broadcast, int i) {
        return broadcast ? FloatVector.broadcast(S, a.get(JAVA_FLOAT, ab)) : load(a, ab, i);
    }

    static float binaryScalar(BinaryOp op, float a, float b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case MAX -> Math.max(a, b);
            case MIN -> Math.min(a, b);
            case EQ -> a == b ? 1 : 0;
            case GT -> a > b ? 1 : 0;
        };
    }

    static void copyFromHost(Tensor dst, float[] src, int srcOff) {
        MemorySegment d = CpuMem.base(dst);
        if (dst.isContiguous()) {
            MemorySegment.copy(src, srcOff, d, JAVA_FLOAT, CpuMem.off(dst), Math.toIntExact(dst.numel()));
            return;
        }
        int[] shape = dst.shape();
        long[] st = dst.strides();
        for (long i = 0, n = dst.numel(); i < n; i++) {
            d.setAtIndex(JAVA_FLOAT, CpuStrided.offsetOf(dst, i, shape, st), src[(int) (srcOff + i)]);
        }
    }

    static void copyFromHost(Tensor dst, double[] src, int srcOff) {
        MemorySegment d = CpuMem.base(dst);
        int[] shape = dst.shape();
        long[] st = dst.strides();
        boolean contiguous = dst.isContiguous();
        for (long i = 0, n = dst.numel(); i < n; i++) {
            long at = contiguous ? dst.offset() + i : CpuStrided.offsetOf(dst, i, shape, st);
            d.setAtIndex(JAVA_FLOAT, at, (float) src[(int) (srcOff + i)]);
        }
    }

    static void copyToHost(Tensor src, float[] dst, int dstOff) {
        MemorySegment s = CpuMem.base(src);
        if (src.isContiguous()) {
            MemorySegment.copy(s, JAVA_FLOAT, CpuMem.off(src), dst, dstOff, Math.toIntExact(src.numel()));
            return;
        }
        int[] shape = src.shape();
        long[] st = src.strides();
        for (long i = 0, n = src.numel(); i < n; i++) {
            dst[(int) (dstOff + i)] = s.getAtIndex(JAVA_FLOAT, CpuStrided.offsetOf(src, i, shape, st));
        }
    }

    static void copyToHost(Tensor src, double[] dst, int dstOff) {
        MemorySegment s = CpuMem.base(src);
        int[] shape = src.shape();
        long[] st = src.strides();
        boolean contiguous = src.isContiguous();
        for (long i = 0, n = src.numel(); i < n; i++) {
            long at = contiguous ? src.offset() + i : CpuStrided.offsetOf(src, i, shape, st);
            dst[(int) (dstOff + i)] = s.getAtIndex(JAVA_FLOAT, at);
        }
    }
}
