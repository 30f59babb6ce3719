// SPDX-License-Identifier: Apache-2.0
// Copies shared libraries out of a Maven jar on the class path into a content-addressed cache directory, so FFM can
// dlopen them. Used by OpenBlas (org.bytedeco:openblas) and OneDnn (org.bytedeco:dnnl).
package ddpm4j.core.cpu;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.net.JarURLConnection;
import java.net.URL;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Extraction of bundled native libraries.
 *
 * <p>The cache directory is {@code ~/.cache/ddpm4j/}, else {@code java.io.tmpdir}; {@code -Dddpm4j.nativeCache=DIR}
 * overrides it. Each set of libraries goes to a subdirectory named by a hash of their content, so two versions never
 * mix and concurrent JVMs never see a half-written file.
 */
final class NativeLibs {
    private NativeLibs() {}

    /** What loading a library gave: its bindings, or why there are none (exactly one is null). */
    record Loaded<T>(T value, String error) {}

    /** Something that loads a library and binds its symbols; any Throwable means "not available". */
    @FunctionalInterface
    interface Loader<T> {
        T load() throws Throwable;
    }

    /**
     * Runs {@code loader} unless {@code -D<property>=false}; never throws: a failure (UnsatisfiedLinkError,
     * IOException, an IllegalArgumentException from dlopen, ...) becomes the error text.
     */
    static <T> Loaded<T> load(String property, Loader<T> loader) {
        if (!Boolean.parseBoolean(System.getProperty(property, "true"))) {
            return new Loaded<>(null, "disabled by -D" + property + "=false");
        }
        try {
            return new Loaded<>(loader.load(), null);
        } catch (Throwable t) {
            return new Loaded<>(null, t.getClass().getSimpleName() + ": " + t.getMessage());
        }
    }

    /**
     * Extracts {@code files} from the class-path directory {@code resourceDir} into {@code <cache>/<name>-<hash>/}.
     *
     * @param artifact the Maven artifact that should carry them, for the error message
     * @return the directory holding the extracted files
     * @throws IOException if a file is not on the class path or cannot be written
     * @throws UnsupportedOperationException on a platform other than linux-x86_64
     */
    static Path extract(String name, String resourceDir, String[] files, String artifact) throws IOException {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new UnsupportedOperationException("only the linux-x86_64 " + name + " binary is bundled; this is "
                    + os + "/" + arch);
        }
        URL[] urls = new URL[files.length];
        for (int i = 0; i < files.length; i++) {
            urls[i] = NativeLibs.class.getResource(resourceDir + files[i]);
            if (urls[i] == null) {
                throw new IOException("resource " + resourceDir + files[i] + " not on the class path (is " + artifact
                        + " a dependency?)");
            }
        }
        Path dir = cacheRoot().resolve(name + "-" + contentHash(urls));
        Files.createDirectories(dir);
        for (int i = 0; i < files.length; i++) copy(urls[i], dir.resolve(files[i]));
        return dir;
    }

    /**
     * For a Throwable caught around a downcall's {@code invokeExact}: RuntimeExceptions come back to be thrown,
     * Errors are thrown here, anything else is wrapped.
     */
    /**
     * Sets {@code name=value} in the process environment (libc {@code setenv}, so native libraries loaded afterwards
     * see it; Java's {@code System.getenv} does not) unless the user set {@code name} or any of {@code userChoices}.
     * Returns whether it was set.
     */
    @SuppressWarnings("restricted")
    static boolean setenvUnlessSet(String name, String value, String... userChoices) {
        if (System.getenv(name) != null) return false;
        for (String u : userChoices) if (System.getenv(u) != null) return false;
        Linker l = Linker.nativeLinker();
        MethodHandle setenv = l.downcallHandle(l.defaultLookup().find("setenv").orElseThrow(
                () -> new UnsatisfiedLinkError("setenv not in libc")), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        try (Arena a = Arena.ofConfined()) {
            return (int) setenv.invokeExact(a.allocateFrom(name), a.allocateFrom(value), 0) == 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new RuntimeException(t);
    }

    private static Path cacheRoot() {
        String configured = System.getProperty("ddpm4j.nativeCache");
        if (configured != null) return Path.of(configured);
        Path home = Path.of(System.getProperty("user.home", "/nonexistent"), ".cache", "ddpm4j");
        try {
            Files.createDirectories(home);
            if (Files.isWritable(home)) return home;
        } catch (IOException | SecurityException ignored) {
            // fall through to the temp directory
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "ddpm4j-" + System.getProperty("user.name", "user"));
    }

    // From the jar's CRC-32 and size of each entry when loaded from a jar (no need to inflate 100 MB at every start);
    // from the bytes themselves otherwise (an exploded class path).
    private static String contentHash(URL[] urls) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IOException(e);
        }
        for (URL url : urls) {
            md.update(url.getPath().substring(url.getPath().lastIndexOf('/') + 1).getBytes());
            if (url.openConnection() instanceof JarURLConnection jar && jar.getJarEntry().getCrc() >= 0) {
                var e = jar.getJarEntry();
                md.update((e.getCrc() + ":" + e.getSize()).getBytes());
            } else {
                try (InputStream in = url.openStream()) {
                    byte[] buf = new byte[1 << 16];
                    for (int r; (r = in.read(buf)) > 0; ) md.update(buf, 0, r);
                }
            }
        }
        return HexFormat.of().formatHex(md.digest(), 0, 8);
    }

    // Written to a temporary name and moved into place, so concurrent JVMs never see a half-written library.
    private static void copy(URL url, Path target) throws IOException {
        if (Files.isRegularFile(target) && Files.size(target) > 0) return;
        Path tmp = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".part");
        try (InputStream in = url.openStream()) {
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
