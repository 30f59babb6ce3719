// SPDX-License-Identifier: Apache-2.0
// FFM bindings for the CUDA driver API (libcuda.so.1, or the emulation named by -Dddpm4j.cuda.driverPath).
// Descriptors written by hand from CUDA 13's cuda.h; memory calls bound by their _v2 names. Pairs with src/emu/driver/emu_cuda.c.
package ddpm4j.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/** The CUDA driver API subset the backend uses. Every call checks its status and throws {@link CudaException}. */
public final class CudaDriver {
    private CudaDriver() {}

    static final NativeLibrary LIB = NativeLibrary.open("CUDA driver", "ddpm4j.cuda.driverPath", "libcuda.so.1");

    /** CUdevice_attribute values used here (cuda.h). */
    public static final int ATTR_MULTIPROCESSOR_COUNT = 16, ATTR_CC_MAJOR = 75, ATTR_CC_MINOR = 76;
    /** CUjit_option values for the JIT error log (cuda.h). */
    static final int JIT_ERROR_LOG_BUFFER = 5, JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
    static final int CUDA_ERROR_OUT_OF_MEMORY = 2;

    private static final MethodHandle INIT = LIB.bind("cuInit", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle DRIVER_VERSION = LIB.bind("cuDriverGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle DEVICE_COUNT = LIB.bind("cuDeviceGetCount", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle DEVICE_GET = LIB.bind("cuDeviceGet", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle DEVICE_NAME = LIB.bind("cuDeviceGetName", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle DEVICE_ATTR = LIB.bind("cuDeviceGetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle DEVICE_TOTAL_MEM = LIB.bind("cuDeviceTotalMem_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CTX_RETAIN = LIB.bind("cuDevicePrimaryCtxRetain", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CTX_RELEASE = LIB.bind("cuDevicePrimaryCtxRelease_v2", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle CTX_SET_CURRENT = LIB.bind("cuCtxSetCurrent", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle CTX_SYNC = LIB.bind("cuCtxSynchronize", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle STREAM_CREATE = LIB.bind("cuStreamCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle STREAM_DESTROY = LIB.bind("cuStreamDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle STREAM_SYNC = LIB.bind("cuStreamSynchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle EVENT_CREATE = LIB.bind("cuEventCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle EVENT_RECORD = LIB.bind("cuEventRecord", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle EVENT_SYNC = LIB.bind("cuEventSynchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle EVENT_DESTROY = LIB.bind("cuEventDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    /** CUDA 13 renamed it cuEventElapsedTime_v2; older drivers only have the plain name. */
    private static final MethodHandle EVENT_ELAPSED = LIB.bindOptional("cuEventElapsedTime_v2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS)).orElseGet(
            () -> LIB.bind("cuEventElapsedTime", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS)));
    private static final MethodHandle MEM_ALLOC = LIB.bind("cuMemAlloc_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle MEM_FREE = LIB.bind("cuMemFree_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    private static final MethodHandle MEM_INFO = LIB.bind("cuMemGetInfo_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle HTOD = LIB.bind("cuMemcpyHtoDAsync_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle DTOH = LIB.bind("cuMemcpyDtoHAsync_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
    private static final MethodHandle DTOD = LIB.bind("cuMemcpyDtoDAsync_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS));
    private static final MethodHandle MEMSET32 = LIB.bind("cuMemsetD32Async", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle MODULE_LOAD = LIB.bind("cuModuleLoadDataEx", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle MODULE_UNLOAD = LIB.bind("cuModuleUnload", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle MODULE_FUNCTION = LIB.bind("cuModuleGetFunction", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle LAUNCH = LIB.bind("cuLaunchKernel", FunctionDescriptor.of(JAVA_INT, ADDRESS,
            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle ERROR_NAME = LIB.bind("cuGetErrorName", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle ERROR_STRING = LIB.bind("cuGetErrorString", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    /** Exported only by the emulated driver: its presence is how the backend knows it runs emulated. */
    private static final Optional<MethodHandle> EMU_KERNELS_PATH = LIB.bindOptional("ddpm4j_emu_set_kernels_path", FunctionDescriptor.ofVoid(ADDRESS));
    private static final Optional<MethodHandle> EMU_DEVICE_MEMORY = LIB.bindOptional("ddpm4j_emu_set_device_memory", FunctionDescriptor.ofVoid(JAVA_LONG));
    private static final Optional<MethodHandle> EMU_LAST_ERROR = LIB.bindOptional("ddpm4j_emu_driver_last_error", FunctionDescriptor.of(ADDRESS));

    /** Whether the driver library could be opened (says nothing about devices). */
    public static boolean loaded() { return LIB.loaded(); }

    /** Why the driver is unusable ("CUDA driver not found (libcuda.so.1): ..."), or null when loaded. */
    public static String loadFailure() { return LIB.failure(); }

    /** Where the driver library was opened from. */
    public static String loadedFrom() { return LIB.loadedFrom(); }

    /** True when the driver is ddpm4j's host emulation (src/emu/driver), not NVIDIA's. */
    public static boolean emulated() { return EMU_KERNELS_PATH.isPresent(); }

    // ---- status checking ----

    /** Throws {@link CudaException} with the error's name and text unless {@code status} is CUDA_SUCCESS. */
    public static void check(int status, String call) {
        if (status == 0) return;
        throw new CudaException(call, status, errorName(status), errorText(status) + emuDetail());
    }

    static String errorName(int status) { return errorLookup(ERROR_NAME, status, "CUDA_ERROR_UNKNOWN_" + status); }

    static String errorText(int status) { return errorLookup(ERROR_STRING, status, "unrecognized error code"); }

    private static String errorLookup(MethodHandle h, int status, String fallback) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int rc = (int) h.invokeExact(status, p);
            MemorySegment s = p.get(ADDRESS, 0);
            return rc != 0 || s.equals(MemorySegment.NULL) ? fallback : s.reinterpret(4096).getString(0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    private static String emuDetail() {
        if (EMU_LAST_ERROR.isEmpty()) return "";
        try {
            MemorySegment s = (MemorySegment) EMU_LAST_ERROR.get().invokeExact();
            String d = s.equals(MemorySegment.NULL) ? "" : s.reinterpret(4096).getString(0);
            return d.isEmpty() ? "" : " [" + d + "]";
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- emulation controls ----

    /** Emulated driver only: where libddpm4j_cudaemu_kernels.so is. No-op on a real driver. */
    public static void emuSetKernelsPath(String path) {
        if (EMU_KERNELS_PATH.isEmpty() || path == null) return;
        try (Arena a = Arena.ofConfined()) {
            EMU_KERNELS_PATH.get().invokeExact(a.allocateFrom(path));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Emulated driver only: the emulated device memory size in bytes (for out-of-memory tests). */
    public static void emuSetDeviceMemory(long bytes) {
        if (EMU_DEVICE_MEMORY.isEmpty()) throw new CudaException("emuSetDeviceMemory needs the emulated driver");
        try {
            EMU_DEVICE_MEMORY.get().invokeExact(bytes);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- init and devices ----

    /** cuInit(0). */
    public static void cuInit() {
        LIB.require();
        try { check((int) INIT.invokeExact(0), "cuInit"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** The driver version, e.g. 13000 for CUDA 13.0. */
    public static int cuDriverGetVersion() { return intOut(DRIVER_VERSION, "cuDriverGetVersion"); }

    /** The number of CUDA devices. */
    public static int cuDeviceGetCount() { return intOut(DEVICE_COUNT, "cuDeviceGetCount"); }

    /** The device handle for an ordinal. */
    public static int cuDeviceGet(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            check((int) DEVICE_GET.invokeExact(p, ordinal), "cuDeviceGet");
            return p.get(JAVA_INT, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** The device's marketing name. */
    public static String cuDeviceGetName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(256);
            check((int) DEVICE_NAME.invokeExact(buf, 256, device), "cuDeviceGetName");
            return buf.getString(0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** A device attribute (see the ATTR_ constants). */
    public static int cuDeviceGetAttribute(int attribute, int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            check((int) DEVICE_ATTR.invokeExact(p, attribute, device), "cuDeviceGetAttribute");
            return p.get(JAVA_INT, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Total device memory in bytes. */
    public static long cuDeviceTotalMem(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            check((int) DEVICE_TOTAL_MEM.invokeExact(p, device), "cuDeviceTotalMem_v2");
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    // ---- context (CUDA 13 has no plain cuCtxCreate: use the primary context) ----

    /** Retains the device's primary context. */
    public static MemorySegment cuDevicePrimaryCtxRetain(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check((int) CTX_RETAIN.invokeExact(p, device), "cuDevicePrimaryCtxRetain");
            return p.get(ADDRESS, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Releases the primary context. */
    public static void cuDevicePrimaryCtxRelease(int device) {
        try { check((int) CTX_RELEASE.invokeExact(device), "cuDevicePrimaryCtxRelease_v2"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Binds a context to the calling thread. */
    public static void cuCtxSetCurrent(MemorySegment ctx) {
        try { check((int) CTX_SET_CURRENT.invokeExact(ctx), "cuCtxSetCurrent"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Waits for all work in the current context. */
    public static void cuCtxSynchronize() {
        try { check((int) CTX_SYNC.invokeExact(), "cuCtxSynchronize"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    // ---- streams and events ----

    /** A new stream (flags 0: default; 1: non-blocking). */
    public static MemorySegment cuStreamCreate(int flags) { return handleOut(STREAM_CREATE, flags, "cuStreamCreate"); }

    /** Destroys a stream. */
    public static void cuStreamDestroy(MemorySegment s) { call1(STREAM_DESTROY, s, "cuStreamDestroy_v2"); }

    /** Waits for a stream. */
    public static void cuStreamSynchronize(MemorySegment s) { call1(STREAM_SYNC, s, "cuStreamSynchronize"); }

    /** A new event (flags 0: default, with timing). */
    public static MemorySegment cuEventCreate(int flags) { return handleOut(EVENT_CREATE, flags, "cuEventCreate"); }

    /** Records an event on a stream. */
    public static void cuEventRecord(MemorySegment event, MemorySegment stream) {
        try { check((int) EVENT_RECORD.invokeExact(event, stream), "cuEventRecord"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Waits for an event. */
    public static void cuEventSynchronize(MemorySegment e) { call1(EVENT_SYNC, e, "cuEventSynchronize"); }

    /** Destroys an event. */
    public static void cuEventDestroy(MemorySegment e) { call1(EVENT_DESTROY, e, "cuEventDestroy_v2"); }

    /** Milliseconds between two recorded events. */
    public static float cuEventElapsedTime(MemorySegment start, MemorySegment end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_FLOAT);
            check((int) EVENT_ELAPSED.invokeExact(p, start, end), "cuEventElapsedTime");
            return p.get(JAVA_FLOAT, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    // ---- memory ----

    /** {free, total} device memory in bytes. */
    public static long[] cuMemGetInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment free = a.allocate(JAVA_LONG), total = a.allocate(JAVA_LONG);
            check((int) MEM_INFO.invokeExact(free, total), "cuMemGetInfo_v2");
            return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /**
     * Allocates device memory. On CUDA_ERROR_OUT_OF_MEMORY the exception says how much was asked and how much is free.
     */
    public static long cuMemAlloc(long bytes) {
        int rc;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            rc = (int) MEM_ALLOC.invokeExact(p, bytes);
            if (rc == 0) return p.get(JAVA_LONG, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
        if (rc == CUDA_ERROR_OUT_OF_MEMORY) {
            long[] info = cuMemGetInfo();
            throw new CudaException("cuMemAlloc_v2", rc, errorName(rc), errorText(rc) + ": asked for " + bytes
                    + " bytes (" + mib(bytes) + "), " + info[0] + " bytes (" + mib(info[0]) + ") free of " + mib(info[1]));
        }
        check(rc, "cuMemAlloc_v2");
        throw new AssertionError();
    }

    private static String mib(long bytes) { return String.format("%.1f MiB", bytes / 1048576.0); }

    /** Frees device memory. */
    public static void cuMemFree(long dptr) {
        try { check((int) MEM_FREE.invokeExact(dptr), "cuMemFree_v2"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Host to device copy on a stream (the host segment must stay alive until the stream reaches it). */
    public static void cuMemcpyHtoDAsync(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        try { check((int) HTOD.invokeExact(dst, src, bytes, stream), "cuMemcpyHtoDAsync_v2"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Device to host copy on a stream. */
    public static void cuMemcpyDtoHAsync(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        try { check((int) DTOH.invokeExact(dst, src, bytes, stream), "cuMemcpyDtoHAsync_v2"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Device to device copy on a stream. */
    public static void cuMemcpyDtoDAsync(long dst, long src, long bytes, MemorySegment stream) {
        try { check((int) DTOD.invokeExact(dst, src, bytes, stream), "cuMemcpyDtoDAsync_v2"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Sets {@code count} 32-bit words to {@code value} on a stream. */
    public static void cuMemsetD32Async(long dst, int value, long count, MemorySegment stream) {
        try { check((int) MEMSET32.invokeExact(dst, value, count, stream), "cuMemsetD32Async"); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    // ---- modules and launches ----

    /**
     * Loads a fatbin, cubin or NUL-terminated PTX image. A JIT failure throws with the JIT error log in the message.
     */
    public static MemorySegment cuModuleLoadDataEx(MemorySegment image, String what) {
        try (Arena a = Arena.ofConfined()) {
            int logSize = 16384;
            MemorySegment log = a.allocate(logSize);
            MemorySegment opts = a.allocate(JAVA_INT, 2);
            opts.setAtIndex(JAVA_INT, 0, JIT_ERROR_LOG_BUFFER);
            opts.setAtIndex(JAVA_INT, 1, JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
            MemorySegment vals = a.allocate(ADDRESS, 2);
            vals.setAtIndex(ADDRESS, 0, log);
            vals.setAtIndex(ADDRESS, 1, MemorySegment.ofAddress(logSize));
            MemorySegment out = a.allocate(ADDRESS);
            int rc = (int) MODULE_LOAD.invokeExact(out, image, 2, opts, vals);
            if (rc != 0) {
                String jit = log.getString(0).strip();
                throw new CudaException("cuModuleLoadDataEx", rc, errorName(rc), errorText(rc) + " loading " + what
                        + emuDetail() + (jit.isEmpty() ? "" : "\nJIT log:\n" + jit));
            }
            return out.get(ADDRESS, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Unloads a module. */
    public static void cuModuleUnload(MemorySegment module) { call1(MODULE_UNLOAD, module, "cuModuleUnload"); }

    /** Looks a kernel up by its extern "C" name. */
    public static MemorySegment cuModuleGetFunction(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int rc = (int) MODULE_FUNCTION.invokeExact(p, module, a.allocateFrom(name));
            if (rc != 0) throw new CudaException("cuModuleGetFunction", rc, errorName(rc), errorText(rc) + ": kernel '" + name + "'" + emuDetail());
            return p.get(ADDRESS, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    /** Launches a kernel; {@code params} is cuLaunchKernel's array of pointers to each argument value. */
    public static void cuLaunchKernel(MemorySegment f, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes,
                                      MemorySegment stream, MemorySegment params, String name) {
        int rc;
        try {
            rc = (int) LAUNCH.invokeExact(f, gx, gy, gz, bx, by, bz, sharedBytes, stream, params, MemorySegment.NULL);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
        if (rc != 0) {
            throw new CudaException("cuLaunchKernel", rc, errorName(rc), errorText(rc) + ": " + name + " grid (" + gx + ","
                    + gy + "," + gz + ") block (" + bx + "," + by + "," + bz + ") shared " + sharedBytes + emuDetail());
        }
    }

    // ---- helpers ----

    private static int intOut(MethodHandle h, String call) {
        LIB.require();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            check((int) h.invokeExact(p), call);
            return p.get(JAVA_INT, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    private static MemorySegment handleOut(MethodHandle h, int flags, String call) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check((int) h.invokeExact(p, flags), call);
            return p.get(ADDRESS, 0);
        } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }

    private static void call1(MethodHandle h, MemorySegment handle, String call) {
        try { check((int) h.invokeExact(handle), call); } catch (Throwable t) { throw NativeLibrary.rethrow(t); }
    }
}
