// SPDX-License-Identifier: Apache-2.0
// FFM bindings for cuDNN's convolution API (libcudnn.so.9 or .8, or -Dddpm4j.cuda.cudnnPath): descriptors, algorithm
// choice (_v7 heuristics), workspace sizes, forward / backward-data / backward-filter. Pairs with src/emu/driver/emu_cudnn.c.
package ddpm4j.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/** cuDNN subset for 2-D float NCHW convolutions (cross-correlation, as PyTorch's conv2d). */
public final class Cudnn {
    private Cudnn() {}

    static final NativeLibrary LIB = NativeLibrary.open("cuDNN", "ddpm4j.cuda.cudnnPath", "libcudnn.so.9", "libcudnn.so.8");

    static final int DATA_FLOAT = 0, TENSOR_NCHW = 0, CROSS_CORRELATION = 1;
    /**
     * cudnnMathType_t. FMA_MATH restricts cuDNN to FP32 FMA kernels. DEFAULT_MATH is not full FP32: on Ampere and
     * later it permits TF32 tensor cores for float convolutions (seen on an H100: a sampling step 4e-4 off the CPU's),
     * so it is not used. TENSOR_OP_MATH_ALLOW_CONVERSION lets cuDNN use TF32 tensor cores (-Dddpm4j.cuda.tf32=true).
     */
    public static final int DEFAULT_MATH = 0, TENSOR_OP_MATH_ALLOW_CONVERSION = 2, FMA_MATH = 3;
    /** Size of cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t: algo, status, time, memory (size_t at 16), ... */
    static final long PERF_BYTES = 48, PERF_STATUS = 4, PERF_MEMORY = 16, PERF_DETERMINISM = 24;
    /** cudnnDeterminism_t CUDNN_DETERMINISTIC. */
    static final int DETERMINISTIC = 1;

    private static final FunctionDescriptor H_OUT = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    private static final FunctionDescriptor H_IN = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    private static final MethodHandle VERSION = LIB.bind("cudnnGetVersion", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle ERROR_STRING = LIB.bind("cudnnGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    /** cuDNN 9 only: the detail behind the last failure. */
    private static final Optional<MethodHandle> LAST_ERROR = LIB.bindOptional("cudnnGetLastErrorString", FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG));
    private static final MethodHandle CREATE = LIB.bind("cudnnCreate", H_OUT);
    private static final MethodHandle DESTROY = LIB.bind("cudnnDestroy", H_IN);
    private static final MethodHandle SET_STREAM = LIB.bind("cudnnSetStream", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle CREATE_TENSOR = LIB.bind("cudnnCreateTensorDescriptor", H_OUT);
    private static final MethodHandle DESTROY_TENSOR = LIB.bind("cudnnDestroyTensorDescriptor", H_IN);
    private static final MethodHandle SET_TENSOR = LIB.bind("cudnnSetTensor4dDescriptor", FunctionDescriptor.of(JAVA_INT,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle CREATE_FILTER = LIB.bind("cudnnCreateFilterDescriptor", H_OUT);
    private static final MethodHandle DESTROY_FILTER = LIB.bind("cudnnDestroyFilterDescriptor", H_IN);
    private static final MethodHandle SET_FILTER = LIB.bind("cudnnSetFilter4dDescriptor", FunctionDescriptor.of(JAVA_INT,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle CREATE_CONV = LIB.bind("cudnnCreateConvolutionDescriptor", H_OUT);
    private static final MethodHandle DESTROY_CONV = LIB.bind("cudnnDestroyConvolutionDescriptor", H_IN);
    private static final MethodHandle SET_CONV = LIB.bind("cudnnSetConvolution2dDescriptor", FunctionDescriptor.of(JAVA_INT,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SET_CONV_MATH = LIB.bind("cudnnSetConvolutionMathType", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final FunctionDescriptor ALGO_V7 = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
    private static final FunctionDescriptor WS_SIZE = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
    private static final FunctionDescriptor CONV_RUN = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG,
            ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG);
    private static final MethodHandle FWD_ALGO = LIB.bind("cudnnGetConvolutionForwardAlgorithm_v7", ALGO_V7);
    private static final MethodHandle BWD_DATA_ALGO = LIB.bind("cudnnGetConvolutionBackwardDataAlgorithm_v7", ALGO_V7);
    private static final MethodHandle BWD_FILTER_ALGO = LIB.bind("cudnnGetConvolutionBackwardFilterAlgorithm_v7", ALGO_V7);
    private static final MethodHandle FWD_WS = LIB.bind("cudnnGetConvolutionForwardWorkspaceSize", WS_SIZE);
    private static final MethodHandle BWD_DATA_WS = LIB.bind("cudnnGetConvolutionBackwardDataWorkspaceSize", WS_SIZE);
    private static final MethodHandle BWD_FILTER_WS = LIB.bind("cudnnGetConvolutionBackwardFilterWorkspaceSize", WS_SIZE);
    private static final MethodHandle FORWARD = LIB.bind("cudnnConvolutionForward", CONV_RUN);
    private static final MethodHandle BACKWARD_DATA = LIB.bind("cudnnConvolutionBackwardData", CONV_RUN);
    private static final MethodHandle BACKWARD_FILTER = LIB.bind("cudnnConvolutionBackwardFilter", CONV_RUN);

    /** Whether cuDNN could be opened. */
    public static boolean loaded() { return LIB.loaded(); }

    /** Why cuDNN is unusable, or null. */
    public static String loadFailure() { return LIB.failure(); }

    /** The cuDNN version, e.g. 90100 for 9.1.0. */
    public static long cudnnGetVersion() {
        LIB.require();
        try { return (long) VERSION.invokeExact(); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Throws {@link CudaException} with the status name (and cuDNN 9's last-error detail) unless status is 0. */
    public static void check(int status, String call) {
        if (status == 0) return;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = (MemorySegment) ERROR_STRING.invokeExact(status);
            String name = s.reinterpret(256).getString(0);
            String detail = "";
            if (LAST_ERROR.isPresent()) {
                MemorySegment buf = a.allocate(1024);
                LAST_ERROR.get().invokeExact(buf, 1024L);
                detail = buf.getString(0);
            }
            throw new CudaException(call, status, name, detail.isEmpty() ? "no detail from cuDNN" : detail);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** A new cuDNN handle (needs a current CUDA context). */
    public static MemorySegment cudnnCreate() { LIB.require(); return handleOut(CREATE, "cudnnCreate"); }

    /** Destroys a handle. */
    public static void cudnnDestroy(MemorySegment h) { call1(DESTROY, h, "cudnnDestroy"); }

    /** Runs the handle's work on {@code stream}. */
    public static void cudnnSetStream(MemorySegment h, MemorySegment stream) {
        try { check((int) SET_STREAM.invokeExact(h, stream), "cudnnSetStream"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** A float NCHW tensor descriptor (N, C, H, W). */
    public static MemorySegment tensor4d(int n, int c, int h, int w) {
        MemorySegment d = handleOut(CREATE_TENSOR, "cudnnCreateTensorDescriptor");
        try {
            check((int) SET_TENSOR.invokeExact(d, TENSOR_NCHW, DATA_FLOAT, n, c, h, w), "cudnnSetTensor4dDescriptor");
            return d;
        } catch (Throwable t) {
            destroyTensor(d);
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Destroys a tensor descriptor. */
    public static void destroyTensor(MemorySegment d) { call1(DESTROY_TENSOR, d, "cudnnDestroyTensorDescriptor"); }

    /** A float NCHW filter descriptor (K out channels, C in channels, R, S). */
    public static MemorySegment filter4d(int k, int c, int r, int s) {
        MemorySegment d = handleOut(CREATE_FILTER, "cudnnCreateFilterDescriptor");
        try {
            check((int) SET_FILTER.invokeExact(d, DATA_FLOAT, TENSOR_NCHW, k, c, r, s), "cudnnSetFilter4dDescriptor");
            return d;
        } catch (Throwable t) {
            destroyFilter(d);
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Destroys a filter descriptor. */
    public static void destroyFilter(MemorySegment d) { call1(DESTROY_FILTER, d, "cudnnDestroyFilterDescriptor"); }

    /** A 2-D cross-correlation descriptor with float compute, no dilation, and the given math type. */
    public static MemorySegment convolution2d(int padH, int padW, int strideH, int strideW, int mathType) {
        MemorySegment d = handleOut(CREATE_CONV, "cudnnCreateConvolutionDescriptor");
        try {
            check((int) SET_CONV.invokeExact(d, padH, padW, strideH, strideW, 1, 1, CROSS_CORRELATION, DATA_FLOAT),
                    "cudnnSetConvolution2dDescriptor");
            check((int) SET_CONV_MATH.invokeExact(d, mathType), "cudnnSetConvolutionMathType");
            return d;
        } catch (Throwable t) {
            destroyConvolution(d);
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Destroys a convolution descriptor. */
    public static void destroyConvolution(MemorySegment d) { call1(DESTROY_CONV, d, "cudnnDestroyConvolutionDescriptor"); }

    /** Which of the three convolution passes. */
    public enum Pass { FORWARD, BACKWARD_DATA, BACKWARD_FILTER }

    /** An algorithm with its workspace size in bytes. */
    public record Algo(int algo, long workspaceBytes) {}

    /**
     * The heuristically best deterministic algorithm for a pass whose workspace fits in {@code maxWorkspace} bytes
     * (cudnnGet*Algorithm_v7: the first successful, deterministic entry that fits). Deterministic, because cuDNN's
     * first choice for the backward passes is often an algorithm that sums with atomics, whose bits change from run
     * to run: a seeded training run must give the same weights twice. Descriptor order: x, w, conv, y.
     */
    public static Algo chooseAlgo(Pass pass, MemorySegment h, MemorySegment x, MemorySegment w, MemorySegment conv,
                                  MemorySegment y, long maxWorkspace) {
        int requested = 8;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment count = a.allocate(JAVA_INT), perf = a.allocate(PERF_BYTES * requested, 8);
            int rc = switch (pass) {
                case FORWARD -> (int) FWD_ALGO.invokeExact(h, x, w, conv, y, requested, count, perf);
                case BACKWARD_DATA -> (int) BWD_DATA_ALGO.invokeExact(h, w, y, conv, x, requested, count, perf);
                case BACKWARD_FILTER -> (int) BWD_FILTER_ALGO.invokeExact(h, x, y, conv, w, requested, count, perf);
            };
            check(rc, "cudnnGetConvolution" + passName(pass) + "Algorithm_v7");
            for (int i = 0; i < count.get(JAVA_INT, 0); i++) {
                long base = i * PERF_BYTES;
                if (perf.get(JAVA_INT, base + PERF_STATUS) != 0 || perf.get(JAVA_INT, base + PERF_DETERMINISM) != DETERMINISTIC) continue;
                long ws = workspaceSize(pass, h, x, w, conv, y, perf.get(JAVA_INT, base));
                if (ws <= maxWorkspace) return new Algo(perf.get(JAVA_INT, base), ws);
            }
            throw new CudaException("cuDNN offers no deterministic " + pass + " convolution algorithm within a workspace of "
                    + maxWorkspace + " bytes");
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** cudnnGetConvolution*WorkspaceSize for one algorithm. */
    public static long workspaceSize(Pass pass, MemorySegment h, MemorySegment x, MemorySegment w, MemorySegment conv,
                                     MemorySegment y, int algo) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment size = a.allocate(JAVA_LONG);
            int rc = switch (pass) {
                case FORWARD -> (int) FWD_WS.invokeExact(h, x, w, conv, y, algo, size);
                case BACKWARD_DATA -> (int) BWD_DATA_WS.invokeExact(h, w, y, conv, x, algo, size);
                case BACKWARD_FILTER -> (int) BWD_FILTER_WS.invokeExact(h, x, y, conv, w, algo, size);
            };
            check(rc, "cudnnGetConvolution" + passName(pass) + "WorkspaceSize");
            return size.get(JAVA_LONG, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /**
     * Runs one pass. FORWARD: y = alpha conv(x, w) + beta y. BACKWARD_DATA: x = alpha dconv/dx(dy=y, w) + beta x.
     * BACKWARD_FILTER: w = alpha dconv/dw(x, dy=y) + beta w. {@code scalars} holds host floats alpha at 0, beta at 4.
     */
    public static void run(Pass pass, MemorySegment h, MemorySegment scalars, MemorySegment xDesc, long x,
                           MemorySegment wDesc, long w, MemorySegment conv, MemorySegment yDesc, long y, Algo algo,
                           long workspace) {
        MemorySegment beta = scalars.asSlice(4);
        try {
            int rc = switch (pass) {
                case FORWARD -> (int) FORWARD.invokeExact(h, scalars, xDesc, x, wDesc, w, conv, algo.algo(), workspace,
                        algo.workspaceBytes(), beta, yDesc, y);
                case BACKWARD_DATA -> (int) BACKWARD_DATA.invokeExact(h, scalars, wDesc, w, yDesc, y, conv, algo.algo(),
                        workspace, algo.workspaceBytes(), beta, xDesc, x);
                case BACKWARD_FILTER -> (int) BACKWARD_FILTER.invokeExact(h, scalars, xDesc, x, yDesc, y, conv, algo.algo(),
                        workspace, algo.workspaceBytes(), beta, wDesc, w);
            };
            check(rc, "cudnnConvolution" + passName(pass));
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    private static String passName(Pass p) {
        return switch (p) { case FORWARD -> "Forward"; case BACKWARD_DATA -> "BackwardData"; case BACKWARD_FILTER -> "BackwardFilter"; };
    }

    private static MemorySegment handleOut(MethodHandle h, String call) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check((int) h.invokeExact(p), call);
            return p.get(ADDRESS, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    private static void call1(MethodHandle h, MemorySegment handle, String call) {
        try { check((int) h.invokeExact(handle), call); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }
}
