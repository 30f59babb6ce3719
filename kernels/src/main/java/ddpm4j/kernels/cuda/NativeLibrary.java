// SPDX-License-Identifier: Apache-2.0
// Finds a CUDA library at run time (system property path, else the known sonames by major version) and binds symbols.
package ddpm4j.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** A dlopen'ed library, or the one-sentence reason it could not be opened. */
final class NativeLibrary {
    private static final Linker LINKER = Linker.nativeLinker();

    private final String what;
    private final SymbolLookup lookup;
    private final String loadedFrom;
    private final String failure;

    private NativeLibrary(String what, SymbolLookup lookup, String loadedFrom, String failure) {
        this.what = what;
        this.lookup = lookup;
        this.loadedFrom = loadedFrom;
        this.failure = failure;
    }

    /**
     * Opens the library named by system property {@code property} if set, else the first of {@code sonames} that
     * dlopen finds (on the default search path or under $CUDA_HOME/lib64, /usr/local/cuda/lib64).
     */
    static NativeLibrary open(String what, String property, String... sonames) {
        String explicit = System.getProperty(property);
        List<String> candidates = new ArrayList<>();
        if (explicit != null && !explicit.isBlank()) {
            candidates.add(explicit);
        } else {
            String cudaHome = System.getenv().getOrDefault("CUDA_HOME", "/usr/local/cuda");
            for (String s : sonames) candidates.add(s);
            for (String dir : List.of(cudaHome + "/lib64", "/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu")) {
                for (String s : sonames) {
                    if (Files.exists(Path.of(dir, s))) candidates.add(dir + "/" + s);
                }
            }
        }
        String last = "";
        for (String c : candidates) {
            try {
                SymbolLookup l = c.contains("/") ? SymbolLookup.libraryLookup(Path.of(c), Arena.global())
                                                 : SymbolLookup.libraryLookup(c, Arena.global());
                return new NativeLibrary(what, l, c, null);
            } catch (IllegalArgumentException | IllegalCallerException e) {
                last = e.getMessage();
            }
        }
        String tried = explicit != null && !explicit.isBlank() ? explicit + " (from -D" + property + ")" : String.join(", ", sonames);
        return new NativeLibrary(what, null, null,
                what + " not found (" + tried + "): " + (last == null ? "dlopen failed" : last));
    }

    boolean loaded() { return lookup != null; }

    /** The path or soname the library was opened from, or null. */
    String loadedFrom() { return loadedFrom; }

    /** The sentence saying why the library is unusable, or null when it is loaded. */
    String failure() { return failure; }

    /** Throws the clear "not found" sentence when the library is missing. */
    void require() {
        if (lookup == null) throw new CudaException(failure);
    }

    /** A downcall handle for a symbol the library must have; null when the library itself is missing. */
    MethodHandle bind(String name, FunctionDescriptor fd) {
        if (lookup == null) return null;
        return LINKER.downcallHandle(lookup.find(name).orElseThrow(
                () -> new CudaException(what + " at " + loadedFrom + " lacks the symbol " + name)), fd);
    }

    /** A downcall handle for an optional symbol (newer versions only, or emulation-only controls). */
    Optional<MethodHandle> bindOptional(String name, FunctionDescriptor fd) {
        if (lookup == null) return Optional.empty();
        return lookup.find(name).map(s -> LINKER.downcallHandle(s, fd));
    }

    /** Rethrows what a MethodHandle invocation threw, unchecked. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new CudaException("native call failed: " + t, t);
    }
}
