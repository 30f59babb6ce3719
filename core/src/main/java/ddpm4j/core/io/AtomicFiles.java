// SPDX-License-Identifier: Apache-2.0
// Atomic file replacement (temp file in the same directory, fsync, atomic rename, fsync of the directory), shared by
// safetensors, checkpoints, PNGs and JSON configs. Pairs with AtomicFilesTest.
package ddpm4j.core.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes files so that a reader (or a process killed at any moment) sees either the old complete file or the new
 * complete file, never a partial one.
 *
 * <p>Steps: 1. write to {@code .<name>.<random>.tmp} in the target's directory (same file system, so the rename is
 * atomic); 2. {@code force(true)} the data to disk; 3. rename over the target with {@code ATOMIC_MOVE}; 4. fsync the
 * directory so the rename itself survives a power loss. On failure the temporary file is deleted and the target is
 * left as it was. A crash between 1 and 3 can leave a stray {@code .tmp} file, never a damaged target.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Writes the content through a channel positioned at 0. */
    @FunctionalInterface
    public interface ChannelWriter {
        /** Writes the whole content; the channel is forced and closed by the caller. */
        void write(FileChannel channel) throws IOException;
    }

    /** Writes the content through a stream; closing it is allowed but not needed. */
    @FunctionalInterface
    public interface StreamWriter {
        /** Writes the whole content. */
        void write(OutputStream out) throws IOException;
    }

    /** Atomically replaces (or creates) {@code target} with {@code bytes}. */
    public static void write(Path target, byte[] bytes) throws IOException {
        writeChannel(target, ch -> {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        });
    }

    /** Atomically replaces (or creates) {@code target} with UTF-8 text. */
    public static void writeString(Path target, String text) throws IOException {
        write(target, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Atomically replaces (or creates) {@code target} with what {@code writer} writes to a buffered stream. */
    public static void writeStream(Path target, StreamWriter writer) throws IOException {
        writeChannel(target, ch -> {
            OutputStream raw = Channels.newOutputStream(ch);
            var out = new BufferedOutputStream(new OutputStream() {
                // Keeps the channel open when the writer closes its stream: the caller forces and closes it.
                @Override
                public void write(int b) throws IOException {
                    raw.write(b);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    raw.write(b, off, len);
                }
            }, 1 << 16);
            writer.write(out);
            out.flush();
        });
    }

    /** Atomically replaces (or creates) {@code target} with what {@code writer} writes to the channel. */
    public static void writeChannel(Path target, ChannelWriter writer) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir == null) {
            throw new IOException(target + ": cannot write a file without a parent directory");
        }
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + abs.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong())
                + ".tmp");
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                writer.write(ch);
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException(target + ": the file system does not support atomic rename", e);
            }
            done = true;
            syncDirectory(dir);
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** Forces a directory's entries to disk; a no-op where the platform cannot open directories (Windows). */
    static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // Some platforms cannot open or force a directory; the rename is still atomic there.
        }
    }
}
