// SPDX-License-Identifier: Apache-2.0
// Test helper: starts `ddpm` (cli.Main) in a child JVM with this JVM's java, classpath and module flags and a fixed
// thread count, and writes a tiny MNIST-format IDX data set. Used by KilledRunTest.
package ddpm4j.diffusion;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

/** A running child {@code ddpm} process whose output is collected line by line. */
final class ChildJvm {
    final Process process;
    final List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
    /** Progress lines ("... loss ...") seen so far. */
    final AtomicInteger progressLines = new AtomicInteger();
    private final Thread reader;

    private ChildJvm(Process p) {
        this.process = p;
        reader = Thread.ofPlatform().daemon().start(() -> {
            try (var r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    lines.add(l);
                    if (l.contains(" loss ")) progressLines.incrementAndGet();
                }
            } catch (IOException ignored) {
                // the process was killed
            }
        });
    }

    /** The java launcher, classpath and flags of this JVM, with {@code -Dddpm4j.threads=threads}. */
    static List<String> command(int threads, List<String> extraJvm, String mainClass, List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
            if (a.startsWith("--add-modules") || a.startsWith("--enable-native-access") || a.startsWith("-XX:+UseParallelGC"))
                cmd.add(a);
        cmd.add("-Dddpm4j.threads=" + threads);
        cmd.add("-Djava.awt.headless=true");
        cmd.add("-Xss4m");
        cmd.addAll(extraJvm);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(args);
        return cmd;
    }

    static ChildJvm start(List<String> cmd, Path cwd) throws IOException {
        var pb = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true);
        pb.environment().remove("DDPM4J_DEBUG");
        return new ChildJvm(pb.start());
    }

    /** Waits for the exit code (the output is fully read when this returns). */
    int waitFor() throws InterruptedException {
        int rc = process.waitFor();
        reader.join(10_000);
        return rc;
    }

    String output() {
        synchronized (lines) {
            return String.join("\n", lines);
        }
    }

    /** Writes the four MNIST IDX files ({@code n} random u8 images of {@code side}x{@code side}) into {@code dir}. */
    static void writeTinyMnist(Path dir, int n, int side, long seed) throws IOException {
        Files.createDirectories(dir);
        var rnd = new Random(seed);
        byte[] pix = new byte[n * side * side];
        rnd.nextBytes(pix);
        byte[] lbl = new byte[n];
        for (int i = 0; i < n; i++) lbl[i] = (byte) rnd.nextInt(10);
        for (String split : List.of("train", "t10k")) {
            var img = java.nio.ByteBuffer.allocate(16 + pix.length);
            img.putInt(0x803).putInt(n).putInt(side).putInt(side).put(pix);
            Files.write(dir.resolve(split + "-images-idx3-ubyte"), img.array());
            var lab = java.nio.ByteBuffer.allocate(8 + n);
            lab.putInt(0x801).putInt(n).put(lbl);
            Files.write(dir.resolve(split + "-labels-idx1-ubyte"), lab.array());
        }
    }
}
