// SPDX-License-Identifier: Apache-2.0
// FFM bindings to oneDNN's C API (libdnnl.so.3 from the org.bytedeco:dnnl linux-x86_64 jar; no JNI, no javacpp).
// Only what DnnlConv2d needs: engine, stream, memory descriptors and objects, convolution and reorder primitives.
package ddpm4j.core.cpu;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * oneDNN (Intel's deep-learning primitives library, the one PyTorch uses for CPU convolutions) through FFM.
 *
 * <p>On first use the libraries are copied out of the {@code org.bytedeco:dnnl:linux-x86_64} jar (see
 * {@link NativeLibs}) and loaded into the global arena; the engine and its objects live for the JVM's lifetime.
 * {@code -Dddpm4j.onednn=false} skips loading. If loading fails, {@link #available()} is false and {@link #error()}
 * says why; nothing throws. Constants are those of oneDNN 3.x's {@code dnnl_types.h} (checked against the bundled
 * 3.11 build's own Java constants).
 */
final class OneDnn {
    // dnnl_types.h (oneDNN 3.x)
    static final int F32 = 3, ENGINE_CPU = 1, STREAM_DEFAULT = 1;
    static final int TAG_ANY = 1, TAG_A = 2, TAG_ABCD = 5;
    static final int FORWARD_TRAINING = 64, FORWARD_INFERENCE = 96, BACKWARD_DATA = 160, BACKWARD_WEIGHTS = 192;
    static final int CONVOLUTION_DIRECT = 1, SCRATCHPAD_USER = 1;
    static final int QUERY_IMPL_INFO_STR = 8, QUERY_SRC_MD = 129, QUERY_DIFF_SRC_MD = 130, QUERY_WEIGHTS_MD = 131,
            QUERY_DIFF_WEIGHTS_MD = 132, QUERY_DST_MD = 133, QUERY_DIFF_DST_MD = 134, QUERY_SCRATCHPAD_MD = 136;
    static final int ARG_SRC = 1, ARG_FROM = 1, ARG_DST = 17, ARG_TO = 17, ARG_WEIGHTS = 33, ARG_BIAS = 41,
            ARG_SCRATCHPAD = 80, ARG_DIFF_SRC = 129, ARG_DIFF_DST = 145, ARG_DIFF_WEIGHTS = 161, ARG_DIFF_BIAS = 169;
    /** dnnl_dims_t is int64_t[DNNL_MAX_NDIMS]. */
    static final int MAX_NDIMS = 12;
    /** sizeof(dnnl_exec_arg_t): { int arg; dnnl_memory_t memory; }. */
    static final int EXEC_ARG_BYTES = 16;

    private static final String RESOURCE_DIR = "/org/bytedeco/dnnl/linux-x86_64/";
    private static final String[] FILES = {"libgomp.so.1", "libdnnl.so.3"};

    record Bindings(MethodHandle streamCreate, MethodHandle streamWait,
                    MethodHandle mdCreateWithTag, MethodHandle mdDestroy, MethodHandle mdEqual, MethodHandle mdGetSize,
                    MethodHandle convFwdPd, MethodHandle convBwdDataPd, MethodHandle convBwdWeightsPd,
                    MethodHandle reorderPd, MethodHandle pdQueryMd, MethodHandle pdQuery, MethodHandle pdDestroy,
                    MethodHandle primCreate, MethodHandle primExecute, MethodHandle memCreate, MethodHandle memDestroy,
                    MethodHandle attrCreate, MethodHandle attrSetScratchpad, MethodHandle attrDestroy,
                    MethodHandle ompSetNumThreads, MemorySegment engine, String version, Path dir) {}

    // Loaded lazily by the holder idiom: the first use pays for extraction and dlopen.
    private static final class Holder {
        static final NativeLibs.Loaded<Bindings> L = NativeLibs.load("ddpm4j.onednn", OneDnn::load);
    }

    private OneDnn() {}

    /** True when oneDNN loaded, its symbols are bound and a CPU engine was created. */
    static boolean available() {
        return Holder.L.value() != null;
    }

    /** Why oneDNN is not available, or null when it is. */
    static String error() {
        return Holder.L.error();
    }

    static Bindings b() {
        Bindings b = Holder.L.value();
        if (b == null) throw new IllegalStateException("oneDNN is not available: " + Holder.L.error());
        return b;
    }

    /** Throws with the call's name and oneDNN's status code unless {@code status} is dnnl_success. */
    static void check(int status, String call, Object what) {
        if (status != 0) {
            throw new IllegalStateException("oneDNN " + call + " failed with status " + status + " ("
                    + statusName(status) + ") for " + what);
        }
    }

    static String statusName(int status) {
        return switch (status) {
            case 1 -> "out_of_memory";
            case 2 -> "invalid_arguments";
            case 3 -> "unimplemented";
            case 4 -> "last_impl_reached";
            case 5 -> "runtime_error";
            case 6 -> "not_required";
            default -> "status " + status;
        };
    }

    @SuppressWarnings("restricted")
    private static Bindings load() throws IOException {
        Path dir = NativeLibs.extract("onednn", RESOURCE_DIR, FILES, "org.bytedeco:dnnl:linux-x86_64");
        Arena arena = Arena.global();
        passiveOpenMpThreads();
        SymbolLookup gomp = SymbolLookup.libraryLookup(dir.resolve("libgomp.so.1"), arena);
        SymbolLookup lib = SymbolLookup.libraryLookup(dir.resolve("libdnnl.so.3"), arena);
        Linker l = Linker.nativeLinker();
        FunctionDescriptor st = FunctionDescriptor.of(JAVA_INT, ADDRESS);   // status f(handle)
        var b = new Bindings(
                l.downcallHandle(find(lib, "dnnl_stream_create"), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT)),
                l.downcallHandle(find(lib, "dnnl_stream_wait"), st),
                l.downcallHandle(find(lib, "dnnl_memory_desc_create_with_tag"),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT)),
                l.downcallHandle(find(lib, "dnnl_memory_desc_destroy"), st),
                l.downcallHandle(find(lib, "dnnl_memory_desc_equal"), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)),
                l.downcallHandle(find(lib, "dnnl_memory_desc_get_size"), FunctionDescriptor.of(JAVA_LONG, ADDRESS)),
                // (pd*, engine, prop, alg, src, weights, bias, dst, strides, dilates, pad_l, pad_r, attr)
                l.downcallHandle(find(lib, "dnnl_convolution_forward_primitive_desc_create"), FunctionDescriptor.of(JAVA_INT,
                        ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                        ADDRESS, ADDRESS)),
                // (pd*, engine, alg, diff_src, weights, diff_dst, strides, dilates, pad_l, pad_r, hint, attr)
                l.downcallHandle(find(lib, "dnnl_convolution_backward_data_primitive_desc_create"), FunctionDescriptor.of(
                        JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                        ADDRESS, ADDRESS)),
                // (pd*, engine, alg, src, diff_weights, diff_bias, diff_dst, strides, dilates, pad_l, pad_r, hint, attr)
                l.downcallHandle(find(lib, "dnnl_convolution_backward_weights_primitive_desc_create"), FunctionDescriptor.of(
                        JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                        ADDRESS, ADDRESS, ADDRESS)),
                // (pd*, src_md, src_engine, dst_md, dst_engine, attr)
                l.downcallHandle(find(lib, "dnnl_reorder_primitive_desc_create"),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS)),
                l.downcallHandle(find(lib, "dnnl_primitive_desc_query_md"),
                        FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT)),
                l.downcallHandle(find(lib, "dnnl_primitive_desc_query"),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS)),
                l.downcallHandle(find(lib, "dnnl_primitive_desc_destroy"), st),
                l.downcallHandle(find(lib, "dnnl_primitive_create"), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)),
                l.downcallHandle(find(lib, "dnnl_primitive_execute"),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS)),
                l.downcallHandle(find(lib, "dnnl_memory_create"),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS)),
                l.downcallHandle(find(lib, "dnnl_memory_destroy"), st),
                l.downcallHandle(find(lib, "dnnl_primitive_attr_create"), st),
                l.downcallHandle(find(lib, "dnnl_primitive_attr_set_scratchpad_mode"),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT)),
                l.downcallHandle(find(lib, "dnnl_primitive_attr_destroy"), st),
                l.downcallHandle(gomp.find("omp_set_num_threads").orElseThrow(
                        () -> new UnsatisfiedLinkError("symbol omp_set_num_threads not in libgomp.so.1")),
                        FunctionDescriptor.ofVoid(JAVA_INT)),
                createEngine(l, lib), version(l, lib), dir);
        return b;
    }

    /**
     * OpenMP threads that spin after a parallel region take the cores from the next kernel on Parallel's pool, and
     * lose 3-4x when their partner is descheduled on a shared machine; sleeping costs a few microseconds per
     * convolution. So unless the user chose otherwise, set OMP_WAIT_POLICY=PASSIVE in the process environment before
     * libgomp loads (it reads its settings once, when loaded).
     */
    private static void passiveOpenMpThreads() {
        NativeLibs.setenvUnlessSet("OMP_WAIT_POLICY", "PASSIVE", "GOMP_SPINCOUNT");
    }

    // dnnl_version() points to { int major, minor, patch; const char *hash; ... }
    @SuppressWarnings("restricted")
    private static String version(Linker l, SymbolLookup lib) {
        try {
            MemorySegment v = ((MemorySegment) l.downcallHandle(find(lib, "dnnl_version"), FunctionDescriptor.of(ADDRESS))
                    .invokeExact()).reinterpret(12);
            return v.get(JAVA_INT, 0) + "." + v.get(JAVA_INT, 4) + "." + v.get(JAVA_INT, 8);
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        }
    }

    /** The loaded library's version, for example "3.11.0". */
    static String version() {
        return b().version();
    }

    private static MemorySegment createEngine(Linker l, SymbolLookup lib) {
        MethodHandle create = l.downcallHandle(find(lib, "dnnl_engine_create"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
        MemorySegment out = Arena.global().allocate(ADDRESS);
        try {
            check((int) create.invokeExact(out, ENGINE_CPU, 0L), "dnnl_engine_create", "the CPU engine");
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        }
        return out.get(ADDRESS, 0);
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new UnsatisfiedLinkError("symbol " + name + " not in libdnnl.so.3"));
    }
}
