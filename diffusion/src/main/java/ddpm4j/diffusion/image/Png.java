// SPDX-License-Identifier: Apache-2.0
// Writes (N, C, H, W) float images in [-1, 1] as PNG grids, strips and single files, atomically (AtomicFiles).
// Pairs with PngTest.
package ddpm4j.diffusion.image;

import ddpm4j.core.io.AtomicFiles;
import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * PNG output for samples. Values are clamped to [-1, 1] and mapped to bytes by {@code round((v + 1) * 127.5)};
 * NaN becomes 0 (black). C = 1 writes a grayscale PNG, C = 3 an RGB PNG. Grids follow torchvision's
 * {@code make_grid}: {@code nrow} images per row, {@code padding} pixels between and around images, padding black.
 */
public final class Png {
    private Png() {
    }

    /** Maps a value in [-1, 1] to a byte value 0..255 (clamped; NaN gives 0). */
    public static int toByte(float v) {
        if (!(v > -1f)) {
            return 0;
        }
        if (v >= 1f) {
            return 255;
        }
        return Math.round((v + 1f) * 127.5f);
    }

    /**
     * Lays out images as a grid.
     *
     * @param x (N, C, H, W) values in [-1, 1]
     * @param nrow images per row (as torchvision's make_grid), at least 1
     * @param padding pixels between and around images, at least 0
     */
    public static BufferedImage grid(float[] x, int n, int c, int h, int w, int nrow, int padding) {
        if (n <= 0 || h <= 0 || w <= 0 || (c != 1 && c != 3) || (long) n * c * h * w != x.length) {
            throw new IllegalArgumentException("grid needs (N, C, H, W) with N >= 1 and C in {1, 3} matching "
                    + x.length + " values, got (" + n + ", " + c + ", " + h + ", " + w + ")");
        }
        if (nrow < 1 || padding < 0) {
            throw new IllegalArgumentException("nrow must be >= 1 and padding >= 0, got " + nrow + ", " + padding);
        }
        int cols = Math.min(nrow, n);
        int rows = (n + nrow - 1) / nrow;
        long width = (long) cols * (w + padding) + padding;
        long height = (long) rows * (h + padding) + padding;
        if (width * height > Integer.MAX_VALUE / 4) {
            throw new IllegalArgumentException("grid of " + width + "x" + height + " pixels is too large");
        }
        var img = new BufferedImage((int) width, (int) height,
                c == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_3BYTE_BGR);
        WritableRaster r = img.getRaster();
        int plane = h * w;
        for (int i = 0; i < n; i++) {
            int ox = padding + (i % nrow) * (w + padding);
            int oy = padding + (i / nrow) * (h + padding);
            for (int y = 0; y < h; y++) {
                for (int xx = 0; xx < w; xx++) {
                    for (int ch = 0; ch < c; ch++) {
                        r.setSample(ox + xx, oy + y, ch, toByte(x[(i * c + ch) * plane + y * w + xx]));
                    }
                }
            }
        }
        return img;
    }

    /** Writes a grid PNG atomically; see {@link #grid}. */
    public static void writeGrid(Path file, float[] x, int n, int c, int h, int w, int nrow, int padding)
            throws IOException {
        write(file, grid(x, n, c, h, w, nrow, padding));
    }

    /** Writes N images side by side in one row (a strip, as in the paper's Figure 6), {@code padding} apart. */
    public static void writeStrip(Path file, float[] x, int n, int c, int h, int w, int padding) throws IOException {
        write(file, grid(x, n, c, h, w, n, padding));
    }

    /** Writes one (C, H, W) image as a PNG of exactly H x W pixels. */
    public static void writeImage(Path file, float[] x, int c, int h, int w) throws IOException {
        write(file, grid(x, 1, c, h, w, 1, 0));
    }

    /**
     * Writes each of N images to {@code dir/<prefix><index>.png} (index zero-padded to the width of N - 1).
     *
     * @return the files written, in order
     */
    public static List<Path> writeEach(Path dir, String prefix, float[] x, int n, int c, int h, int w)
            throws IOException {
        if ((long) n * c * h * w != x.length) {
            throw new IllegalArgumentException("(" + n + ", " + c + ", " + h + ", " + w + ") does not match "
                    + x.length + " values");
        }
        int digits = Math.max(1, String.valueOf(Math.max(0, n - 1)).length());
        int per = c * h * w;
        var out = new ArrayList<Path>(n);
        for (int i = 0; i < n; i++) {
            float[] one = new float[per];
            System.arraycopy(x, i * per, one, 0, per);
            Path f = dir.resolve(prefix + String.format("%0" + digits + "d", i) + ".png");
            writeImage(f, one, c, h, w);
            out.add(f);
        }
        return out;
    }

    /** Writes any image as PNG atomically (temporary file, fsync, rename), caching in memory rather than on disk. */
    public static void write(Path file, BufferedImage img) throws IOException {
        AtomicFiles.writeStream(file, out -> {
            try (var ios = new MemoryCacheImageOutputStream(out)) {
                if (!ImageIO.write(img, "png", ios)) {
                    throw new IOException(file + ": no PNG writer available in this JDK");
                }
            }
        });
    }
}
