// SPDX-License-Identifier: Apache-2.0
// Loads a folder of PNG/JPEG images as (N, C, H, W) floats in [-1, 1]: centre square crop, antialiased bilinear
// resize, grayscale or RGB; unreadable files are skipped and counted. Pairs with ImageFolderTest and DataFuzzTest.
package ddpm4j.diffusion.data;

import ddpm4j.core.io.FormatException;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Image folders for training. Each image is cropped to its centred square (so the result equals resizing the shorter
 * side to {@code size} and cropping the centre), resized to {@code size x size} with a triangle (bilinear) filter
 * widened when shrinking (antialiased, as PIL's BILINEAR), converted to grayscale (ITU-R 601 luma, as PIL's "L") or
 * RGB (alpha dropped), and scaled to [-1, 1].
 *
 * <p>Images whose shorter side exceeds {@code 4 * size} are decoded subsampled (see {@link #read}). Hostile files are
 * rejected before decoding: more than {@link #MAX_PIXELS} pixels, a PNG chunk longer than the
 * file, or a file larger than {@link #MAX_FILE_BYTES}. Decoder failures (including unchecked exceptions thrown by the
 * JDK's decoders) become a {@link FormatException} naming the file.
 */
public final class ImageFolder {
    /** Largest image accepted, in pixels (64 megapixels). */
    public static final long MAX_PIXELS = 1L << 26;
    /** Largest image file accepted, in bytes. */
    public static final long MAX_FILE_BYTES = 256L << 20;

    /**
     * A loaded folder.
     *
     * @param skipped one {@code "file: problem"} line per file that could not be read
     */
    public record Result(Images images, List<String> skipped) {
    }

    private ImageFolder() {
    }

    /**
     * Loads every {@code .png}, {@code .jpg} and {@code .jpeg} file under {@code dir} (recursively, sorted by path;
     * other files are ignored).
     *
     * @param size output height and width
     * @param channels 1 (grayscale) or 3 (RGB)
     * @param limit most images to load, {@code <= 0} for all
     * @throws FormatException if no image could be read (listing the first problems)
     */
    public static Result load(Path dir, int size, int channels, int limit) throws IOException {
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("channels must be 1 or 3, got " + channels);
        }
        if (size <= 0 || size > 4096) {
            throw new IllegalArgumentException("image size must be in [1, 4096], got " + size);
        }
        if (!Files.isDirectory(dir)) {
            throw new java.io.FileNotFoundException(dir + ": not a directory of images");
        }
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(Files::isRegularFile).filter(ImageFolder::isImageName).sorted().toList();
        }
        int per = channels * size * size;
        long most = Math.min(limit > 0 ? limit : Long.MAX_VALUE, (Integer.MAX_VALUE - 8) / per);
        // Grown as images load, so a huge folder of unreadable files costs no memory.
        float[] data = new float[(int) Math.min(most, Math.min(files.size(), 64)) * per];
        int n = 0;
        var skipped = new ArrayList<String>();
        for (Path f : files) {
            if (n >= most) {
                break;
            }
            try {
                if (Files.size(f) > MAX_FILE_BYTES) {
                    throw new FormatException(f.toString(), "file is " + Files.size(f) + " bytes, above the limit of "
                            + MAX_FILE_BYTES);
                }
                float[] img = decode(Files.readAllBytes(f), f.toString(), size, channels);
                if ((n + 1L) * per > data.length) {
                    data = Arrays.copyOf(data, (int) Math.min(most * per, Math.max(2L * data.length, (n + 1L) * per)));
                }
                System.arraycopy(img, 0, data, n * per, per);
                n++;
            } catch (FormatException e) {
                skipped.add(e.getMessage());
            } catch (IOException e) {
                skipped.add(f + ": cannot read (" + e.getMessage() + ")");
            }
        }
        if (n == 0) {
            throw new FormatException(dir.toString(), "no readable images (" + files.size() + " .png/.jpg/.jpeg files, "
                    + skipped.size() + " unreadable" + (skipped.isEmpty() ? "" : "; first: " + skipped.getFirst())
                    + ")");
        }
        return new Result(new Images(Arrays.copyOf(data, n * per), n, channels, size, size), List.copyOf(skipped));
    }

    static boolean isImageName(Path p) {
        String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".png") || name.endsWith(".jpg") || name.endsWith(".jpeg");
    }

    /**
     * Decodes one image file's bytes to (C, size, size) floats in [-1, 1].
     *
     * @throws FormatException if the bytes are not a readable image within the limits
     */
    public static float[] decode(byte[] file, String source, int size, int channels) throws FormatException {
        BufferedImage img = read(file, source, size);
        int w = img.getWidth();
        int h = img.getHeight();
        float[][] planes = planes(img, channels);
        // Centre square of side s, in source pixels (fractional offset when w - s is odd).
        int s = Math.min(w, h);
        double x0 = (w - s) / 2.0;
        double y0 = (h - s) / 2.0;
        float[] out = new float[channels * size * size];
        Filter fx = Filter.of(w, x0, s, size);
        Filter fy = Filter.of(h, y0, s, size);
        float[] tmp = new float[h * size];
        for (int c = 0; c < channels; c++) {
            float[] p = planes[c];
            // 1. resize rows: (h, w) -> (h, size)
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < size; x++) {
                    tmp[y * size + x] = (float) fx.apply(p, y * w, 1, x);
                }
            }
            // 2. resize columns: (h, size) -> (size, size), then scale to [-1, 1]
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    double v = fy.apply(tmp, x, size, y);
                    out[(c * size + y) * size + x] = (float) (v / 127.5 - 1.0);
                }
            }
        }
        return out;
    }

    /**
     * Decodes with ImageIO after checking the size limits; every failure becomes a FormatException. An image whose
     * shorter side exceeds 4 * {@code size} is decoded with source subsampling (every k-th pixel), which bounds the
     * memory a large photo needs; the antialiased resize then works on at least 4 samples per output pixel.
     */
    static BufferedImage read(byte[] file, String source, int size) throws FormatException {
        if (file.length > MAX_FILE_BYTES) {
            throw new FormatException(source, "file is " + file.length + " bytes, above the limit of "
                    + MAX_FILE_BYTES);
        }
        checkPngChunks(file, source);
        ImageReader reader = null;
        try (ImageInputStream iis = ImageIO.createImageInputStream(new ByteArrayInputStream(file))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(iis);
            if (iis == null || !readers.hasNext()) {
                throw new FormatException(source, "not a PNG or JPEG image (no decoder recognizes it)");
            }
            reader = readers.next();
            reader.setInput(iis, true, true);
            int w = reader.getWidth(0);
            int h = reader.getHeight(0);
            if (w <= 0 || h <= 0 || (long) w * h > MAX_PIXELS) {
                throw new FormatException(source, "image is " + w + "x" + h + " pixels, expected between 1 and "
                        + MAX_PIXELS + " pixels");
            }
            ImageReadParam param = reader.getDefaultReadParam();
            int step = Math.max(1, Math.min(w, h) / (4 * size));
            if (step > 1) {
                param.setSourceSubsampling(step, step, 0, 0);
            }
            BufferedImage img = reader.read(0, param);
            if (img == null || img.getWidth() != (w + step - 1) / step || img.getHeight() != (h + step - 1) / step) {
                throw new FormatException(source, "the decoder returned no image or one of another size");
            }
            return img;
        } catch (FormatException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            // The JDK's decoders throw unchecked exceptions on some corrupt inputs; they are rejections all the same.
            throw new FormatException(source, "cannot decode the image (" + e.getClass().getSimpleName() + ": "
                    + e.getMessage() + ")", e);
        } finally {
            if (reader != null) {
                reader.dispose();
            }
        }
    }

    /** Rejects a PNG whose chunk lengths run past the end of the file (the JDK reader would trust them). */
    static void checkPngChunks(byte[] f, String source) throws FormatException {
        byte[] sig = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        if (f.length < 8 || !Arrays.equals(f, 0, 8, sig, 0, 8)) {
            return;
        }
        ByteBuffer b = ByteBuffer.wrap(f);
        long pos = 8;
        while (pos + 8 <= f.length) {
            long len = Integer.toUnsignedLong(b.getInt((int) pos));
            if (pos + 12 + len > f.length) {
                throw new FormatException(source, "PNG chunk at byte " + pos + " claims " + len
                        + " bytes, past the end of the " + f.length + "-byte file");
            }
            pos += 12 + len;
        }
    }

    /** The image as float planes in [0, 255]: 1 (luma) or 3 (R, G, B). */
    static float[][] planes(BufferedImage img, int channels) {
        int w = img.getWidth();
        int h = img.getHeight();
        float[][] out = new float[channels][w * h];
        Raster r = img.getRaster();
        boolean gray = img.getColorModel() instanceof ComponentColorModel
                && img.getColorModel().getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_GRAY;
        if (gray) {
            // Read gray samples directly: getRGB would pass them through a linear-to-sRGB conversion.
            double scale = 255.0 / ((1L << r.getSampleModel().getSampleSize(0)) - 1);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    float v = (float) (r.getSample(x, y, 0) * scale);
                    for (int c = 0; c < channels; c++) {
                        out[c][y * w + x] = v;
                    }
                }
            }
            return out;
        }
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            img.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0; x < w; x++) {
                int p = row[x];
                float rr = (p >> 16) & 0xFF;
                float gg = (p >> 8) & 0xFF;
                float bb = p & 0xFF;
                if (channels == 1) {
                    out[0][y * w + x] = 0.299f * rr + 0.587f * gg + 0.114f * bb;
                } else {
                    out[0][y * w + x] = rr;
                    out[1][y * w + x] = gg;
                    out[2][y * w + x] = bb;
                }
            }
        }
        return out;
    }

    /** Precomputed 1-D resampling weights: for each output index, a first source index and normalized weights. */
    record Filter(int[] first, double[][] weights) {
        /** Maps [offset, offset + span) of a line of {@code len} source pixels onto {@code out} pixels. */
        static Filter of(int len, double offset, int span, int out) {
            double scale = (double) span / out;
            double support = Math.max(1.0, scale);
            int[] first = new int[out];
            double[][] weights = new double[out][];
            for (int i = 0; i < out; i++) {
                double centre = offset + (i + 0.5) * scale;
                int lo = Math.max(0, (int) Math.floor(centre - support));
                int hi = Math.min(len - 1, (int) Math.ceil(centre + support));
                double[] wt = new double[hi - lo + 1];
                double sum = 0;
                for (int j = lo; j <= hi; j++) {
                    double t = Math.abs(j + 0.5 - centre) / support;
                    wt[j - lo] = Math.max(0, 1 - t);
                    sum += wt[j - lo];
                }
                if (sum == 0) {
                    int nearest = Math.min(len - 1, Math.max(0, (int) centre));
                    first[i] = nearest;
                    weights[i] = new double[] {1};
                    continue;
                }
                for (int k = 0; k < wt.length; k++) {
                    wt[k] /= sum;
                }
                first[i] = lo;
                weights[i] = wt;
            }
            return new Filter(first, weights);
        }

        /** Output sample {@code i} from {@code src[base + stride * j]}. */
        double apply(float[] src, int base, int stride, int i) {
            double[] wt = weights[i];
            int j0 = first[i];
            double acc = 0;
            for (int k = 0; k < wt.length; k++) {
                acc += wt[k] * src[base + stride * (j0 + k)];
            }
            return acc;
        }
    }
}
