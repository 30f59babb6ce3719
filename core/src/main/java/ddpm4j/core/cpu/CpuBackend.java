// SPDX-License-Identifier: Apache-2.0
// The fast CPU backend: OpenBLAS (FFM) for GEMM and convolution, Vector API kernels on Parallel's pool for the rest.
// Each op family lives in its own Cpu* class; every one is tested against ReferenceBackend (core/src/test/.../cpu).
package ddpm4j.core.cpu;

import ddpm4j.core.Backend;
import ddpm4j.core.DType;
import ddpm4j.core.Storage;
import ddpm4j.core.Tensor;
import ddpm4j.core.mem.HostPool;
import ddpm4j.core.mem.HostStorage;

/**
 * F32 tensors in pooled off-heap memory (a {@link HostPool}: a training step that allocates the same shapes every
 * iteration reuses the same segments). Threads: {@code -Dddpm4j.threads} (default: all processors). GEMM:
 * OpenBLAS, or a Java kernel when it cannot load (see {@link Gemm}).
 */
public final class CpuBackend implements Backend {
    private final HostPool pool = new HostPool("cpu backend");

    /**
     * Which 3x3 stride-1 convolutions (forward, input gradient and weight gradient) run as Winograd F(4x4, 3x3)
     * instead of through oneDNN: none, those at the sizes where it measured faster (the default), or every one it can take (for tests
     * and experiments). {@code -Dddpm4j.winograd=false|true|all} sets it at start-up.
     */
    public enum Winograd {
        OFF, PREFERRED, ALL;

        static Winograd parse(String v) {
            return switch (v.toLowerCase(java.util.Locale.ROOT)) {
                case "false", "off" -> OFF;
                case "true", "preferred" -> PREFERRED;
                case "all" -> ALL;
                default -> throw new IllegalArgumentException("-Dddpm4j.winograd=" + v + ": expected true, false or all");
            };
        }
    }

    /** The Winograd policy in use. */
    public static Winograd winograd() { return WinogradConv2d.mode(); }

    /** Sets the Winograd policy for every CPU backend in this JVM (results change in the last bits; no reload needed). */
    public static void winograd(Winograd policy) { WinogradConv2d.setMode(policy); }

    @Override public String name() { return "cpu"; }

    @Override public boolean supports(DType dtype) { return dtype == DType.F32; }

    @Override public Storage allocate(long numel, DType dtype) {
        if (dtype != DType.F32) throw new IllegalArgumentException("cpu backend: F32 tensors only, got " + dtype);
        return new HostStorage(this, pool, dtype, numel);
    }

    @Override public String describe() {
        String gemm = Gemm.impl() == Gemm.Impl.OPENBLAS
                ? "OpenBLAS " + OpenBlas.corename() + " (" + OpenBlas.config().trim() + ")"
                : "Java GEMM (OpenBLAS not available: " + OpenBlas.error() + ")";
        String conv = DnnlConv2d.enabled() ? "oneDNN " + OneDnn.version()
                : "im2col + GEMM" + (OneDnn.error() == null ? "" : " (oneDNN not available: " + OneDnn.error() + ")");
        if (WinogradConv2d.mode() == Winograd.PREFERRED) conv = "Winograd F(4x4,3x3) for large 3x3 stride-1 layers, else " + conv;
        if (WinogradConv2d.mode() == Winograd.ALL) conv = "Winograd F(4x4,3x3) for every 3x3 stride-1 layer, else " + conv;
        return "cpu (" + Parallel.threads() + " threads, " + CpuMem.L + " float lanes, GEMM: " + gemm + ", conv: " + conv + ")";
    }

    @Override public long liveBytes() { return pool.liveBytes(); }

    @Override public long peakBytes() { return pool.peakBytes(); }

    @Override public void resetPeak() { pool.resetPeak(); }

    @Override public void capMemoryFootprint(boolean on) { pool.capFootprint(on); }

    @Override public void trim() { pool.trim(); }

    @Override public void close() { pool.close(); }

    // ---- data movement ------------------------------------------------------------------------------------------
    @Override public void copyFromHost(Tensor dst, float[] src, int off) { CpuElementwise.copyFromHost(dst, src, off); }

    @Override public void copyFromHost(Tensor dst, double[] src, int off) { CpuElementwise.copyFromHost(dst, src, off); }

    @Override public void copyToHost(Tensor src, float[] dst, int off) { CpuElementwise.copyToHost(src, dst, off); }

    @Override public void copyToHost(Tensor src, double[] dst, int off) { CpuElementwise.copyToHost(src, dst, off); }

    @Override public void fill(Tensor out, double value) { CpuElementwise.fill(out, value); }

    @Override public void copy(Tensor out, Tensor x) { CpuElementwise.copy(out, x); }

    // ---- elementwise --------------------------------------------------------------------------------------------
    @Override public void unary(UnaryOp op, Tensor out, Tensor x) { CpuElementwise.unary(op, out, x); }

    @Override public void binary(BinaryOp op, Tensor out, Tensor a, Tensor b) { CpuElementwise.binary(op, out, a, b); }

    @Override public void affine(Tensor out, Tensor x, double scale, double shift) { CpuElementwise.affine(out, x, scale, shift); }

    // ---- reductions and softmax ---------------------------------------------------------------------------------
    @Override public void reduce(ReduceOp op, Tensor out, Tensor x, int outer, int r, int inner) {
        CpuReduce.reduce(op, out, x, outer, r, inner);
    }

    @Override public void softmaxForward(Tensor out, Tensor x, int rows, int cols) { CpuReduce.softmaxForward(out, x, rows, cols); }

    @Override public void softmaxBackward(Tensor dx, Tensor y, Tensor dy, int rows, int cols) {
        CpuReduce.softmaxBackward(dx, y, dy, rows, cols);
    }

    // ---- GEMM and layers ----------------------------------------------------------------------------------------
    @Override public void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB,
                                 int batch, int m, int n, int k, long strideA, long strideB) {
        CpuMatmul.matmul(out, a, b, transA, transB, batch, m, n, k, strideA, strideB);
    }

    @Override public void conv2dForward(Tensor out, Tensor x, Tensor w, Tensor bias, ConvGeom g) { CpuConv2d.forward(out, x, w, bias, g); }

    @Override public void conv2dBackwardInput(Tensor dx, Tensor dy, Tensor w, ConvGeom g) { CpuConv2d.backwardInput(dx, dy, w, g); }

    @Override public void conv2dBackwardWeight(Tensor dw, Tensor dbias, Tensor dy, Tensor x, ConvGeom g) {
        CpuConv2d.backwardWeight(dw, dbias, dy, x, g);
    }

    @Override public void conv2dBackward(Tensor dx, Tensor dw, Tensor dbias, Tensor dy, Tensor x, Tensor w, ConvGeom g) {
        CpuConv2d.backward(dx, dw, dbias, dy, x, w, g);
    }

    @Override public void groupNormForward(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor w, Tensor b,
                                           int n, int c, int hw, int groups, float eps, boolean silu) {
        CpuGroupNorm.forward(out, mean, rstd, x, w, b, n, c, hw, groups, eps, silu);
    }

    @Override public void groupNormBackward(Tensor dx, Tensor dw, Tensor db, Tensor dy, Tensor x, Tensor w, Tensor b,
                                            Tensor mean, Tensor rstd, int n, int c, int hw, int groups, boolean silu) {
        CpuGroupNorm.backward(dx, dw, db, dy, x, w, b, mean, rstd, n, c, hw, groups, silu);
    }

    @Override public void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
                                           int batch, int len, int dim, float scale) {
        CpuAttention.forward(out, lse, q, k, v, batch, len, dim, scale);
    }

    @Override public void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v,
                                            Tensor out, Tensor lse, int batch, int len, int dim, float scale) {
        CpuAttention.backward(dq, dk, dv, dout, q, k, v, out, lse, batch, len, dim, scale);
    }

    @Override public void upsample2xForward(Tensor out, Tensor x, int planes, int h, int w) { CpuUpsample.forward(out, x, planes, h, w); }

    @Override public void upsample2xBackward(Tensor dx, Tensor dy, int planes, int h, int w) { CpuUpsample.backward(dx, dy, planes, h, w); }

    @Override public void gatherRows(Tensor out, Tensor table, int[] idx, int rowLen) { CpuUpsample.gatherRows(out, table, idx, rowLen); }

    @Override public void scatterAddRows(Tensor dtable, Tensor dy, int[] idx, int rowLen) {
        CpuUpsample.scatterAddRows(dtable, dy, idx, rowLen);
    }

    // ---- random numbers and fused kernels -----------------------------------------------------------------------
    @Override public void fillUniform(Tensor out, long seed, long offset) { CpuFused.fillRandom(out, seed, offset, false); }

    @Override public void fillNormal(Tensor out, long seed, long offset) { CpuFused.fillRandom(out, seed, offset, true); }

    @Override public void qSample(Tensor out, Tensor x0, Tensor eps, Tensor a, Tensor b, int n, int d) {
        CpuFused.qSample(out, x0, eps, a, b, n, d);
    }

    @Override public void ancestralStep(Tensor out, Tensor xt, Tensor eps, Tensor z, Tensor coef, int n, int d, boolean clip) {
        CpuFused.ancestralStep(out, xt, eps, z, coef, n, d, clip);
    }

    @Override public void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor gradScale,
                                     float lr, float beta1, float beta2, float eps, float bc1, float bc2) {
        CpuFused.adamUpdate(param, grad, m, v, gradScale, lr, beta1, beta2, eps, bc1, bc2);
    }

    @Override public void emaUpdate(Tensor shadow, Tensor param, float decay) { CpuFused.emaUpdate(shadow, param, decay); }
}
