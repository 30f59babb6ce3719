// SPDX-License-Identifier: Apache-2.0
// Tests for Png: byte mapping, grid layout read back through ImageIO, single files, atomic writes.
package ddpm4j.diffusion.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PngTest {
    @TempDir
    Path dir;

    @Test
    void mapsValuesToBytes() {
        assertEquals(0, Png.toByte(-1f));
        assertEquals(0, Png.toByte(-7f));
        assertEquals(0, Png.toByte(Float.NaN));
        assertEquals(128, Png.toByte(0f));
        assertEquals(255, Png.toByte(1f));
        assertEquals(255, Png.toByte(Float.POSITIVE_INFINITY));
        assertEquals(64, Png.toByte(-0.5f));
    }

    @Test
    void gridLayoutMatchesMakeGrid() throws Exception {
        // 3 gray 2x2 images, image i has value (i - 1) everywhere: bytes 0, 128, 255. nrow 2, padding 1 -> 7x7.
        float[] x = new float[3 * 4];
        for (int i = 0; i < 3; i++) {
            java.util.Arrays.fill(x, i * 4, i * 4 + 4, i - 1f);
        }
        Path f = dir.resolve("grid.png");
        Png.writeGrid(f, x, 3, 1, 2, 2, 2, 1);
        BufferedImage img = ImageIO.read(f.toFile());
        assertEquals(7, img.getWidth());
        assertEquals(7, img.getHeight());
        int[][] expect = {
            {0, 0, 0, 0, 0, 0, 0},
            {0, 0, 0, 0, 128, 128, 0},
            {0, 0, 0, 0, 128, 128, 0},
            {0, 0, 0, 0, 0, 0, 0},
            {0, 255, 255, 0, 0, 0, 0},
            {0, 255, 255, 0, 0, 0, 0},
            {0, 0, 0, 0, 0, 0, 0},
        };
        for (int y = 0; y < 7; y++) {
            for (int xx = 0; xx < 7; xx++) {
                assertEquals(expect[y][xx], img.getRaster().getSample(xx, y, 0), "pixel " + xx + "," + y);
            }
        }
        try (var s = Files.list(dir)) {
            assertEquals(List.of(f), s.toList());
        }
    }

    @Test
    void writesRgbImagesStripsAndEach() throws Exception {
        // One 1x2 RGB image: pixel 0 red, pixel 1 blue-ish.
        float[] rgb = {1f, -1f, -1f, -1f, -1f, 0f};
        Path one = dir.resolve("one.png");
        Png.writeImage(one, rgb, 3, 1, 2);
        BufferedImage img = ImageIO.read(one.toFile());
        assertEquals(0xFF0000, img.getRGB(0, 0) & 0xFFFFFF);
        assertEquals(0x000080, img.getRGB(1, 0) & 0xFFFFFF);
        float[] two = new float[2 * 3 * 2];
        Png.writeStrip(dir.resolve("strip.png"), two, 2, 3, 1, 2, 2);
        BufferedImage strip = ImageIO.read(dir.resolve("strip.png").toFile());
        assertEquals(2 * (2 + 2) + 2, strip.getWidth());
        assertEquals(1 + 4, strip.getHeight());
        float[] eleven = new float[11 * 4];
        List<Path> files = Png.writeEach(dir.resolve("each"), "sample_", eleven, 11, 1, 2, 2);
        assertEquals(dir.resolve("each/sample_00.png"), files.get(0));
        assertEquals(dir.resolve("each/sample_10.png"), files.get(10));
        assertEquals(2, ImageIO.read(files.get(10).toFile()).getWidth());
        assertThrows(IllegalArgumentException.class, () -> Png.grid(new float[8], 1, 2, 2, 2, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> Png.grid(new float[4], 1, 1, 2, 2, 0, 0));
    }
}
