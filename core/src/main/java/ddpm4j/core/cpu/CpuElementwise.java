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
                int i = 0;
                for (int bound = S.loopBound(len); i < bound; i += L) unaryVec(op, o, (oo + i) * 4, a, (ao + i) * 4, null);
                if (i < len) unaryVec(op, o, (oo + i) * 4, a, (ao + i) * 4, S.indexInRange(i, len));
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

    // One vector (or a masked tail when m != null) of out = op(x).
    private static void unaryVec(UnaryOp op, MemorySegment o, long ob, MemorySegment a, long ab, VectorMask<Float> m) {
        var x = m == null ? FloatVector.fromMemorySegment(S, a, ab, LE) : FloatVector.fromMemorySegment(S, a, ab, LE, m);
        FloatVector y = switch (op) {
            case NEG -> x.neg();
            case EXP -> CpuMath.exp(x);
            case LOG, TANH, SIN, COS -> throw new AssertionError(op + " runs scalar (see vectorised)");
            case SQRT -> x.sqrt();
            case RSQRT -> FloatVector.broadcast(S, 1f).div(x.sqrt());
            case SQUARE -> x.mul(x);
            case SIGMOID -> sigmoid(x);
            case SILU -> x.mul(sigmoid(x));
            case RELU -> x.max(0f);
            case ABS -> x.abs();
        };
        if (m == null) y.intoMemorySegment(o, ob, LE);
        else y.intoMemorySegment(o, ob, LE, m);
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
                // stride 0 is a broadcast operand: one value for the whole row
                for (int bound = S.loopBound(len); i < bound; i += L) {
                    var va = sa == 0 ? FloatVector.broadcast(S, a.getAtIndex(JAVA_FLOAT, ao))
                            : FloatVector.fromMemorySegment(S, a, (ao + i) * 4, LE);
                    var vb = sb == 0 ? FloatVector.broadcast(S, b.getAtIndex(JAVA_FLOAT, bo))
                            : FloatVector.fromMemorySegment(S, b, (bo + i) * 4, LE);
                    binaryVec(op, va, vb).intoMemorySegment(o, (oo + i) * 4, LE);
                }
            }
            for (; i < len; i++) {
                float va = a.getAtIndex(JAVA_FLOAT, ao + i * sa), vb = b.getAtIndex(JAVA_FLOAT, bo + i * sb);
                o.setAtIndex(JAVA_FLOAT, oo + i * so, binaryScalar(op, va, vb));
            }
        });
    }

    private static FloatVector binaryVec(BinaryOp op, FloatVector a, FloatVector b) {
        return switch (op) {
            case ADD -> a.add(b);
            case SUB -> a.sub(b);
            case MUL -> a.mul(b);
            case DIV -> a.div(b);
            case MAX -> a.lanewise(VectorOperators.MAX, b);
            case MIN -> a.lanewise(VectorOperators.MIN, b);
            case EQ -> FloatVector.zero(S).blend(1f, a.compare(VectorOperators.EQ, b));
            case GT -> FloatVector.zero(S).blend(1f, a.compare(VectorOperators.GT, b));
        };
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
