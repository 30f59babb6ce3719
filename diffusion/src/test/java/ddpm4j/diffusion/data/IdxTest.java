// SPDX-License-Identifier: Apache-2.0
// Tests for Idx: hand-made files raw and gzip, the real MNIST test labels when ../shared/data is present, and every
// malformed or truncated case.
package ddpm4j.diffusion.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ddpm4j.core.io.FormatException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxTest {
    static final Path SHARED = Path.of("..", "..", "shared", "data");

    @TempDir
    Path dir;

    /** An IDX file: magic, dims, then {@code data}. */
    static byte[] idx(int type, int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
        b.put((byte) 0).put((byte) 0).put((byte) type).put((byte) dims.length);
        for (int d : dims) {
            b.putInt(d);
        }
        return b.put(data).array();
    }

    static byte[] gzip(byte[] b) throws Exception {
        var out = new ByteArrayOutputStream();
        try (var gz = new GZIPOutputStream(out)) {
            gz.write(b);
        }
        return out.toByteArray();
    }

    static String reject(byte[] b) {
        var e = assertThrows(FormatException.class, () -> Idx.read(b, "x.idx"));
        assertEquals("x.idx", e.source());
        return e.problem();
    }

    @Test
    void readsImagesAndLabelsRawAndGzip() throws Exception {
        byte[] px = new byte[2 * 3 * 4];
        for (int i = 0; i < px.length; i++) {
            px[i] = (byte) (i * 11);
        }
        byte[] file = idx(0x08, new int[] {2, 3, 4}, px);
        for (byte[] b : new byte[][] {file, gzip(file)}) {
            Path f = dir.resolve("imgs" + b.length);
            Files.write(f, b);
            Images im = Idx.readImages(f, 0);
            assertArrayEquals(new long[] {2, 1, 3, 4}, im.shape());
            assertEquals(-1f, im.data()[0]);
            assertEquals(253 / 127.5f - 1f, im.data()[23]);
            assertEquals(1, Idx.readImages(f, 1).n());
        }
        Path lf = dir.resolve("labels.gz");
        Files.write(lf, gzip(idx(0x08, new int[] {5}, new byte[] {7, 2, 1, 0, (byte) 200})));
        assertArrayEquals(new int[] {7, 2, 1, 0, 200}, Idx.readLabels(lf, 0));
        assertArrayEquals(new int[] {7, 2}, Idx.readLabels(lf, 2));
        Idx.Array ints = Idx.read(idx(0x0C, new int[] {2}, ByteBuffer.allocate(8).putInt(-5).putInt(1 << 30).array()),
                "i");
        assertEquals(-5.0, ints.get(0));
        assertEquals(1 << 30, ints.get(1));
        Idx.Array dbl = Idx.read(idx(0x0E, new int[] {1, 1}, ByteBuffer.allocate(8).putDouble(0.25).array()), "d");
        assertEquals(0.25, dbl.get(0));
        var wrong = assertThrows(FormatException.class, () -> Idx.images(ints, "i", 0));
        assertEquals("i: expected ubyte images with dimensions (N, H, W), found INT [2]", wrong.getMessage());
        assertThrows(FormatException.class, () -> Idx.labels(Idx.read(file, "f"), "f", 0));
    }

    @Test
    void rejectsMalformedFiles() throws Exception {
        assertEquals("file is 3 bytes, too short for the 4-byte IDX magic", reject(new byte[] {0, 0, 8}));
        assertEquals("bad IDX magic 00 00 07 01, expected 00 00 <type 08|09|0b|0c|0d|0e> <1..16 dimensions>",
                reject(idx(0x07, new int[] {1}, new byte[1])));
        assertEquals("bad IDX magic 00 00 08 00, expected 00 00 <type 08|09|0b|0c|0d|0e> <1..16 dimensions>",
                reject(idx(0x08, new int[0], new byte[0])));
        assertEquals("truncated header: 3 dimensions need 12 bytes, found 4",
                reject(Arrays.copyOf(idx(0x08, new int[] {1, 1, 1}, new byte[1]), 8)));
        byte[] ok = idx(0x08, new int[] {2, 2}, new byte[4]);
        assertEquals("truncated: dimensions [2, 2] of UBYTE need 4 data bytes, the file has 3",
                reject(Arrays.copyOf(ok, ok.length - 1)));
        assertEquals("trailing bytes: dimensions [2, 2] of UBYTE need 4 data bytes, the file has 5",
                reject(Arrays.copyOf(ok, ok.length + 1)));
        assertEquals("truncated: dimensions [2, 2] of UBYTE need 4 data bytes, found 3",
                reject(gzip(Arrays.copyOf(ok, ok.length - 1))));
        assertEquals("trailing bytes after the 4 data bytes that dimensions [2, 2] of UBYTE need",
                reject(gzip(Arrays.copyOf(ok, ok.length + 1))));
        byte[] gz = gzip(ok);
        assertTrue(reject(Arrays.copyOf(gz, gz.length - 6)).startsWith("truncated gzip stream"));
        byte[] bad = gz.clone();
        bad[bad.length - 8] ^= 0x55;
        assertEquals("corrupt gzip data (Corrupt GZIP trailer)", reject(bad));
        assertEquals("dimension 1 is 4294967295, above the limit of 2^31 - 1",
                reject(idx(0x08, new int[] {1, -1}, new byte[0])));
        assertEquals("dimensions [65536, 65536] of UBYTE need more than 2147483639 bytes",
                reject(idx(0x08, new int[] {65536, 65536}, new byte[0])));
        // A gzip file claiming 2 GB of pixels but holding 10 bytes: an error, without allocating 2 GB first.
        assertEquals("truncated: dimensions [46000, 46000] of UBYTE need 2116000000 data bytes, found 10",
                reject(gzip(idx(0x08, new int[] {46000, 46000}, new byte[10]))));
    }

    @Test
    void readsTheRealMnistTestLabels() throws Exception {
        Path labels = SHARED.resolve("mnist/t10k-labels-idx1-ubyte.gz");
        assumeTrue(Files.exists(labels), "../shared/data not present");
        int[] l = Idx.readLabels(labels, 0);
        assertEquals(10_000, l.length);
        assertArrayEquals(new int[] {7, 2, 1, 0, 4, 1, 4, 9, 5, 9}, Arrays.copyOf(l, 10));
        int[] hist = new int[10];
        for (int x : l) {
            hist[x]++;
        }
        assertArrayEquals(new int[] {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, hist);
        Images im = Idx.readImages(SHARED.resolve("mnist/t10k-images-idx3-ubyte.gz"), 3);
        assertArrayEquals(new long[] {3, 1, 28, 28}, im.shape());
        assertEquals(-1f, im.data()[0]);
    }
}
