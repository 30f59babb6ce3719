// SPDX-License-Identifier: Apache-2.0
// FFM bindings for cuBLAS (libcublas.so.13 or .12, or -Dddpm4j.cuda.cublasPath): handle, stream, math mode, SGEMM.
// Prototypes from the cuBLAS documentation (no cublas_api.h here). Pairs with src/emu/driver/emu_cublas.c.
package ddpm4j.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** cuBLAS v2 subset: column-major SGEMM and strided-batched SGEMM on the backend's stream. */
public final class Cublas {
    private Cublas() {}

    static final NativeLibrary LIB = NativeLibrary.open("cuBLAS", "ddpm4j.cuda.cublasPath", "libcublas.so.13", "libcublas.so.12");

    /** cublasOperation_t. */
    public static final int OP_N = 0, OP_T = 1;
    /** cublasMath_t: default (full FP32), and TF32 tensor-core math (10-bit mantissa inputs). */
    public static final int DEFAULT_MATH = 0, TF32_TENSOR_OP_MATH = 3;

    private static final MethodHandle CREATE = LIB.bind("cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle DESTROY = LIB.bind("cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SET_STREAM = LIB.bind("cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SET_MATH = LIB.bind("cublasSetMathMode", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle VERSION = LIB.bind("cublasGetVersion_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle STATUS_NAME = LIB.bind("cublasGetStatusName", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle STATUS_STRING = LIB.bind("cublasGetStatusString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle SGEMM = LIB.bind("cublasSgemm_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
            JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SGEMM_BATCHED = LIB.bind("cublasSgemmStridedBatched", FunctionDescriptor.of(JAVA_INT,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG,
            JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));

    /** Whether cuBLAS could be opened. */
    public static boolean loaded() { return LIB.loaded(); }

    /** Why cuBLAS is unusable, or null. */
    public static String loadFailure() { return LIB.failure(); }

    /** Throws {@link CudaException} with the status name and text unless {@code status} is CUBLAS_STATUS_SUCCESS. */
    public static void check(int status, String call) {
        if (status == 0) return;
        try {
            MemorySegment n = (MemorySegment) STATUS_NAME.invokeExact(status);
            MemorySegment s = (MemorySegment) STATUS_STRING.invokeExact(status);
            throw new CudaException(call, status, n.reinterpret(256).getString(0), s.reinterpret(1024).getString(0));
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** A new cuBLAS handle (needs a current CUDA context). */
    public static MemorySegment cublasCreate() {
        LIB.require();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check((int) CREATE.invokeExact(p), "cublasCreate_v2");
            return p.get(ADDRESS, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Destroys a handle. */
    public static void cublasDestroy(MemorySegment h) {
        try { check((int) DESTROY.invokeExact(h), "cublasDestroy_v2"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Runs the handle's work on {@code stream}. */
    public static void cublasSetStream(MemorySegment h, MemorySegment stream) {
        try { check((int) SET_STREAM.invokeExact(h, stream), "cublasSetStream_v2"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** DEFAULT_MATH or TF32_TENSOR_OP_MATH. */
    public static void cublasSetMathMode(MemorySegment h, int mode) {
        try { check((int) SET_MATH.invokeExact(h, mode), "cublasSetMathMode"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** The cuBLAS version, e.g. 130000. */
    public static int cublasGetVersion(MemorySegment h) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            check((int) VERSION.invokeExact(h, p), "cublasGetVersion_v2");
            return p.get(JAVA_INT, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /**
     * Column-major C(m,n) = alpha op(A)(m,k) op(B)(k,n) + beta C, with device pointers and host scalars.
     * {@code scalars} holds alpha at 0 and beta at 4 (host memory that outlives the call).
     */
    public static void cublasSgemm(MemorySegment h, int transA, int transB, int m, int n, int k, MemorySegment scalars,
                                   long a, int lda, long b, int ldb, long c, int ldc) {
        try {
            check((int) SGEMM.invokeExact(h, transA, transB, m, n, k, scalars, a, lda, b, ldb,
                    scalars.asSlice(4), c, ldc), "cublasSgemm_v2");
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** {@link #cublasSgemm} over {@code batch} matrices at element strides strideA, strideB, strideC. */
    public static void cublasSgemmStridedBatched(MemorySegment h, int transA, int transB, int m, int n, int k,
                                                 MemorySegment scalars, long a, int lda, long strideA, long b, int ldb,
                                                 long strideB, long c, int ldc, long strideC, int batch) {
        try {
            check((int) SGEMM_BATCHED.invokeExact(h, transA, transB, m, n, k, scalars, a, lda, strideA, b, ldb, strideB,
                    scalars.asSlice(4), c, ldc, strideC, batch), "cublasSgemmStridedBatched");
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Allocates {alpha, beta} as host floats in {@code arena}. */
    public static MemorySegment scalars(Arena arena, float alpha, float beta) {
        MemorySegment s = arena.allocate(JAVA_FLOAT, 2);
        s.setAtIndex(JAVA_FLOAT, 0, alpha);
        s.setAtIndex(JAVA_FLOAT, 1, beta);
        return s;
    }
}
