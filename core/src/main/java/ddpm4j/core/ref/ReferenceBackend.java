// SPDX-License-Identifier: Apache-2.0
// The reference backend: every op as plain scalar loops with double accumulation, in F32 or F64. It is the living
// definition of the op set (tinygrad's ops_python, llm.c's train_gpt2.c); every fast kernel is tested against it.
// Layers (conv, GroupNorm, attention, ...) are in RefLayers; fused diffusion/optimizer kernels in RefFused.
package ddpm4j.core.ref;

import ddpm4j.core.Backend;
import ddpm4j.core.DType;
import ddpm4j.core.Storage;
import ddpm4j.core.Tensor;
import ddpm4j.core.mem.HostPool;
import ddpm4j.core.mem.HostStorage;

/** Slow, obviously correct, supports F32 and F64. */
public final class ReferenceBackend implements Backend {
    private final HostPool pool = new HostPool("reference backend");

    @Override public String name() { return "reference"; }

    @Override public boolean supports(DType dtype) { return true; }

    @Override public Storage allocate(long numel, DType dtype) { return new HostStorage(this, pool, dtype, numel); }

    @Override public String describe() { return "reference (scalar loops, double accumulation, 1 thread)"; }

    @Override public long liveBytes() { return pool.liveBytes(); }

    @Override public long peakBytes() { return pool.peakBytes(); }

    @Override public void resetPeak() { pool.resetPeak(); }

    @Override public void capMemoryFootprint(boolean on) { pool.capFootprint(on); }

    @Override public void trim() { pool.trim(); }

    // ---- data movement ------------------------------------------------------------------------------------------

    @Override public void copyFromHost(Tensor dst, float[] src, int off) {
        RefMem d = RefMem.of(dst);
        for (long i = 0, n = dst.numel(); i < n; i++) d.set(i, src[(int) (off + i)]);
    }

    @Override public void copyFromHost(Tensor dst, double[] src, int off) {
        RefMem d = RefMem.of(dst);
        for (long i = 0, n = dst.numel(); i < n; i++) d.set(i, src[(int) (off + i)]);
    }

    @Override public void copyToHost(Tensor src, float[] dst, int off) {
        RefMem s = RefMem.of(src);
        for (long i = 0, n = src.numel(); i < n; i++) dst[(int) (off + i)] = (float) s.get(i);
    }

    @Override public void copyToHost(Tensor src, double[] dst, int off) {
        RefMem s = RefMem.of(src);
        for (long i = 0, n = src.numel(); i < n; i++) dst[(int) (off + i)] = s.get(i);
    }

    @Override public void fill(Tensor out, double value) {
        RefMem o = RefMem.of(out);
        for (long i = 0, n = out.numel(); i < n; i++) o.set(i, value);
    }

    @Override public void copy(Tensor out, Tensor x) {
        RefMem o = RefMem.of(out), s = RefMem.of(x);
        for (long i = 0, n = out.numel(); i < n; i++) o.set(i, s.get(i));
    }

    // ---- elementwise --------------------------------------------------------------------------------------------

    /** The definition of each unary op. */
    static double unary(UnaryOp op, double x) {
        return switch (op) {
            case NEG -> -x;
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1 / Math.sqrt(x);
            case SQUARE -> x * x;
            case TANH -> Math.tanh(x);
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case SILU -> x / (1 + Math.exp(-x));
            case SIN -> Math.sin(x);
            case COS -> Math.cos(x);
            case RELU -> x > 0 ? x : 0;
            case ABS -> Math.abs(x);
        };
    }

    /** The definition of each binary op. */
    static double binary(BinaryOp op, double a, double b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case EQ -> a == b ? 1 : 0;
            case MAX -> Math.max(a, b);
            case GT -> a > b ? 1 : 0;
            case MIN -> Math.min(a, b);
        };
    }

    @Override public void unary(UnaryOp op, Tensor out, Tensor x) {
        RefMem o = RefMem.of(out), s = RefMem.of(x);
        for (long i = 0, n = out.numel(); i < n; i++) o.set(i, unary(op, s.get(i)));
    }

    @Override public void binary(BinaryOp op, Tensor out, Tensor a, Tensor b) {
        RefMem o = RefMem.of(out), ra = RefMem.of(a), rb = RefMem.of(b);
        // read both operands before writing: out may alias a (in-place accumulation)
        for (long i = 0, n = out.numel(); i < n; i++) { double va = ra.get(i), vb = rb.get(i); o.set(i, binary(op, va, vb)); }
    }

    @Override public void affine(Tensor out, Tensor x, double scale, double shift) {
        RefMem o = RefMem.of(out), s = RefMem.of(x);
        for (long i = 0, n = out.numel(); i < n; i++) o.set(i, scale * s.get(i) + shift);
    }

    // ---- reductions and softmax ---------------------------------------------------------------------------------

    @Override public void reduce(ReduceOp op, Tensor out, Tensor x, int outer, int r, int inner) {
        RefMem o = RefMem.of(out), s = RefMem.of(x);
        for (int a = 0; a < outer; a++)
            for (int i = 0; i < inner; i++) {
                double acc = op == ReduceOp.MAX ? Double.NEGATIVE_INFINITY : 0;
                for (int k = 0; k < r; k++) {
                    double v = s.get(((long) a * r + k) * inner + i);
                    acc = switch (op) {
                        case SUM -> acc + v;
                        case MAX -> Math.max(acc, v);
                        case SUMSQ -> acc + v * v;
                    };
                }
                o.set((long) a * inner + i, acc);
            }
    }

    @Override public void softmaxForward(Tensor out, Tensor x, int rows, int cols) {
        RefMem o = RefMem.of(out), s = RefMem.of(x);
        for (int r = 0; r < rows; r++) {
            long base = (long) r * cols;
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int c = 0; c < cols; c++) max = Math.max(max, s.get(base + c));
            for (int c = 0; c < cols; c++) sum += Math.exp(s.get(base + c) - max);
            for (int c = 0; c < cols; c++) o.set(base + c, Math.exp(s.get(base + c) - max) / sum);
        }
    }

    @Override public void softmaxBackward(Tensor dx, Tensor y, Tensor dy, int rows, int cols) {
        RefMem d = RefMem.of(dx), ry = RefMem.of(y), rdy = RefMem.of(dy);
        for (int r = 0; r < rows; r++) {
            long base = (long) r * cols;
            double dot = 0;
            for (int c = 0; c < cols; c++) dot += ry.get(base + c) * rdy.get(base + c);
            for (int c = 0; c < cols; c++) d.set(base + c, ry.get(base + c) * (rdy.get(base + c) - dot));
        }
    }

    // ---- GEMM ---------------------------------------------------------------------------------------------------

    @Override public void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB,
                                 int batch, int m, int n, int k, long strideA, long strideB) {
        RefMem o = RefMem.of(out), ra = RefMem.of(a), rb = RefMem.of(b);
        for (int bi = 0; bi < batch; bi++) {
            long offA = ra.offset() + bi * strideA, offB = rb.offset() + bi * strideB;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double acc = 0;
                    for (int p = 0; p < k; p++) {
                        double va = ra.raw(offA + (transA ? (long) p * m + i : (long) i * k + p));
                        double vb = rb.raw(offB + (transB ? (long) j * k + p : (long) p * n + j));
                        acc += va * vb;
                    }
                    o.set(((long) bi * m + i) * n + j, acc);
                }
        }
    }

    // ---- layers (RefLayers) and fused kernels (RefFused) --------------------------------------------------------

    @Override public void conv2dForward(Tensor out, Tensor x, Tensor w, Tensor bias, ConvGeom g) { RefLayers.conv2dForward(out, x, w, bias, g); }

    @Override public void conv2dBackwardInput(Tensor dx, Tensor dy, Tensor w, ConvGeom g) { RefLayers.conv2dBackwardInput(dx, dy, w, g); }

    @Override public void conv2dBackwardWeight(Tensor dw, Tensor dbias, Tensor dy, Tensor x, ConvGeom g) { RefLayers.conv2dBackwardWeight(dw, dbias, dy, x, g); }

    @Override public void groupNormForward(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor w, Tensor b,
                                           int n, int c, int hw, int groups, float eps, boolean silu) {
        RefLayers.groupNormForward(out, mean, rstd, x, w, b, n, c, hw, groups, eps, silu);
    }

    @Override public void groupNormBackward(Tensor dx, Tensor dw, Tensor db, Tensor dy, Tensor x, Tensor w, Tensor b,
                                            Tensor mean, Tensor rstd, int n, int c, int hw, int groups, boolean silu) {
        RefLayers.groupNormBackward(dx, dw, db, dy, x, w, b, mean, rstd, n, c, hw, groups, silu);
    }

    @Override public void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, int batch, int len, int dim, float scale) {
        RefLayers.attentionForward(out, lse, q, k, v, batch, len, dim, scale);
    }

    @Override public void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v,
                                            Tensor out, Tensor lse, int batch, int len, int dim, float scale) {
        RefLayers.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, batch, len, dim, scale);
    }

    @Override public void upsample2xForward(Tensor out, Tensor x, int planes, int h, int w) { RefLayers.upsample2xForward(out, x, planes, h, w); }

    @Override public void upsample2xBackward(Tensor dx, Tensor dy, int planes, int h, int w) { RefLayers.upsample2xBackward(dx, dy, planes, h, w); }

    @Override public void gatherRows(Tensor out, Tensor table, int[] idx, int rowLen) {
        RefMem o = RefMem.of(out), t = RefMem.of(table);
        for (int i = 0; i < idx.length; i++)
            for (int j = 0; j < rowLen; j++) o.set((long) i * rowLen + j, t.get((long) idx[i] * rowLen + j));
    }

    @Override public void scatterAddRows(Tensor dtable, Tensor dy, int[] idx, int rowLen) {
        RefMem d = RefMem.of(dtable), g = RefMem.of(dy);
        for (int i = 0; i < idx.length; i++)
            for (int j = 0; j < rowLen; j++) d.add((long) idx[i] * rowLen + j, g.get((long) i * rowLen + j));
    }

    @Override public void fillUniform(Tensor out, long seed, long offset) { RefFused.fillUniform(out, seed, offset); }

    @Override public void fillNormal(Tensor out, long seed, long offset) { RefFused.fillNormal(out, seed, offset); }

    @Override public void qSample(Tensor out, Tensor x0, Tensor eps, Tensor a, Tensor b, int n, int d) { RefFused.qSample(out, x0, eps, a, b, n, d); }

    @Override public void ancestralStep(Tensor out, Tensor xt, Tensor eps, Tensor z, Tensor coef, int n, int d, boolean clip) {
        RefFused.ancestralStep(out, xt, eps, z, coef, n, d, clip);
    }

    @Override public void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor gradScale,
                                     float lr, float beta1, float beta2, float eps, float bc1, float bc2) {
        RefFused.adamUpdate(param, grad, m, v, gradScale, lr, beta1, beta2, eps, bc1, bc2);
    }

    @Override public void emaUpdate(Tensor shadow, Tensor param, float decay) { RefFused.emaUpdate(shadow, param, decay); }

    @Override public void close() { pool.close(); }
}
