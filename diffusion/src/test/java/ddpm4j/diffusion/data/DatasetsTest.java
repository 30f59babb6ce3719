// SPDX-License-Identifier: Apache-2.0
// Tests for Datasets (locate, load, MD5 verification against ../shared/data when present) and Tar (against GNU tar).
package ddpm4j.diffusion.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ddpm4j.core.io.FormatException;
import java.io.FileNotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetsTest {
    @TempDir
    Path dir;

    @Test
    void locateSaysWhatToRun() throws Exception {
        var e = assertThrows(FileNotFoundException.class, () -> Datasets.locate("mnist", dir));
        assertEquals("MNIST not found in " + dir + "; run `ddpm data fetch mnist --dir " + dir + "` or pass --data PATH"
                + " (a folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                + "t10k-labels-idx1-ubyte, each optionally .gz)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Datasets.locate("cifar", dir));
        Path m = dir.resolve("fashion-mnist");
        Files.createDirectories(m);
        for (String f : Datasets.FILES) {
            Files.write(m.resolve(f + (f.startsWith("train") ? ".gz" : "")), new byte[1]);
        }
        assertEquals(m, Datasets.locate("Fashion-MNIST", dir));
        assertEquals(m, Datasets.locate("fashion-mnist", m));
        assertFalse(Datasets.verified("fashion-mnist", m));
    }

    @Test
    void loadChecksImageAndLabelCounts() throws Exception {
        byte[] img = IdxTest.idx(0x08, new int[] {3, 2, 2}, new byte[12]);
        for (String f : Datasets.FILES) {
            boolean images = f.contains("images");
            byte[] labels = f.startsWith("t10k") ? new byte[] {4, 5} : new byte[] {1, 2, 3};
            Files.write(dir.resolve(f), images ? img : IdxTest.idx(0x08, new int[] {labels.length}, labels));
        }
        var train = Datasets.load("mnist", dir, true, 0);
        assertEquals(3, train.images().n());
        assertArrayEquals(new int[] {1, 2, 3}, train.labels());
        var e = assertThrows(FormatException.class, () -> Datasets.load("mnist", dir, false, 0));
        assertEquals(dir.resolve("t10k-labels-idx1-ubyte") + ": has 2 labels but " + dir.resolve("t10k-images-idx3-ubyte")
                + " has 3 images", e.getMessage());
    }

    @Test
    void sharedCopiesMatchTheChecksums() throws Exception {
        Path shared = IdxTest.SHARED;
        assumeTrue(Files.isDirectory(shared.resolve("mnist")), "../shared/data not present");
        assertTrue(Datasets.verified("mnist", shared.resolve("mnist")));
        assertTrue(Datasets.verified("fashion-mnist", shared.resolve("fashion-mnist")));
        var test = Datasets.load("fashion-mnist", shared, false, 5);
        assertArrayEquals(new long[] {5, 1, 28, 28}, test.images().shape());
        // Fashion-MNIST's first test items: ankle boot, pullover, trouser, trouser, shirt.
        assertArrayEquals(new int[] {9, 2, 1, 1, 6}, test.labels());
    }

    @Test
    void tarReaderMatchesGnuTar() throws Exception {
        Path src = dir.resolve("package/data");
        Files.createDirectories(src);
        byte[] big = new byte[1000];
        Arrays.fill(big, (byte) 7);
        Files.write(src.resolve("a.bin"), big);
        Files.write(src.resolve("empty"), new byte[0]);
        String longName = "n".repeat(120);
        Files.write(src.resolve(longName), new byte[] {1, 2, 3});
        Path tar = dir.resolve("t.tar");
        Process p;
        try {
            p = new ProcessBuilder("tar", "-cf", tar.toString(), "-C", dir.toString(), "package").inheritIO().start();
        } catch (java.io.IOException e) {
            assumeTrue(false, "no tar command");
            return;
        }
        assertEquals(0, p.waitFor());
        var seen = new ArrayList<String>();
        try (var in = Files.newInputStream(tar)) {
            Tar.forEach(in, "t.tar", (name, data) -> {
                seen.add(name + ":" + data.length);
                if (name.endsWith("a.bin")) {
                    assertArrayEquals(big, data);
                }
            });
        }
        seen.sort(null);
        assertEquals(List.of("package/data/a.bin:1000", "package/data/empty:0", "package/data/" + longName + ":3"),
                seen);
        byte[] t = Files.readAllBytes(tar);
        t[100] ^= 1;
        var e = assertThrows(FormatException.class,
                () -> Tar.forEach(new java.io.ByteArrayInputStream(t), "t.tar", (n, d) -> { }));
        assertTrue(e.getMessage().startsWith("t.tar: tar header checksum is"), e.getMessage());
    }
}
