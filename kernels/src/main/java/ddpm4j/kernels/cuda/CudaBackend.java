// SPDX-License-Identifier: Apache-2.0
// The CUDA backend: every op of ddpm4j.core.Backend on one device stream, with pooled device memory. GEMM goes to
// cuBLAS, convolution to cuDNN, everything else to the custom kernels of src/cuda (one launcher per .cu). Inside a step
// nothing is copied back to the host; copyToHost is the only synchronising call.
package ddpm4j.kernels.cuda;

import ddpm4j.core.Backend;
import ddpm4j.core.DType;
import ddpm4j.core.Storage;
import ddpm4j.core.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** {@link Backend} on an NVIDIA GPU through the driver API (or the emulated driver in tests). F32 only. */
public final class CudaBackend implements Backend {
    private final int device;
    private final MemorySegment ctx;
    private final MemorySegment stream;
    private final MemorySegment cublas;
    private final MemorySegment cudnn;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment oneZero;
    private final DevicePool pool = new DevicePool();
    private final CudaModules modules = new CudaModules();
    private final CudaConv2d conv = new CudaConv2d(this);
    private final boolean tf32;
    private final ThreadLocal<Boolean> bound = ThreadLocal.withInitial(() -> false);
    private long workspace, workspaceBytes;
    private volatile boolean closed;

    /**
     * Opens device {@code ordinal}: primary context, one stream, cuBLAS and cuDNN handles on it. TF32 tensor-core math
     * for GEMM and convolutions when {@code -Dddpm4j.cuda.tf32=true} (default false: full FP32).
     */
    public CudaBackend(int ordinal) {
        Cuda.requireAvailable();
        device = CudaDriver.cuDeviceGet(ordinal);
        ctx = CudaDriver.cuDevicePrimaryCtxRetain(device);
        bind();
        stream = CudaDriver.cuStreamCreate(1);
        cublas = Cublas.cublasCreate();
        Cublas.cublasSetStream(cublas, stream);
        tf32 = Boolean.getBoolean("ddpm4j.cuda.tf32");
        Cublas.cublasSetMathMode(cublas, tf32 ? Cublas.TF32_TENSOR_OP_MATH : Cublas.DEFAULT_MATH);
        cudnn = Cudnn.cudnnCreate();
        Cudnn.cudnnSetStream(cudnn, stream);
        oneZero = Cublas.scalars(arena, 1, 0);
    }

    // ---- plumbing used by the launchers ------------------------------------------------------------------------

    /** Makes the context current on the calling thread (once per thread). */
    private void bind() {
        if (closed) throw new IllegalStateException("CUDA backend is closed");
        if (!bound.get()) {
            CudaDriver.cuCtxSetCurrent(ctx);
            bound.set(true);
        }
    }

    MemorySegment stream() { bind(); return stream; }

    MemorySegment cublas() { bind(); return cublas; }

    MemorySegment cudnn() { bind(); return cudnn; }

    /** Host floats {1, 0}: alpha and beta for cuBLAS / cuDNN. */
    MemorySegment oneZero() { return oneZero; }

    boolean tf32() { return tf32; }

    CudaKernel kernel(String file, String name) { bind(); return modules.kernel(file, name); }

    /** A scratch device buffer of {@code floats} 4-byte elements, given back (stream-ordered) on close. */
    Temp temp(long floats) {
        bind();
        long bytes = Math.max(1, floats) * 4;
        return new Temp(pool, pool.take(bytes), bytes);
    }

    /** Scratch device memory; reuse by later work on the same stream is ordered after its last use. */
    record Temp(DevicePool pool, long ptr, long bytes) implements AutoCloseable {
        @Override public void close() { pool.give(ptr, bytes); }
    }

    /** The shared cuDNN workspace, grown to at least {@code bytes}. */
    synchronized long workspace(long bytes) {
        bind();
        if (workspaceBytes < bytes) {
            if (workspace != 0) pool.give(workspace, workspaceBytes);
            workspace = pool.take(bytes);
            workspaceBytes = bytes;
        }
        return workspace;
    }

    /** Device address of a tensor's first element; the tensor must be an F32 tensor of this backend. */
    long ptr(Tensor t) {
        Storage s = t.storage();
        if (!(s instanceof CudaStorage cs) || s.backend() != this)
            throw new IllegalArgumentException("tensor of shape " + java.util.Arrays.toString(t.shape()) + " lives on the '"
                    + s.backend().name() + "' backend, but this op runs on 'cuda': move it with .to(backend) first");
        if (t.dtype() != DType.F32) throw new IllegalArgumentException("cuda backend supports F32 only, found " + t.dtype());
        return cs.ptr() + t.offset() * 4;
    }

    /** ptr() of a tensor the op needs contiguous. */
    private long dense(Tensor t, String what) {
        if (!t.isContiguous())
            throw new IllegalArgumentException("cuda: " + what + " must be contiguous, found strides " + java.util.Arrays.toString(t.strides()));
        return ptr(t);
    }

    private long base(Tensor t) { return ptr(t) - t.offset() * 4; }

    private static int n32(long n, String what) {
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("cuda kernels take 32-bit sizes; " + what + " has " + n + " elements");
        return (int) n;
    }

    // ---- Backend: identity and memory -------------------------------------------------------------------------

    @Override public String name() { return "cuda"; }

    @Override public boolean supports(DType dtype) { return dtype == DType.F32; }

    @Override
    public Storage allocate(long numel, DType dtype) {
        if (dtype != DType.F32) throw new IllegalArgumentException("cuda backend supports F32 only, asked for " + dtype);
        bind();
        return new CudaStorage(this, pool, dtype, numel);
    }

    @Override public void sync() { CudaDriver.cuStreamSynchronize(stream()); }

    /**
     * Device, driver, compute capability, the kernel image the driver runs and the modules loaded from it, memory.
     * Loads elementwise.cu's module if none is loaded yet, so the image named is one the driver accepted (a JIT
     * failure shows here with its log).
     */
    @Override
    public String describe() {
        String load = "";
        try {
            if (modules.imageKinds().isEmpty()) kernel("elementwise", "fill_forward");
        } catch (CudaException e) {
            load = "; kernel module failed to load: " + e.getMessage();
        }
        return Cuda.describe(device, modules.imageKinds()) + load + "; memory " + pool.stats();
    }

    @Override public long liveBytes() { return pool.liveBytes(); }

    @Override public long peakBytes() { return pool.peakBytes(); }

    @Override public void resetPeak() { pool.resetPeak(); }

    @Override public void trim() { sync(); pool.trim(); }

    @Override
    public synchronized void close() {
        if (closed) return;
        sync();
        conv.close();
        modules.close();
        Cublas.cublasDestroy(cublas);
        Cudnn.cudnnDestroy(cudnn);
        if (workspace != 0) pool.give(workspace, workspaceBytes);
        pool.close();
        CudaDriver.cuStreamDestroy(stream);
        CudaDriver.cuDevicePrimaryCtxRelease(device);
        closed = true;
        arena.close();
    }

    // ---- data movement ----------------------------------------------------------------------------------------

    @Override
    public void copyFromHost(Tensor dst, float[] src, int srcOffset) {
        int n = n32(dst.numel(), "copyFromHost");
        long d = dense(dst, "copyFromHost destination");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(n * 4L);
            MemorySegment.copy(src, srcOffset, h, ValueLayout.JAVA_FLOAT, 0, n);
            // Pageable host memory is staged before the call returns, so the arena may close right after.
            CudaDriver.cuMemcpyHtoDAsync(d, h, n * 4L, stream());
        }
    }

    @Override
    public void copyFromHost(Tensor dst, double[] src, int srcOffset) {
        float[] f = new float[n32(dst.numel(), "copyFromHost")];
        for (int i = 0; i < f.length; i++) f[i] = (float) src[srcOffset + i];
        copyFromHost(dst, f, 0);
    }

    @Override
    public void copyToHost(Tensor src, float[] dst, int dstOffset) {
        int n = n32(src.numel(), "copyToHost");
        long s = dense(src, "copyToHost source");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(n * 4L);
            CudaDriver.cuMemcpyDtoHAsync(h, s, n * 4L, stream());
            CudaDriver.cuStreamSynchronize(stream);
            MemorySegment.copy(h, ValueLayout.JAVA_FLOAT, 0, dst, dstOffset, n);
        }
    }

    @Override
    public void copyToHost(Tensor src, double[] dst, int dstOffset) {
        float[] f = new float[n32(src.numel(), "copyToHost")];
        copyToHost(src, f, 0);
        for (int i = 0; i < f.length; i++) dst[dstOffset + i] = f[i];
    }

    @Override
    public void fill(Tensor out, double value) {
        CudaDriver.cuMemsetD32Async(dense(out, "fill output"), Float.floatToRawIntBits((float) value), out.numel(), stream());
    }

    @Override
    public void copy(Tensor out, Tensor x) {
        int n = n32(out.numel(), "copy");
        if (n == 0) return;
        long ob = base(out), xb = base(x);
        CudaElementwise.copyForward(this, ob, xb, Strides6.of(out.shape(), x.strides(), x.offset(), out.strides(),
                out.offset(), out.strides()), n);
    }

    // ---- elementwise ------------------------------------------------------------------------------------------

    @Override
    public void unary(UnaryOp op, Tensor out, Tensor x) {
        int n = n32(out.numel(), "unary");
        if (n > 0) CudaElementwise.unaryForward(this, dense(out, "unary output"), dense(x, "unary input"), n, op.ordinal());
    }

    @Override
    public void binary(BinaryOp op, Tensor out, Tensor a, Tensor b) {
        int n = n32(out.numel(), "binary");
        if (n == 0) return;
        long o = dense(out, "binary output");
        int[] shape = out.shape();
        long[] os = Strides6.contiguous(shape);
        CudaElementwise.binaryForward(this, o, base(a), base(b),
                Strides6.of(shape, a.strides(), a.offset(), b.strides(), b.offset(), os), n, op.ordinal());
    }

    @Override
    public void affine(Tensor out, Tensor x, double scale, double shift) {
        int n = n32(out.numel(), "affine");
        if (n > 0) CudaElementwise.affineForward(this, dense(out, "affine output"), dense(x, "affine input"), (float) scale, (float) shift, n);
    }

    // ---- reductions and softmax -------------------------------------------------------------------------------

    @Override
    public void reduce(ReduceOp op, Tensor out, Tensor x, int outer, int r, int inner) {
        long o = dense(out, "reduce output"), xp = dense(x, "reduce input");
        if (op == ReduceOp.SUMSQ && outer == 1 && inner == 1) {
            // One global sum (the gradient norm): many blocks adding into out[0] rather than one block for all of x.
            CudaDriver.cuMemsetD32Async(o, 0, 1, stream());
            CudaReduce.sumsq(this, o, xp, r);
        } else {
            CudaReduce.forward(this, op, o, xp, outer, r, inner);
        }
    }

    @Override
    public void softmaxForward(Tensor out, Tensor x, int rows, int cols) {
        CudaSoftmax.forward(this, dense(out, "softmax output"), dense(x, "softmax input"), rows, cols);
    }

    @Override
    public void softmaxBackward(Tensor dx, Tensor y, Tensor dy, int rows, int cols) {
        CudaSoftmax.backward(this, dense(dx, "softmax dx"), dense(dy, "softmax dy"), dense(y, "softmax y"), rows, cols);
    }

    // ---- GEMM and convolution ---------------------------------------------------------------------------------

    @Override
    public void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, int batch, int m, int n, int k,
                       long strideA, long strideB) {
        CudaMatmul.forward(this, dense(out, "matmul output"), ptr(a), ptr(b), transA, transB, batch, m, n, k, strideA, strideB);
    }

    @Override
    public void conv2dForward(Tensor out, Tensor x, Tensor w, Tensor bias, ConvGeom g) {
        conv.forward(dense(out, "conv output"), dense(x, "conv input"), dense(w, "conv weight"),
                bias == null ? 0 : dense(bias, "conv bias"), g);
    }

    @Override
    public void conv2dBackwardInput(Tensor dx, Tensor dy, Tensor w, ConvGeom g) {
        conv.backwardInput(dense(dx, "conv dx"), dense(dy, "conv dy"), dense(w, "conv weight"), g);
    }

    @Override
    public void conv2dBackwardWeight(Tensor dw, Tensor dbias, Tensor dy, Tensor x, ConvGeom g) {
        conv.backwardWeight(dense(dw, "conv dw"), dbias == null ? 0 : dense(dbias, "conv dbias"), dense(dy, "conv dy"),
                dense(x, "conv input"), g);
    }

    // ---- normalisation and attention --------------------------------------------------------------------------

    @Override
    public void groupNormForward(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor w, Tensor b,
                                 int n, int c, int hw, int groups, float eps, boolean silu) {
        try (Temp ones = w == null ? filled(c, 1f) : null; Temp zeros = b == null ? filled(c, 0f) : null) {
            CudaGroupNorm.forward(this, dense(out, "groupnorm output"), dense(mean, "groupnorm mean"), dense(rstd, "groupnorm rstd"),
                    dense(x, "groupnorm input"), w == null ? ones.ptr() : dense(w, "groupnorm weight"),
                    b == null ? zeros.ptr() : dense(b, "groupnorm bias"), n, c, hw, groups, eps, silu);
        }
    }

    @Override
    public void groupNormBackward(Tensor dx, Tensor dw, Tensor db, Tensor dy, Tensor x, Tensor w, Tensor b,
                                  Tensor mean, Tensor rstd, int n, int c, int hw, int groups, boolean silu) {
        // dw, db are accumulated by the kernel: zero them (or scratch ones when the caller does not want them).
        try (Temp ones = w == null ? filled(c, 1f) : null; Temp zeros = b == null ? filled(c, 0f) : null;
             Temp dwT = dw == null ? filled(c, 0f) : null; Temp dbT = db == null ? filled(c, 0f) : null) {
            long dwp = dw == null ? dwT.ptr() : dense(dw, "groupnorm dw"), dbp = db == null ? dbT.ptr() : dense(db, "groupnorm db");
            if (dw != null) CudaDriver.cuMemsetD32Async(dwp, 0, c, stream());
            if (db != null) CudaDriver.cuMemsetD32Async(dbp, 0, c, stream());
            CudaGroupNorm.backward(this, dense(dx, "groupnorm dx"), dwp, dbp, dense(dy, "groupnorm dy"), dense(x, "groupnorm input"),
                    w == null ? ones.ptr() : dense(w, "groupnorm weight"), b == null ? zeros.ptr() : dense(b, "groupnorm bias"),
                    dense(mean, "groupnorm mean"), dense(rstd, "groupnorm rstd"), n, c, hw, groups, silu);
        }
    }

    /** A scratch buffer of {@code n} copies of {@code v}. */
    private Temp filled(int n, float v) {
        Temp t = temp(n);
        CudaDriver.cuMemsetD32Async(t.ptr(), Float.floatToRawIntBits(v), n, stream());
        return t;
    }

    @Override
    public void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, int batch, int len, int dim, float scale) {
        CudaAttention.forward(this, dense(out, "attention output"), dense(lse, "attention lse"), dense(q, "q"), dense(k, "k"),
                dense(v, "v"), batch, len, dim, scale);
    }

    @Override
    public void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v,
                                  Tensor out, Tensor lse, int batch, int len, int dim, float scale) {
        try (Temp d = temp((long) batch * len)) {
            CudaAttention.backward(this, dense(dq, "dq"), dense(dk, "dk"), dense(dv, "dv"), dense(dout, "attention dout"),
                    dense(q, "q"), dense(k, "k"), dense(v, "v"), dense(out, "attention output"), dense(lse, "attention lse"),
                    d.ptr(), batch, len, dim, scale);
        }
    }

    // ---- resampling and indexing ------------------------------------------------------------------------------

    @Override
    public void upsample2xForward(Tensor out, Tensor x, int planes, int h, int w) {
        CudaUpsample.forward(this, dense(out, "upsample output"), dense(x, "upsample input"), planes, h, w);
    }

    @Override
    public void upsample2xBackward(Tensor dx, Tensor dy, int planes, int h, int w) {
        CudaUpsample.backward(this, dense(dx, "upsample dx"), dense(dy, "upsample dy"), planes, h, w);
    }

    @Override
    public void gatherRows(Tensor out, Tensor table, int[] idx, int rowLen) {
        if (idx.length == 0) return;
        try (Temp dIdx = indices(idx, table, rowLen)) {
            CudaGather.forward(this, dense(out, "gather output"), dense(table, "gather table"), dIdx.ptr(), idx.length, rowLen);
        }
    }

    @Override
    public void scatterAddRows(Tensor dtable, Tensor dy, int[] idx, int rowLen) {
        if (idx.length == 0) return;
        try (Temp dIdx = indices(idx, dtable, rowLen)) {
            CudaGather.backward(this, dense(dtable, "scatter table"), dense(dy, "scatter dy"), dIdx.ptr(), idx.length, rowLen);
        }
    }

    /** Checks indices against the table's rows and uploads them as int32. */
    private Temp indices(int[] idx, Tensor table, int rowLen) {
        long rows = table.numel() / rowLen;
        for (int i = 0; i < idx.length; i++)
            if (idx[i] < 0 || idx[i] >= rows) throw new IndexOutOfBoundsException("index " + idx[i] + " at position " + i + " outside 0.." + (rows - 1));
        Temp t = temp(idx.length);
        try (Arena a = Arena.ofConfined()) {
            CudaDriver.cuMemcpyHtoDAsync(t.ptr(), a.allocateFrom(ValueLayout.JAVA_INT, idx), idx.length * 4L, stream());
        }
        return t;
    }

    // ---- random numbers ---------------------------------------------------------------------------------------

    @Override
    public void fillUniform(Tensor out, long seed, long offset) {
        int n = n32(out.numel(), "fillUniform");
        if (n > 0) CudaPhilox.uniform(this, dense(out, "uniform output"), seed, offset, n);
    }

    @Override
    public void fillNormal(Tensor out, long seed, long offset) {
        int n = n32(out.numel(), "fillNormal");
        if (n > 0) CudaPhilox.normal(this, dense(out, "normal output"), seed, offset, n);
    }

    // ---- fused diffusion and optimizer kernels ----------------------------------------------------------------

    @Override
    public void qSample(Tensor out, Tensor x0, Tensor eps, Tensor a, Tensor b, int n, int d) {
        CudaDiffusion.qSample(this, dense(out, "q_sample output"), dense(x0, "x0"), dense(eps, "eps"), dense(a, "a"), dense(b, "b"), n, d);
    }

    @Override
    public void ancestralStep(Tensor out, Tensor xt, Tensor eps, Tensor z, Tensor coef, int n, int d, boolean clip) {
        // coef (n, 5) rows go to the kernel as they are; a null z means no noise term.
        CudaDiffusion.ancestralStep(this, dense(out, "ancestral output"), dense(xt, "x_t"), dense(eps, "epsTheta"),
                z == null ? 0L : dense(z, "z"), dense(coef, "ancestral coef"), clip, n, d);
    }

    @Override
    public void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor gradScale,
                           float lr, float beta1, float beta2, float eps, float bc1, float bc2) {
        int n = n32(param.numel(), "adam");
        long p = dense(param, "adam param"), g = dense(grad, "adam grad"), mp = dense(m, "adam m"), vp = dense(v, "adam v");
        if (gradScale == null) CudaOptim.adam(this, p, g, mp, vp, lr, beta1, beta2, eps, bc1, bc2, 1f, 0f, n);
        else CudaOptim.adamScaled(this, p, g, mp, vp, dense(gradScale, "adam gradScale"), lr, beta1, beta2, eps, bc1, bc2, n);
    }

    @Override
    public void emaUpdate(Tensor shadow, Tensor param, float decay) {
        CudaOptim.ema(this, dense(shadow, "ema shadow"), dense(param, "ema param"), decay, n32(shadow.numel(), "ema"));
    }
}
