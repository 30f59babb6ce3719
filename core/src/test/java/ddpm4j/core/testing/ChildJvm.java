// SPDX-License-Identifier: Apache-2.0
// Runs a test class's main method in a fresh JVM (this JVM's module flags and class path) and returns what it printed
// after a marker: how tests compare results across thread counts and OpenBLAS core types.
package ddpm4j.core.testing;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/** A child JVM for a test. */
public final class ChildJvm {
    private ChildJvm() {}

    /**
     * Runs {@code main.main()} in a child JVM with {@code props} ("-Dname=value" flags) and the environment changed by
     * {@code env} (a null value removes the variable); fails unless it exits 0, and returns the rest of its first
     * output line that starts with {@code marker + " "}.
     */
    public static String run(Class<?> main, Map<String, String> env, String marker, String... props)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
            if (a.startsWith("--add-modules") || a.startsWith("--enable-native-access")) cmd.add(a);
        cmd.addAll(List.of(props));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        env.forEach((k, v) -> { if (v == null) pb.environment().remove(k); else pb.environment().put(k, v); });
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new AssertionError("child JVM " + main.getSimpleName() + " exited " + p.exitValue() + ":\n" + output);
        String prefix = marker + " ";
        return output.lines().filter(l -> l.startsWith(prefix)).map(l -> l.substring(prefix.length())).findFirst()
                .orElseThrow(() -> new AssertionError("child JVM " + main.getSimpleName() + " printed no '" + marker + "' line:\n" + output));
    }

    /**
     * The kernel-determinism check shared by the kernel tests: {@code fingerprint} (a hash of a kernel's outputs) is
     * the same when repeated, from two callers at once (one gets Parallel's pool, the other runs inline), and in child
     * JVMs at 1 and 3 threads, where {@code main} prints "fingerprint " and the hash.
     */
    public static void assertSameBitsEverywhere(Class<?> main, Supplier<String> fingerprint) throws Exception {
        String serial = fingerprint.get();
        assertSame(serial, fingerprint.get(), "repeat");
        var a = CompletableFuture.supplyAsync(fingerprint);
        var b = CompletableFuture.supplyAsync(fingerprint);
        assertSame(serial, a.get(), "concurrent caller 1");
        assertSame(serial, b.get(), "concurrent caller 2");
        for (int threads : new int[] {1, 3})
            assertSame(serial, run(main, Map.of(), "fingerprint", "-Dddpm4j.threads=" + threads), "-Dddpm4j.threads=" + threads);
    }

    private static void assertSame(String expected, String actual, String what) {
        if (!expected.equals(actual)) throw new AssertionError(what + ": fingerprint " + actual + ", expected " + expected);
    }
}
