// SPDX-License-Identifier: Apache-2.0
// Tests for AtomicFiles: replacement, failure leaves the old file and no temporary file.
package ddpm4j.core.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path dir;

    private List<Path> files() throws IOException {
        try (var s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    @Test
    void createsAndReplaces() throws Exception {
        Path f = dir.resolve("a.json");
        AtomicFiles.writeString(f, "one");
        assertEquals("one", Files.readString(f));
        AtomicFiles.writeStream(f, out -> {
            out.write("two".getBytes());
            out.close();
        });
        assertEquals("two", Files.readString(f));
        AtomicFiles.write(dir.resolve("new/deeper/b.bin"), new byte[] {1, 2, 3});
        assertEquals(3, Files.size(dir.resolve("new/deeper/b.bin")));
        assertEquals(List.of(f, dir.resolve("new")), files());
    }

    @Test
    void failureKeepsTheOldFileAndLeavesNoTemporary() throws Exception {
        Path f = dir.resolve("ckpt.safetensors");
        AtomicFiles.writeString(f, "old");
        var e = assertThrows(IOException.class, () -> AtomicFiles.writeStream(f, out -> {
            out.write(new byte[100_000]);
            throw new IOException("disk full (simulated)");
        }));
        assertEquals("disk full (simulated)", e.getMessage());
        assertThrows(IllegalStateException.class, () -> AtomicFiles.writeChannel(f, ch -> {
            throw new IllegalStateException("bug");
        }));
        assertEquals("old", Files.readString(f));
        assertEquals(List.of(f), files());
    }
}
