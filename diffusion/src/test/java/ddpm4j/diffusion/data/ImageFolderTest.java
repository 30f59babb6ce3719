// SPDX-License-Identifier: Apache-2.0
// Tests for ImageFolder: decoding and resizing against PIL (make_images.py), skipping unreadable files, hostile headers.
package ddpm4j.diffusion.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.Json;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFolderTest {
    static final List<String> IMAGES = List.of("gray_7x11.png", "palette_10x12.png", "rgb_14x9.png", "rgba_20x20.png",
            "smooth_24x16.jpg");

    @TempDir
    Path dir;

    static byte[] resource(String name) throws Exception {
        try (InputStream in = ImageFolderTest.class.getResourceAsStream(name)) {
            return in.readAllBytes();
        }
    }

    @Test
    void matchesPilResize() throws Exception {
        @SuppressWarnings("unchecked")
        var expected = (Map<String, List<Long>>) Json.parse(resource("images_expected.json"), "expected");
        for (String name : IMAGES) {
            for (int c : new int[] {1, 3}) {
                float[] got = ImageFolder.decode(resource(name), name, 8, c);
                List<Long> exp = expected.get(name + "/" + c);
                assertEquals(exp.size(), got.length);
                // PIL rounds to bytes three times (luma, after its first pass, at the end): up to 1.5 levels in all.
                // JPEG decoders (PIL's libjpeg, the JDK's) differ by a few levels more.
                double tol = name.endsWith(".jpg") ? 3.0 : 1.5;
                for (int i = 0; i < got.length; i++) {
                    double level = (got[i] + 1.0) * 127.5;
                    int k = i;
                    assertTrue(Math.abs(level - exp.get(i)) <= tol,
                            () -> name + " c=" + c + " [" + k + "]: " + level + " vs PIL " + exp.get(k));
                }
            }
        }
    }

    @Test
    void loadsAFolderSkippingUnreadableFiles() throws Exception {
        for (String name : IMAGES) {
            Path sub = dir.resolve(name.startsWith("rgb") ? "sub" : ".");
            Files.createDirectories(sub);
            Files.write(sub.resolve(name), resource(name));
        }
        Files.write(dir.resolve("corrupt.png"), new byte[] {1, 2, 3, 4, 5});
        byte[] png = resource("rgb_14x9.png");
        Files.write(dir.resolve("truncated.PNG"), Arrays.copyOf(png, png.length / 2));
        Files.writeString(dir.resolve("notes.txt"), "ignored");
        var r = ImageFolder.load(dir, 8, 3, 0);
        assertEquals(5, r.images().n());
        assertArrayEquals(new long[] {5, 3, 8, 8}, r.images().shape());
        assertEquals(2, r.skipped().size(), r.skipped().toString());
        assertTrue(r.skipped().get(0).startsWith(dir.resolve("corrupt.png") + ": not a PNG or JPEG image"),
                r.skipped().toString());
        assertTrue(r.skipped().get(1).startsWith(dir.resolve("truncated.PNG") + ": "), r.skipped().toString());
        // Sorted by path: gray, palette, smooth jpg, then sub/rgb_14x9, sub/rgba_20x20.
        float[] gray = ImageFolder.decode(resource("gray_7x11.png"), "g", 8, 3);
        assertArrayEquals(gray, Arrays.copyOf(r.images().data(), 192));
        assertEquals(2, ImageFolder.load(dir, 8, 1, 2).images().n());
        Path empty = dir.resolve("empty");
        Files.createDirectories(empty);
        Files.write(empty.resolve("x.jpg"), new byte[10]);
        var e = assertThrows(FormatException.class, () -> ImageFolder.load(empty, 8, 1, 0));
        assertTrue(e.getMessage().startsWith(empty + ": no readable images (1 .png/.jpg/.jpeg files, 1 unreadable; "
                + "first: " + empty.resolve("x.jpg") + ": not a PNG or JPEG image"), e.getMessage());
    }

    @Test
    void subsamplesLargeImagesAndStaysClose() throws Exception {
        // A 1000x800 horizontal ramp: value round(x * 255 / 999). Size 8: subsampled by 25, then resized.
        var img = new java.awt.image.BufferedImage(1000, 800, java.awt.image.BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 800; y++) {
            for (int x = 0; x < 1000; x++) {
                img.getRaster().setSample(x, y, 0, Math.round(x * 255f / 999));
            }
        }
        var bytes = new ByteArrayOutputStream();
        javax.imageio.ImageIO.write(img, "png", bytes);
        float[] got = ImageFolder.decode(bytes.toByteArray(), "ramp.png", 8, 1);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                double centre = 100 + (x + 0.5) * 100;
                double expect = centre * 255 / 999;
                double level = (got[y * 8 + x] + 1) * 127.5;
                // Subsampling keeps every 25th pixel, shifting positions by up to 12 pixels (3 levels).
                assertEquals(expect, level, 4.0, "pixel " + x + "," + y);
            }
        }
    }

    /** A PNG with the given IHDR size and nothing else valid after it (an IEND chunk). */
    static byte[] pngHeader(int w, int h) {
        var out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        byte[] ihdr = ByteBuffer.allocate(13).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put(new byte[3]).array();
        chunk(out, "IHDR", ihdr);
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        var crc = new CRC32();
        crc.update(type.getBytes());
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(type.getBytes());
        out.writeBytes(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    @Test
    void rejectsHostileImagesBeforeDecoding() {
        var huge = assertThrows(FormatException.class, () -> ImageFolder.decode(pngHeader(100_000, 100_000), "h.png",
                8, 3));
        assertEquals("h.png: image is 100000x100000 pixels, expected between 1 and 67108864 pixels",
                huge.getMessage());
        byte[] lying = pngHeader(4, 4);
        ByteBuffer.wrap(lying).putInt(8, 0x7fffffff);
        var chunk = assertThrows(FormatException.class, () -> ImageFolder.decode(lying, "c.png", 8, 3));
        assertEquals("c.png: PNG chunk at byte 8 claims 2147483647 bytes, past the end of the " + lying.length
                + "-byte file", chunk.getMessage());
        var noData = assertThrows(FormatException.class, () -> ImageFolder.decode(pngHeader(4, 4), "n.png", 8, 3));
        assertTrue(noData.getMessage().startsWith("n.png: cannot decode the image"), noData.getMessage());
    }
}
