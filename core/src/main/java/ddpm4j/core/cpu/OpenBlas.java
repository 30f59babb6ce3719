// SPDX-License-Identifier: Apache-2.0
// FFM bindings to OpenBLAS, loaded from the org.bytedeco:openblas linux-x86_64 jar (no JNI, no javacpp loader).
// Pairs with Gemm (dispatch and argument checks) and JavaGemm (the fallback when this cannot load).
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
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * OpenBLAS through FFM.
 *
 * <p>On first use the shared libraries are copied out of the {@code org.bytedeco:openblas:linux-x86_64} jar into a
 * directory named by a hash of their content ({@code ~/.cache/ddpm4j/}, else {@code java.io.tmpdir}; override with
 * {@code -Dddpm4j.nativeCache=DIR}), then loaded into the global arena: they stay loaded for the JVM's lifetime.
 * {@code -Dddpm4j.openblas=false} skips loading. If loading fails, {@link #available()} is false and
 * {@link #error()} says why; nothing throws.
 */
public final class OpenBlas {

    /** CBLAS enum values from cblas.h. */
    public static final int CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112;

    private static final String RESOURCE_DIR = "/org/bytedeco/openblas/linux-x86_64/";
    // Load order: each library's dependencies first (libgfortran has no $ORIGIN run path of its own).
    private static final String[] FILES = {"libgcc_s.so.1", "libquadmath.so.0", "libgfortran.so.5", "libopenblas.so.0"};

    private record Bindings(MethodHandle sgemm, MethodHandle sgemmCritical, MethodHandle setNumThreads,
                            MethodHandle getNumThreads, MethodHandle getConfig,
                            MethodHandle getCorename, Path dir) {}

    // Loaded lazily by the holder idiom: the first use pays for extraction and dlopen.
    private static final class Holder {
        static final NativeLibs.Loaded<Bindings> L = NativeLibs.load("ddpm4j.openblas", OpenBlas::load);
    }

    private OpenBlas() {}

    /** True when OpenBLAS loaded and its symbols are bound. */
    public static boolean available() {
        return Holder.L.value() != null;
    }

    /** Why OpenBLAS is not available, or null when it is. */
    public static String error() {
        return Holder.L.error();
    }

    /** The directory the libraries were loaded from. */
    public static Path libraryDir() {
        return bindings().dir();
    }

    /** {@code openblas_get_config()}: version, build options and kernel set, for example "OpenBLAS 0.3.31 DYNAMIC_ARCH ...". */
    public static String config() {
        try {
            return ((MemorySegment) bindings().getConfig().invokeExact()).reinterpret(4096).getString(0);
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        }
    }

    /** {@code openblas_get_corename()}: the kernel family chosen for this CPU, for example "SkylakeX" or "Haswell". */
    public static String corename() {
        try {
            return ((MemorySegment) bindings().getCorename().invokeExact()).reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        }
    }

    /** {@code openblas_get_num_threads()}. */
    public static int numThreads() {
        try {
            return (int) bindings().getNumThreads().invokeExact();
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        }
    }

    /** {@code openblas_set_num_threads(n)}: the process-wide thread count of OpenBLAS's own pool. */
    public static void setNumThreads(int n) {
        try {
            bindings().setNumThreads().invokeExact(n);
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        }
    }

    /**
     * Raw {@code cblas_sgemm}; arguments are not checked here (see {@link Gemm#sgemm}). Heap segments are allowed
     * (the call is then made as a critical function, which pins them).
     */
    public static void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
                                   MemorySegment a, int lda, MemorySegment b, int ldb, float beta,
                                   MemorySegment c, int ldc) {
        Bindings bs = bindings();
        MethodHandle h = a.isNative() && b.isNative() && c.isNative() ? bs.sgemm() : bs.sgemmCritical();
        try {
            h.invokeExact(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        }
    }

    /**
     * {@code cblas_sgemm} on {@code threads} of OpenBLAS's own threads (native segments only). OpenBLAS splits C
     * into blocks of rows and columns and each element's sum over K runs in the same order as on one thread, so the
     * result is bit-identical to {@link #cblas_sgemm} (GemmTest checks it). The thread count is process-wide in
     * this pthreads build, so the caller must hold Parallel's pool ({@link Parallel#tryTakePool()}): kernels on
     * other threads then run inline and their own GEMMs stay single-threaded in practice; one made concurrently
     * from a thread outside the pool is still correct, merely queued behind this one by OpenBLAS.
     */
    static void cblasSgemmThreaded(int threads, int order, int transA, int transB, int m, int n, int k, float alpha,
                                   MemorySegment a, int lda, MemorySegment b, int ldb, float beta,
                                   MemorySegment c, int ldc) {
        Bindings bs = bindings();
        try {
            bs.setNumThreads().invokeExact(threads);
            try {
                bs.sgemm().invokeExact(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            } finally {
                bs.setNumThreads().invokeExact(1);
            }
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        }
    }

    private static Bindings bindings() {
        Bindings b = Holder.L.value();
        if (b == null) throw new IllegalStateException("OpenBLAS is not available: " + Holder.L.error());
        return b;
    }

    // 1. copy the libraries out of the jar (NativeLibs), 2. dlopen them in dependency order, 3. bind the symbols
    @SuppressWarnings("restricted")
    private static Bindings load() throws IOException {
        Path dir = NativeLibs.extract("openblas", RESOURCE_DIR, FILES, "org.bytedeco:openblas:linux-x86_64");
        // OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) after each threaded call by default, taking the
        // cores from the kernels that follow; 2^16 cycles (~25 us, like Parallel's own spin) bridges back-to-back
        // GEMMs and no more. Read once, when the library initialises; the user's own setting wins.
        NativeLibs.setenvUnlessSet("OPENBLAS_THREAD_TIMEOUT", "16", "GOTO_THREAD_TIMEOUT");
        Arena arena = Arena.global();
        try {
            SymbolLookup.libraryLookup("libgcc_s.so.1", arena);   // the system's copy, if there is one
        } catch (IllegalArgumentException e) {
            SymbolLookup.libraryLookup(dir.resolve("libgcc_s.so.1"), arena);
        }
        SymbolLookup.libraryLookup(dir.resolve("libquadmath.so.0"), arena);
        SymbolLookup.libraryLookup(dir.resolve("libgfortran.so.5"), arena);
        SymbolLookup lib = SymbolLookup.libraryLookup(dir.resolve("libopenblas.so.0"), arena);

        Linker linker = Linker.nativeLinker();
        FunctionDescriptor sgemmDesc = FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT);
        MemorySegment sgemm = find(lib, "cblas_sgemm");
        var b = new Bindings(
                linker.downcallHandle(sgemm, sgemmDesc),
                linker.downcallHandle(sgemm, sgemmDesc, Linker.Option.critical(true)),
                linker.downcallHandle(find(lib, "openblas_set_num_threads"), FunctionDescriptor.ofVoid(JAVA_INT)),
                linker.downcallHandle(find(lib, "openblas_get_num_threads"), FunctionDescriptor.of(JAVA_INT)),
                linker.downcallHandle(find(lib, "openblas_get_config"), FunctionDescriptor.of(ADDRESS)),
                linker.downcallHandle(find(lib, "openblas_get_corename"), FunctionDescriptor.of(ADDRESS)),
                dir);
        try {
            // single-threaded by default; Gemm raises the count around a large product while it holds Parallel's pool
            b.setNumThreads().invokeExact(1);
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        }
        return b;
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new UnsatisfiedLinkError("symbol " + name + " not in libopenblas.so.0"));
    }
}
