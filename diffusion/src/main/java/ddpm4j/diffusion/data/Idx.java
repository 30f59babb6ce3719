// SPDX-License-Identifier: Apache-2.0
// Reader of IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed, checked before allocation.
// Pairs with IdxTest and DataFuzzTest.
package ddpm4j.diffusion.data;

import ddpm4j.core.io.FormatException;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * IDX: a 4-byte magic {@code 0x00 0x00 type ndims}, {@code ndims} big-endian 32-bit dimensions, then the data in
 * big-endian row-major order. Gzip compression is recognized by its magic bytes, not by the file name.
 *
 * <p>Checked, each failure a {@link FormatException} naming the file: the magic (zero bytes, a known type, 1 to
 * {@link #MAX_DIMS} dimensions), every dimension below 2^31, a data size below {@link #MAX_BYTES}, the data length
 * exactly as the dimensions say (a truncated file or trailing bytes are errors), and a gzip stream that is intact.
 * Nothing is allocated from a size the file claims before the file shows it has that much data.
 */
public final class Idx {
    /** Largest data section accepted (what a Java array holds). */
    public static final long MAX_BYTES = Integer.MAX_VALUE - 8;
    /** Most dimensions accepted. */
    public static final int MAX_DIMS = 16;

    /** IDX element types, by their magic byte. */
    public enum Type {
        UBYTE(0x08, 1), BYTE(0x09, 1), SHORT(0x0B, 2), INT(0x0C, 4), FLOAT(0x0D, 4), DOUBLE(0x0E, 8);

        final int code;
        /** Bytes per element. */
        public final int size;

        Type(int code, int size) {
            this.code = code;
            this.size = size;
        }

        static Type of(int code) {
            for (Type t : values()) {
                if (t.code == code) {
                    return t;
                }
            }
            return null;
        }
    }

    /**
     * An IDX array.
     *
     * @param data the elements as stored (big-endian)
     */
    public record Array(Type type, int[] dims, byte[] data) {
        /** Number of elements. */
        public long numel() {
            long n = 1;
            for (int d : dims) {
                n *= d;
            }
            return n;
        }

        /** Element {@code i} as a double, whatever the type. */
        public double get(int i) {
            ByteBuffer b = ByteBuffer.wrap(data);
            return switch (type) {
                case UBYTE -> data[i] & 0xFF;
                case BYTE -> data[i];
                case SHORT -> b.getShort(2 * i);
                case INT -> b.getInt(4 * i);
                case FLOAT -> b.getFloat(4 * i);
                case DOUBLE -> b.getDouble(8 * i);
            };
        }
    }

    private Idx() {
    }

    /** Reads an IDX file, raw or gzip-compressed. */
    public static Array read(Path file) throws IOException {
        String source = file.toString();
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, Files.size(file), source);
        }
    }

    /** Reads IDX data held in memory (raw or gzip-compressed); {@code source} names it in errors. */
    public static Array read(byte[] bytes, String source) throws FormatException {
        try {
            return read(new ByteArrayInputStream(bytes), bytes.length, source);
        } catch (FormatException e) {
            throw e;
        } catch (IOException e) {
            throw new FormatException(source, "cannot read: " + e.getMessage(), e);
        }
    }

    private static Array read(InputStream raw, long fileSize, String source) throws IOException {
        var in = new java.io.BufferedInputStream(raw, 1 << 16);
        in.mark(2);
        int b0 = in.read();
        int b1 = in.read();
        in.reset();
        boolean gz = b0 == 0x1f && b1 == 0x8b;
        try {
            InputStream data = gz ? new GZIPInputStream(in, 1 << 16) : in;
            return parse(data, gz ? -1 : fileSize, source, gz);
        } catch (ZipException e) {
            throw new FormatException(source, "corrupt gzip data (" + e.getMessage() + ")");
        } catch (EOFException e) {
            throw new FormatException(source, "truncated gzip stream (" + e.getMessage() + ")");
        }
    }

    private static Array parse(InputStream in, long size, String source, boolean gz) throws IOException {
        byte[] magic = in.readNBytes(4);
        if (magic.length < 4) {
            throw new FormatException(source, "file is " + magic.length + (gz ? " bytes after gunzip" : " bytes")
                    + ", too short for the 4-byte IDX magic");
        }
        Type type = Type.of(magic[2] & 0xFF);
        int ndims = magic[3] & 0xFF;
        if (magic[0] != 0 || magic[1] != 0 || type == null || ndims < 1 || ndims > MAX_DIMS) {
            throw new FormatException(source, String.format("bad IDX magic %02x %02x %02x %02x, expected 00 00 "
                    + "<type 08|09|0b|0c|0d|0e> <1..%d dimensions>", magic[0], magic[1], magic[2], magic[3], MAX_DIMS));
        }
        byte[] dimBytes = in.readNBytes(4 * ndims);
        if (dimBytes.length < 4 * ndims) {
            throw new FormatException(source, "truncated header: " + ndims + " dimensions need " + 4 * ndims
                    + " bytes, found " + dimBytes.length);
        }
        ByteBuffer db = ByteBuffer.wrap(dimBytes);
        int[] dims = new int[ndims];
        long bytes = type.size;
        for (int i = 0; i < ndims; i++) {
            int d = db.getInt();
            if (d < 0) {
                throw new FormatException(source, "dimension " + i + " is " + Integer.toUnsignedString(d)
                        + ", above the limit of 2^31 - 1");
            }
            dims[i] = d;
            bytes = bytes > MAX_BYTES ? bytes : bytes * d;
        }
        if (bytes > MAX_BYTES) {
            throw new FormatException(source, "dimensions " + Arrays.toString(dims) + " of " + type + " need more than "
                    + MAX_BYTES + " bytes");
        }
        long header = 4 + 4L * ndims;
        if (size >= 0 && size - header != bytes) {
            throw new FormatException(source, (size - header < bytes ? "truncated: " : "trailing bytes: ")
                    + "dimensions " + Arrays.toString(dims) + " of " + type + " need " + bytes
                    + " data bytes, the file has " + (size - header));
        }
        byte[] data = readExactly(in, (int) bytes, source, dims, type);
        if (in.read() >= 0) {
            throw new FormatException(source, "trailing bytes after the " + bytes + " data bytes that dimensions "
                    + Arrays.toString(dims) + " of " + type + " need");
        }
        return new Array(type, dims, data);
    }

    /** Reads {@code n} bytes, growing the buffer as data arrives so a false size cannot force a huge allocation. */
    private static byte[] readExactly(InputStream in, int n, String source, int[] dims, Type type) throws IOException {
        byte[] buf = new byte[Math.min(n, 1 << 20)];
        int have = 0;
        while (have < n) {
            if (have == buf.length) {
                buf = Arrays.copyOf(buf, (int) Math.min(n, 2L * buf.length));
            }
            int r = in.read(buf, have, buf.length - have);
            if (r < 0) {
                throw new FormatException(source, "truncated: dimensions " + Arrays.toString(dims) + " of " + type
                        + " need " + n + " data bytes, found " + have);
            }
            have += r;
        }
        return buf;
    }

    /** Reads an image file (ubyte, dims (N, H, W)) as (N, 1, H, W) floats in [-1, 1], keeping at most {@code limit}
     * images ({@code limit <= 0}: all). */
    public static Images readImages(Path file, int limit) throws IOException {
        return images(read(file), file.toString(), limit);
    }

    /** Converts a parsed IDX array to images, as {@link #readImages(Path, int)} does. */
    public static Images images(Array a, String source, int limit) throws FormatException {
        if (a.type() != Type.UBYTE || a.dims().length != 3 || a.dims()[1] == 0 || a.dims()[2] == 0) {
            throw new FormatException(source, "expected ubyte images with dimensions (N, H, W), found " + a.type()
                    + " " + Arrays.toString(a.dims()));
        }
        int n = limit > 0 ? Math.min(limit, a.dims()[0]) : a.dims()[0];
        int h = a.dims()[1];
        int w = a.dims()[2];
        float[] out = new float[n * h * w];
        byte[] d = a.data();
        for (int i = 0; i < out.length; i++) {
            out[i] = (d[i] & 0xFF) / 127.5f - 1f;
        }
        return new Images(out, n, 1, h, w);
    }

    /** Reads a label file (ubyte, dims (N)), keeping at most {@code limit} labels ({@code limit <= 0}: all). */
    public static int[] readLabels(Path file, int limit) throws IOException {
        return labels(read(file), file.toString(), limit);
    }

    /** Converts a parsed IDX array to labels, as {@link #readLabels(Path, int)} does. */
    public static int[] labels(Array a, String source, int limit) throws FormatException {
        if (a.type() != Type.UBYTE || a.dims().length != 1) {
            throw new FormatException(source, "expected ubyte labels with dimensions (N), found " + a.type() + " "
                    + Arrays.toString(a.dims()));
        }
        int n = limit > 0 ? Math.min(limit, a.dims()[0]) : a.dims()[0];
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = a.data()[i] & 0xFF;
        }
        return out;
    }
}
