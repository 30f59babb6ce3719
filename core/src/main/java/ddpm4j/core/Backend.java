// SPDX-License-Identifier: Apache-2.0
// The kernels every backend provides. Tensor checks shapes, allocates outputs and records autograd; a backend only
// computes. Argument order follows llm.c: outputs, inputs, saved statistics, sizes. Unless said otherwise every tensor
// argument is contiguous (row-major, possibly at a storage offset) and lives on this backend.
package ddpm4j.core;

/**
 * A device that stores tensors and runs the op set on them. Implementations: {@code ReferenceBackend} (plain loops,
 * the definition of every op), {@code CpuBackend} (Vector API + OpenBLAS), {@code CudaBackend} (module kernels).
 * Backends are found through {@link java.util.ServiceLoader} ({@link BackendProvider}); see {@link Backends}.
 */
public interface Backend {

    /** Elementwise functions of one argument. */
    enum UnaryOp { NEG, EXP, LOG, SQRT, RSQRT, SQUARE, TANH, SIGMOID, SILU, SIN, COS, RELU, ABS }

    /** Elementwise functions of two arguments. EQ, GT give 1 or 0. */
    enum BinaryOp { ADD, SUB, MUL, DIV, EQ, MAX, GT, MIN }

    /** Reductions over the middle axis of an (outer, r, inner) view. SUMSQ is the sum of squares. */
    enum ReduceOp { SUM, MAX, SUMSQ }

    /** Geometry of a 2-D convolution, NCHW input (n, c, h, w), KCRS weight (k, c, r, s), output (n, k, ho, wo). */
    record ConvGeom(int n, int c, int h, int w, int k, int r, int s, int stride,
                    int padTop, int padLeft, int padBottom, int padRight) {
        public int ho() { return (h + padTop + padBottom - r) / stride + 1; }
        public int wo() { return (w + padLeft + padRight - s) / stride + 1; }
        /** Multiply-adds of the forward pass. */
        public long macs() { return (long) n * k * ho() * wo() * c * r * s; }
    }

    /** Short name: "reference", "cpu", "cuda". */
    String name();

    /** Whether tensors of this element type can live here. */
    boolean supports(DType dtype);

    /** Uninitialised storage for {@code numel} elements. */
    Storage allocate(long numel, DType dtype);

    /** Waits for queued work (no-op on synchronous backends). */
    default void sync() {}

    /** One line for {@code ddpm info}: threads, libraries, device. */
    default String describe() { return name(); }

    /** Bytes currently allocated to live tensors, and the peak since the last reset (for leak checks and benchmarks). */
    default long liveBytes() { return -1; }

    default long peakBytes() { return -1; }

    default void resetPeak() {}

    /** Frees memory cached for reuse. */
    default void trim() {}

    /**
     * Whether memory cached for reuse may lift the backend's footprint above the most it ever had live. On (what
     * DdpmTrainer asks for) it lowers a training run's peak resident memory; off (the default) keeps more blocks
     * cached, which is faster where the live total swings within a step, as in sampling. A no-op where the backend
     * has no such cache.
     */
    default void capMemoryFootprint(boolean on) {}

    /**
     * Frees all memory of this backend. Backends from {@link Backends} are shared singletons: never close those.
     * (Not AutoCloseable on purpose: test frameworks and try-with-resources would close shared instances.)
     */
    default void close() {}

    // ---- data movement ------------------------------------------------------------------------------------------
    void copyFromHost(Tensor dst, float[] src, int srcOffset);

    void copyFromHost(Tensor dst, double[] src, int srcOffset);

    void copyToHost(Tensor src, float[] dst, int dstOffset);

    void copyToHost(Tensor src, double[] dst, int dstOffset);

    void fill(Tensor out, double value);

    /** {@code out = x} elementwise, same shape; both may be arbitrary strided views; converts dtype if they differ. */
    void copy(Tensor out, Tensor x);

    // ---- elementwise --------------------------------------------------------------------------------------------
    void unary(UnaryOp op, Tensor out, Tensor x);

    /** {@code out = a op b}; {@code a} and {@code b} have out's shape but may be strided (0 strides where broadcast). */
    void binary(BinaryOp op, Tensor out, Tensor a, Tensor b);

    /** {@code out = scale * x + shift}. */
    void affine(Tensor out, Tensor x, double scale, double shift);

    // ---- reductions and softmax ---------------------------------------------------------------------------------
    /** x: (outer, r, inner) -> out: (outer, inner). */
    void reduce(ReduceOp op, Tensor out, Tensor x, int outer, int r, int inner);

    /** Softmax over the last axis. x, out: (rows, cols). */
    void softmaxForward(Tensor out, Tensor x, int rows, int cols);

    /** dx = y * (dy - sum(dy * y)) row by row. */
    void softmaxBackward(Tensor dx, Tensor y, Tensor dy, int rows, int cols);

    // ---- GEMM ---------------------------------------------------------------------------------------------------
    /**
     * Batched {@code out[b] = op(a[b]) @ op(b[b])}: out (batch, m, n) contiguous. a is stored (m, k) row-major, or
     * (k, m) when {@code transA}; b is (k, n), or (n, k) when {@code transB}. Batch strides in elements (0 broadcasts).
     */
    void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB,
                int batch, int m, int n, int k, long strideA, long strideB);

    // ---- convolution --------------------------------------------------------------------------------------------
    /** out (n, k, ho, wo) = conv(x (n, c, h, w), w (k, c, r, s)) + bias (k) (bias may be null). */
    void conv2dForward(Tensor out, Tensor x, Tensor w, Tensor bias, ConvGeom g);

    /** dx (n, c, h, w) from dy (n, k, ho, wo) and w. */
    void conv2dBackwardInput(Tensor dx, Tensor dy, Tensor w, ConvGeom g);

    /** dw (k, c, r, s) and dbias (k, may be null) from dy and x (overwritten, not accumulated). */
    void conv2dBackwardWeight(Tensor dw, Tensor dbias, Tensor dy, Tensor x, ConvGeom g);

    /**
     * Both backward passes of one convolution: dx as {@link #conv2dBackwardInput}, dw and dbias as
     * {@link #conv2dBackwardWeight}. dx may be null (not needed); dw may be null, and then dbias must be too. A backend
     * may share work between the two (the CPU backend reorders dy once); the default calls the two methods.
     */
    default void conv2dBackward(Tensor dx, Tensor dw, Tensor dbias, Tensor dy, Tensor x, Tensor w, ConvGeom g) {
        if (dw == null && dbias != null)
            throw new IllegalArgumentException("conv2dBackward: a bias gradient is computed only with the weight gradient");
        if (dx != null) conv2dBackwardInput(dx, dy, w, g);
        if (dw != null) conv2dBackwardWeight(dw, dbias, dy, x, g);
    }

    // ---- normalisation ------------------------------------------------------------------------------------------
    /**
     * GroupNorm over (c / groups) * hw values per (n, group), optionally followed by SiLU.
     * x, out: (n, c, hw); w, b: (c) or null; mean, rstd: (n, groups) written for the backward pass.
     */
    void groupNormForward(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor w, Tensor b,
                          int n, int c, int hw, int groups, float eps, boolean silu);

    /** dx (n, c, hw); dw, db (c) or null (overwritten). b is needed only when silu. */
    void groupNormBackward(Tensor dx, Tensor dw, Tensor db, Tensor dy, Tensor x, Tensor w, Tensor b,
                           Tensor mean, Tensor rstd, int n, int c, int hw, int groups, boolean silu);

    // ---- attention ----------------------------------------------------------------------------------------------
    /** out = softmax(q k^T * scale) v, q, k, v, out: (batch, len, dim); lse: (batch, len) log-sum-exp of each row. */
    void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, int batch, int len, int dim, float scale);

    void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v,
                           Tensor out, Tensor lse, int batch, int len, int dim, float scale);

    // ---- resampling and indexing --------------------------------------------------------------------------------
    /** x (planes, h, w) -> out (planes, 2h, 2w), nearest. */
    void upsample2xForward(Tensor out, Tensor x, int planes, int h, int w);

    /** dx (planes, h, w) = sums of 2x2 blocks of dy (planes, 2h, 2w). */
    void upsample2xBackward(Tensor dx, Tensor dy, int planes, int h, int w);

    /** out[i, :] = table[idx[i], :], rows of length rowLen. */
    void gatherRows(Tensor out, Tensor table, int[] idx, int rowLen);

    /** dtable[idx[i], :] += dy[i, :]. */
    void scatterAddRows(Tensor dtable, Tensor dy, int[] idx, int rowLen);

    // ---- random numbers (Philox, see Philox) ---------------------------------------------------------------------
    void fillUniform(Tensor out, long seed, long offset);

    void fillNormal(Tensor out, long seed, long offset);

    // ---- fused diffusion and optimizer kernels -------------------------------------------------------------------
    /** x_t = a[i] x0 + b[i] eps for sample i; x0, eps, out: (n, d); a, b: (n). Eq. (4) of Ho et al. */
    void qSample(Tensor out, Tensor x0, Tensor eps, Tensor a, Tensor b, int n, int d);

    /**
     * One reverse step (Alg. 2, line 4) in posterior-mean form. coef: (n, 5) rows
     * (c0 = 1/sqrt(alphaBar), c1 = sqrt(1/alphaBar - 1), mu0, muT, sigma):
     * x0 = c0 x_t - c1 eps, clipped to [-1, 1] if {@code clip}; out = mu0 x0 + muT x_t + sigma z.
     */
    void ancestralStep(Tensor out, Tensor xt, Tensor eps, Tensor z, Tensor coef, int n, int d, boolean clip);

    /**
     * Adam (Kingma and Ba) in place with the gradient multiplied by {@code gradScale[0]} (global-norm clipping):
     * m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr * (m / bc1) / (sqrt(v / bc2) + eps).
     */
    void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor gradScale,
                    float lr, float beta1, float beta2, float eps, float bc1, float bc2);

    /** shadow = decay * shadow + (1 - decay) * param. */
    void emaUpdate(Tensor shadow, Tensor param, float decay);
}
