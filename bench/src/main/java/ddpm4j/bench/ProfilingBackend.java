// SPDX-License-Identifier: Apache-2.0
// A Backend that runs every call on an inner backend and times it (with sync, so asynchronous backends are timed
// too), summed by op family: the profile table of bench/RESULTS.md (issue 6 item 2). Tensors allocated here carry this
// backend, so every op of a model built on it passes through; host memory comes from a pool of its own.
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.DType;
import ddpm4j.core.Storage;
import ddpm4j.core.Tensor;
import ddpm4j.core.mem.HostPool;
import ddpm4j.core.mem.HostStorage;
import java.util.EnumMap;
import java.util.Map;

/** Times each backend call into a {@link Family}; {@link #phase} reassigns the calls of an optimizer phase. */
final class ProfilingBackend implements Backend {
    /** Op families of the profile table. */
    enum Family { CONV, GEMM, GROUPNORM, ATTENTION, ELEMENTWISE, OPTIMIZER, ALLOCATION }

    private final Backend inner;
    private final HostPool pool = new HostPool("profiling backend");
    private final EnumMap<Family, long[]> totals = new EnumMap<>(Family.class);   // {nanos, calls}
    private final Map<String, long[]> detail = new java.util.TreeMap<>();          // per kind of call: {nanos, calls}
    private final boolean detailed;
    private Family phase;

    /** Whether {@code be} keeps its tensors in host memory, which is what this wrapper can time (cpu, reference). */
    static boolean canWrap(Backend be) {
        return be.name().equals("cpu") || be.name().equals("reference");
    }

    /**
     * @param inner    a host-memory backend ("cpu" or "reference"): its kernels read this backend's HostStorage
     * @param detailed also time each kind of call (op and shape, {@link #detail}); off, no call names are built
     */
    ProfilingBackend(Backend inner, boolean detailed) {
        if (!canWrap(inner))
            throw new IllegalArgumentException("the profile runs on host-memory backends (cpu, reference) only; '"
                    + inner.name() + "' keeps its tensors in memory of its own");
        this.inner = inner;
        this.detailed = detailed;
        for (Family f : Family.values()) totals.put(f, new long[2]);
    }

    /** Attributes every call to {@code f} until called with null (e.g. clipping's reductions count as optimizer). */
    void phase(Family f) { phase = f; }

    void reset() {
        for (long[] t : totals.values()) { t[0] = 0; t[1] = 0; }
        detail.clear();
    }

    /** Nanoseconds and calls per kind of call (op and shape, e.g. "conv fwd 3x3/1 N16 C128->256 16x16") since the last reset. */
    Map<String, long[]> detail() {
        Map<String, long[]> copy = new java.util.TreeMap<>();
        detail.forEach((k, v) -> copy.put(k, v.clone()));
        return copy;
    }

    /** Nanoseconds and calls per family since the last reset. */
    Map<Family, long[]> totals() {
        EnumMap<Family, long[]> copy = new EnumMap<>(Family.class);
        totals.forEach((k, v) -> copy.put(k, v.clone()));
        return copy;
    }

    private void time(Family f, Runnable call) { time(f, null, call); }

    private void time(Family f, java.util.function.Supplier<String> what, Runnable call) {
        long t0 = System.nanoTime();
        call.run();
        inner.sync();
        long dt = System.nanoTime() - t0;
        long[] t = totals.get(phase != null ? phase : f);
        t[0] += dt;
        t[1]++;
        if (detailed && what != null && phase == null) {
            long[] d = detail.computeIfAbsent(what.get(), k -> new long[2]);
            d[0] += dt;
            d[1]++;
        }
    }

    private static String geom(ConvGeom g) {
        return g.r() + "x" + g.s() + "/" + g.stride() + " N" + g.n() + " C" + g.c() + "->" + g.k() + " " + g.h() + "x" + g.w();
    }

    @Override public String name() { return "profile(" + inner.name() + ")"; }

    @Override public boolean supports(DType dtype) { return inner.supports(dtype); }

    @Override public Storage allocate(long numel, DType dtype) {
        long t0 = System.nanoTime();
        Storage s = new HostStorage(this, pool, dtype, numel);
        long[] t = totals.get(Family.ALLOCATION);
        t[0] += System.nanoTime() - t0;
        t[1]++;
        return s;
    }

    @Override public void sync() { inner.sync(); }

    @Override public String describe() { return "profiling " + inner.describe(); }

    @Override public long liveBytes() { return pool.liveBytes(); }

    @Override public long peakBytes() { return pool.peakBytes(); }

    @Override public void resetPeak() { pool.resetPeak(); }

    @Override public void capMemoryFootprint(boolean on) { pool.capFootprint(on); }

    @Override public void trim() { pool.trim(); }

    @Override public void close() { pool.close(); }

    @Override public void copyFromHost(Tensor dst, float[] src, int off) { time(Family.ELEMENTWISE, () -> inner.copyFromHost(dst, src, off)); }

    @Override public void copyFromHost(Tensor dst, double[] src, int off) { time(Family.ELEMENTWISE, () -> inner.copyFromHost(dst, src, off)); }

    @Override public void copyToHost(Tensor src, float[] dst, int off) { time(Family.ELEMENTWISE, () -> inner.copyToHost(src, dst, off)); }

    @Override public void copyToHost(Tensor src, double[] dst, int off) { time(Family.ELEMENTWISE, () -> inner.copyToHost(src, dst, off)); }

    @Override public void fill(Tensor out, double value) { time(Family.ELEMENTWISE, () -> inner.fill(out, value)); }

    @Override public void copy(Tensor out, Tensor x) { time(Family.ELEMENTWISE, () -> "copy " + out.numel(), () -> inner.copy(out, x)); }

    @Override public void unary(UnaryOp op, Tensor out, Tensor x) { time(Family.ELEMENTWISE, () -> "unary " + op + " " + out.numel(), () -> inner.unary(op, out, x)); }

    @Override public void binary(BinaryOp op, Tensor out, Tensor a, Tensor b) { time(Family.ELEMENTWISE, () -> "binary " + op + " " + out.numel(), () -> inner.binary(op, out, a, b)); }

    @Override public void affine(Tensor out, Tensor x, double scale, double shift) { time(Family.ELEMENTWISE, () -> "affine " + out.numel(), () -> inner.affine(out, x, scale, shift)); }

    @Override public void reduce(ReduceOp op, Tensor out, Tensor x, int outer, int r, int inner) {
        time(Family.ELEMENTWISE, () -> "reduce " + op, () -> this.inner.reduce(op, out, x, outer, r, inner));
    }

    @Override public void softmaxForward(Tensor out, Tensor x, int rows, int cols) { time(Family.ELEMENTWISE, () -> "softmax " + rows + "x" + cols, () -> inner.softmaxForward(out, x, rows, cols)); }

    @Override public void softmaxBackward(Tensor dx, Tensor y, Tensor dy, int rows, int cols) {
        time(Family.ELEMENTWISE, () -> inner.softmaxBackward(dx, y, dy, rows, cols));
    }

    @Override public void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, int batch, int m, int n, int k,
                                 long strideA, long strideB) {
        time(Family.GEMM, () -> "gemm " + batch + "x" + m + "x" + n + "x" + k + (transA ? " tA" : "") + (transB ? " tB" : ""), () -> inner.matmul(out, a, b, transA, transB, batch, m, n, k, strideA, strideB));
    }

    @Override public void conv2dForward(Tensor out, Tensor x, Tensor w, Tensor bias, ConvGeom g) { time(Family.CONV, () -> "conv fwd " + geom(g), () -> inner.conv2dForward(out, x, w, bias, g)); }

    @Override public void conv2dBackwardInput(Tensor dx, Tensor dy, Tensor w, ConvGeom g) { time(Family.CONV, () -> inner.conv2dBackwardInput(dx, dy, w, g)); }

    @Override public void conv2dBackwardWeight(Tensor dw, Tensor dbias, Tensor dy, Tensor x, ConvGeom g) {
        time(Family.CONV, () -> inner.conv2dBackwardWeight(dw, dbias, dy, x, g));
    }

    @Override public void conv2dBackward(Tensor dx, Tensor dw, Tensor dbias, Tensor dy, Tensor x, Tensor w, ConvGeom g) {
        time(Family.CONV, () -> inner.conv2dBackward(dx, dw, dbias, dy, x, w, g));
    }

    @Override public void groupNormForward(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor w, Tensor b, int n, int c, int hw,
                                           int groups, float eps, boolean silu) {
        time(Family.GROUPNORM, () -> "groupnorm fwd C" + c + " hw" + hw + (silu ? " silu" : ""), () -> inner.groupNormForward(out, mean, rstd, x, w, b, n, c, hw, groups, eps, silu));
    }

    @Override public void groupNormBackward(Tensor dx, Tensor dw, Tensor db, Tensor dy, Tensor x, Tensor w, Tensor b, Tensor mean,
                                            Tensor rstd, int n, int c, int hw, int groups, boolean silu) {
        time(Family.GROUPNORM, () -> inner.groupNormBackward(dx, dw, db, dy, x, w, b, mean, rstd, n, c, hw, groups, silu));
    }

    @Override public void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, int batch, int len, int dim, float scale) {
        time(Family.ATTENTION, () -> "attention fwd " + batch + "x" + len + "x" + dim, () -> inner.attentionForward(out, lse, q, k, v, batch, len, dim, scale));
    }

    @Override public void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out,
                                            Tensor lse, int batch, int len, int dim, float scale) {
        time(Family.ATTENTION, () -> inner.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, batch, len, dim, scale));
    }

    @Override public void upsample2xForward(Tensor out, Tensor x, int planes, int h, int w) { time(Family.ELEMENTWISE, () -> "upsample2x " + planes + "x" + h + "x" + w, () -> inner.upsample2xForward(out, x, planes, h, w)); }

    @Override public void upsample2xBackward(Tensor dx, Tensor dy, int planes, int h, int w) { time(Family.ELEMENTWISE, () -> inner.upsample2xBackward(dx, dy, planes, h, w)); }

    @Override public void gatherRows(Tensor out, Tensor table, int[] idx, int rowLen) { time(Family.ELEMENTWISE, () -> inner.gatherRows(out, table, idx, rowLen)); }

    @Override public void scatterAddRows(Tensor dtable, Tensor dy, int[] idx, int rowLen) { time(Family.ELEMENTWISE, () -> inner.scatterAddRows(dtable, dy, idx, rowLen)); }

    @Override public void fillUniform(Tensor out, long seed, long offset) { time(Family.ELEMENTWISE, () -> inner.fillUniform(out, seed, offset)); }

    @Override public void fillNormal(Tensor out, long seed, long offset) { time(Family.ELEMENTWISE, () -> "fill normal", () -> inner.fillNormal(out, seed, offset)); }

    @Override public void qSample(Tensor out, Tensor x0, Tensor eps, Tensor a, Tensor b, int n, int d) {
        time(Family.ELEMENTWISE, () -> inner.qSample(out, x0, eps, a, b, n, d));
    }

    @Override public void ancestralStep(Tensor out, Tensor xt, Tensor eps, Tensor z, Tensor coef, int n, int d, boolean clip) {
        time(Family.ELEMENTWISE, () -> "ancestral step", () -> inner.ancestralStep(out, xt, eps, z, coef, n, d, clip));
    }

    @Override public void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor gradScale, float lr, float beta1, float beta2,
                                     float eps, float bc1, float bc2) {
        time(Family.OPTIMIZER, () -> inner.adamUpdate(param, grad, m, v, gradScale, lr, beta1, beta2, eps, bc1, bc2));
    }

    @Override public void emaUpdate(Tensor shadow, Tensor param, float decay) { time(Family.OPTIMIZER, () -> inner.emaUpdate(shadow, param, decay)); }
}
