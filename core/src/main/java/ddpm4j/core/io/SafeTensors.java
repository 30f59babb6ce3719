// SPDX-License-Identifier: Apache-2.0
// Memory-mapped safetensors reader that validates the whole header before trusting it; the writer is
// SafeTensorsWriter (atomic, via AtomicFiles). Pairs with SafeTensorsTest and SafeTensorsFuzzTest.
package ddpm4j.core.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * A safetensors file: an 8-byte little-endian header length {@code n}, {@code n} bytes of JSON, then the data section.
 *
 * <p>Everything is checked before any tensor is readable, and a violation is a {@link FormatException} naming the file,
 * the key and the expected and found values: the header length lies within the file and below
 * {@link #MAX_HEADER_BYTES}; the header is valid JSON and an object; {@code __metadata__}, if present, maps strings to
 * strings; every other entry has exactly {@code dtype} (one of {@link Dtype}), {@code shape} (non-negative integers
 * whose product, times the dtype size, does not overflow) and {@code data_offsets} {@code [begin, end]} with
 * {@code end - begin} equal to that byte size; sorted by offset the tensors tile the data section exactly, from 0 to
 * its end, with no overlap and no gap (as the reference implementation requires).
 *
 * <p>The file is memory-mapped into a shared {@link Arena} that this object owns: {@link #close()} unmaps it, after
 * which every segment handed out is invalid. Instances are safe for concurrent reads.
 */
public final class SafeTensors implements AutoCloseable {
    /** Largest header accepted, in bytes (the reference implementation uses the same 100 MB cap). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    /** Name of the optional string-to-string metadata entry of the header. */
    public static final String METADATA_KEY = "__metadata__";

    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Element types of the safetensors format, with their size in bytes. */
    public enum Dtype {
        BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1), I16(2), U16(2), F16(2), BF16(2), I32(4), U32(4), F32(4),
        I64(8), U64(8), F64(8);

        /** Bytes per element. */
        public final int size;

        Dtype(int size) {
            this.size = size;
        }

        /** True for F16, BF16, F32 and F64, the types {@link #readF32} upcasts. */
        public boolean isFloat() {
            return this == F16 || this == BF16 || this == F32 || this == F64;
        }
    }

    /**
     * One tensor's header entry.
     *
     * @param begin offset of its first byte within the data section
     * @param end offset one past its last byte within the data section
     */
    public record Info(String name, Dtype dtype, long[] shape, long begin, long end) {
        /** Number of elements (the product of the shape; 1 for a scalar). */
        public long numel() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        /** The shape as {@code [a, b, c]}. */
        public String shapeString() {
            return Arrays.toString(shape);
        }
    }

    private final String source;
    private final Arena arena;
    private final MemorySegment data;
    private final SequencedMap<String, Info> infos;
    private final Map<String, String> metadata;

    private SafeTensors(String source, Arena arena, MemorySegment data, SequencedMap<String, Info> infos,
                        Map<String, String> metadata) {
        this.source = source;
        this.arena = arena;
        this.data = data;
        this.infos = infos;
        this.metadata = metadata;
    }

    /** Memory-maps and validates a safetensors file. Close the result to unmap it. */
    public static SafeTensors open(Path file) throws IOException {
        String source = file.toString();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new FormatException(source, "file is " + size + " bytes, too short for the 8-byte header length");
            }
            Arena arena = Arena.ofShared();
            try {
                MemorySegment whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                return parse(whole, source, arena);
            } catch (IOException | RuntimeException | Error e) {
                arena.close();
                throw e;
            }
        }
    }

    /**
     * Validates a whole safetensors file already in memory; the result reads from {@code file} without copying and
     * does not own it ({@link #close()} then does nothing).
     */
    public static SafeTensors parse(MemorySegment file, String source) throws FormatException {
        return parse(file, source, null);
    }

    private static SafeTensors parse(MemorySegment file, String source, Arena owner) throws FormatException {
        long size = file.byteSize();
        if (size < 8) {
            throw new FormatException(source, "file is " + size + " bytes, too short for the 8-byte header length");
        }
        long n = file.get(I64, 0);
        if (n < 0 || n > size - 8) {
            throw new FormatException(source, "header length " + Long.toUnsignedString(n) + " exceeds the "
                    + (size - 8) + " bytes after the length field (file is " + size + " bytes)");
        }
        if (n > MAX_HEADER_BYTES) {
            throw new FormatException(source, "header length " + n + " is above the limit of " + MAX_HEADER_BYTES);
        }
        if (n == 0 || file.get(ValueLayout.JAVA_BYTE, 8) != '{') {
            throw new FormatException(source, "header does not start with '{' (not a safetensors file?)");
        }
        byte[] header = file.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
        Object json;
        try {
            json = Json.parse(java.nio.ByteBuffer.wrap(header), source, MAX_HEADER_BYTES);
        } catch (FormatException e) {
            throw new FormatException(source, "header JSON " + e.problem());
        }
        if (!(json instanceof Map<?, ?> top)) {
            throw new FormatException(source, "header is not a JSON object");
        }
        long dataSize = size - 8 - n;
        Map<String, String> metadata = Map.of();
        var list = new ArrayList<Info>();
        for (var e : top.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals(METADATA_KEY)) {
                metadata = metadata(e.getValue(), source);
            } else {
                list.add(entry(name, e.getValue(), dataSize, source));
            }
        }
        // The tensors, sorted by offset, must tile [0, dataSize) exactly.
        list.sort(Comparator.comparingLong(Info::begin).thenComparingLong(Info::end));
        long expected = 0;
        Info prev = null;
        for (Info i : list) {
            if (i.begin() < expected) {
                throw new FormatException(source, "tensor '" + i.name() + "' data_offsets [" + i.begin() + ", "
                        + i.end() + "] overlap tensor '" + prev.name() + "' [" + prev.begin() + ", " + prev.end() + "]");
            }
            if (i.begin() > expected) {
                throw new FormatException(source, "gap of " + (i.begin() - expected) + " unused bytes before tensor '"
                        + i.name() + "' (data_offsets begin at " + i.begin() + ", expected " + expected + ")");
            }
            expected = i.end();
            prev = i;
        }
        if (expected != dataSize) {
            throw new FormatException(source, "data section is " + dataSize + " bytes but the tensors cover "
                    + expected + " (file truncated or has trailing bytes)");
        }
        var infos = new LinkedHashMap<String, Info>();
        for (Info i : list) {
            infos.put(i.name(), i);
        }
        MemorySegment data = file.asSlice(8 + n, dataSize).asReadOnly();
        return new SafeTensors(source, owner, data, Collections.unmodifiableSequencedMap(infos), metadata);
    }

    private static Map<String, String> metadata(Object v, String source) throws FormatException {
        if (!(v instanceof Map<?, ?> m)) {
            throw new FormatException(source, "'" + METADATA_KEY + "' is " + kind(v) + ", expected an object of strings");
        }
        var out = new LinkedHashMap<String, String>();
        for (var e : m.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new FormatException(source, "'" + METADATA_KEY + "' key '" + e.getKey() + "' is "
                        + kind(e.getValue()) + ", expected a string");
            }
            out.put((String) e.getKey(), s);
        }
        return Collections.unmodifiableMap(out);
    }

    private static Info entry(String name, Object v, long dataSize, String source) throws FormatException {
        String where = "tensor '" + name + "'";
        if (!(v instanceof Map<?, ?> m)) {
            throw new FormatException(source, where + " is " + kind(v) + ", expected an object");
        }
        for (Object k : m.keySet()) {
            if (!k.equals("dtype") && !k.equals("shape") && !k.equals("data_offsets")) {
                throw new FormatException(source, where + " has unknown field '" + k
                        + "' (expected dtype, shape, data_offsets)");
            }
        }
        if (!(m.get("dtype") instanceof String ds)) {
            throw new FormatException(source, where + " dtype is " + kind(m.get("dtype")) + ", expected one of "
                    + Arrays.toString(Dtype.values()));
        }
        Dtype dtype;
        try {
            dtype = Dtype.valueOf(ds);
        } catch (IllegalArgumentException e) {
            throw new FormatException(source, where + " has unknown dtype '" + ds + "', expected one of "
                    + Arrays.toString(Dtype.values()));
        }
        long[] shape = longs(m.get("shape"), -1, where + " shape", source);
        long numel = 1;
        long bytes;
        try {
            for (long d : shape) {
                numel = Math.multiplyExact(numel, d);
            }
            bytes = Math.multiplyExact(numel, (long) dtype.size);
        } catch (ArithmeticException e) {
            throw new FormatException(source, where + " shape " + Arrays.toString(shape) + " overflows a 64-bit size");
        }
        long[] off = longs(m.get("data_offsets"), 2, where + " data_offsets", source);
        if (off[0] > off[1] || off[1] > dataSize) {
            throw new FormatException(source, where + " data_offsets [" + off[0] + ", " + off[1]
                    + "] are not within the data section [0, " + dataSize + "]"
                    + (off[0] <= off[1] ? " (file truncated?)" : ""));
        }
        if (off[1] - off[0] != bytes) {
            throw new FormatException(source, where + " data_offsets [" + off[0] + ", " + off[1] + "] span "
                    + (off[1] - off[0]) + " bytes, expected " + bytes + " (" + dtype + " x " + Arrays.toString(shape)
                    + ")");
        }
        return new Info(name, dtype, shape, off[0], off[1]);
    }

    private static long[] longs(Object v, int count, String what, String source) throws FormatException {
        if (!(v instanceof List<?> l) || (count >= 0 && l.size() != count)) {
            throw new FormatException(source, what + " is " + kind(v) + ", expected "
                    + (count >= 0 ? "a list of " + count + " non-negative integers" : "a list of non-negative integers"));
        }
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(l.get(i) instanceof Long x) || x < 0) {
                throw new FormatException(source, what + "[" + i + "] is " + kind(l.get(i))
                        + ", expected a non-negative integer");
            }
            out[i] = x;
        }
        return out;
    }

    static String kind(Object v) {
        return switch (v) {
            case null -> "missing or null";
            case Map<?, ?> m -> "an object";
            case List<?> l -> "a list of " + l.size();
            case String s -> "the string \"" + (s.length() > 40 ? s.substring(0, 37) + "..." : s) + "\"";
            default -> String.valueOf(v);
        };
    }

    /** The file (or source name) this was read from. */
    public String source() {
        return source;
    }

    /** Tensor names in data-offset order. */
    public List<String> names() {
        return List.copyOf(infos.keySet());
    }

    /** Whether the file holds a tensor of that name. */
    public boolean contains(String name) {
        return infos.containsKey(name);
    }

    /** All entries, in data-offset order. */
    public List<Info> infos() {
        return List.copyOf(infos.values());
    }

    /** The {@code __metadata__} map (empty if absent), unmodifiable. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * The entry for a tensor.
     *
     * @throws IllegalArgumentException if there is none, listing the first names the file has
     */
    public Info info(String name) {
        Info i = infos.get(name);
        if (i == null) {
            List<String> some = names().subList(0, Math.min(8, infos.size()));
            throw new IllegalArgumentException(source + ": no tensor '" + name + "' (the file has " + infos.size()
                    + (infos.isEmpty() ? "" : ": " + String.join(", ", some) + (infos.size() > 8 ? ", ..." : "")) + ")");
        }
        return i;
    }

    /** Shorthand for {@code info(name).dtype()}. */
    public Dtype dtype(String name) {
        return info(name).dtype();
    }

    /** A copy of the tensor's shape. */
    public long[] shape(String name) {
        return info(name).shape().clone();
    }

    /** The tensor's raw little-endian bytes, read-only and unaligned; valid until {@link #close()}. */
    public MemorySegment segment(String name) {
        Info i = info(name);
        return data.asSlice(i.begin(), i.end() - i.begin());
    }

    /**
     * A zero-copy view of an F32 tensor: read it with {@link #F32_LE} (little-endian, unaligned: the data section
     * need not be 4-byte aligned). Valid until {@link #close()}.
     */
    public MemorySegment f32Segment(String name) throws FormatException {
        Info i = info(name);
        if (i.dtype() != Dtype.F32) {
            throw new FormatException(source, "tensor '" + name + "' is " + i.dtype() + ", expected F32 for a view");
        }
        return segment(name);
    }

    /** Layout for reading {@link #f32Segment} views: little-endian, unaligned float. */
    public static final ValueLayout.OfFloat F32_LE = F32;

    /** Reads a floating tensor (F32, F16, BF16 or F64) into a new float[], upcasting (F64 is rounded to float). */
    public float[] readF32(String name) throws FormatException {
        Info i = info(name);
        int n = elements(i);
        float[] out = new float[n];
        long b = i.begin();
        switch (i.dtype()) {
            case F32 -> MemorySegment.copy(data, F32, b, out, 0, n);
            case F16 -> {
                for (int k = 0; k < n; k++) {
                    out[k] = Float.float16ToFloat(data.get(I16, b + 2L * k));
                }
            }
            case BF16 -> {
                // bfloat16 is the top half of a float32.
                for (int k = 0; k < n; k++) {
                    out[k] = Float.intBitsToFloat(data.get(I16, b + 2L * k) << 16);
                }
            }
            case F64 -> {
                for (int k = 0; k < n; k++) {
                    out[k] = (float) data.get(F64, b + 8L * k);
                }
            }
            default -> throw new FormatException(source, "tensor '" + name + "' is " + i.dtype()
                    + ", expected a floating dtype (F32, F16, BF16, F64)");
        }
        return out;
    }

    /** Reads an integer tensor (I64, I32, I16, I8, U32, U16, U8 or BOOL) into a new long[], widening. */
    public long[] readI64(String name) throws FormatException {
        Info i = info(name);
        int n = elements(i);
        long[] out = new long[n];
        long b = i.begin();
        switch (i.dtype()) {
            case I64 -> MemorySegment.copy(data, I64, b, out, 0, n);
            case I32 -> {
                for (int k = 0; k < n; k++) {
                    out[k] = data.get(I32, b + 4L * k);
                }
            }
            case U32 -> {
                for (int k = 0; k < n; k++) {
                    out[k] = Integer.toUnsignedLong(data.get(I32, b + 4L * k));
                }
            }
            case I16 -> {
                for (int k = 0; k < n; k++) {
                    out[k] = data.get(I16, b + 2L * k);
                }
            }
            case U16 -> {
                for (int k = 0; k < n; k++) {
                    out[k] = Short.toUnsignedLong(data.get(I16, b + 2L * k));
                }
            }
            case I8 -> {
                for (int k = 0; k < n; k++) {
                    out[k] = data.get(ValueLayout.JAVA_BYTE, b + k);
                }
            }
            case U8, BOOL -> {
                for (int k = 0; k < n; k++) {
                    out[k] = Byte.toUnsignedLong(data.get(ValueLayout.JAVA_BYTE, b + k));
                }
            }
            default -> throw new FormatException(source, "tensor '" + name + "' is " + i.dtype()
                    + ", expected an integer dtype (I64, I32, I16, I8, U32, U16, U8, BOOL)");
        }
        return out;
    }

    private int elements(Info i) throws FormatException {
        long n = i.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new FormatException(source, "tensor '" + i.name() + "' has " + n
                    + " elements, more than a Java array holds");
        }
        return (int) n;
    }

    /**
     * Writes a safetensors file atomically (temporary file, fsync, rename): tensors in the map's order, data packed
     * without gaps, the header padded with spaces to a multiple of 8 bytes so the data section is 8-byte aligned.
     *
     * @param metadata written as {@code __metadata__} when not empty; may be null
     */
    public static void write(Path file, SequencedMap<String, SafeTensorsEntry> tensors, Map<String, String> metadata)
            throws IOException {
        SafeTensorsWriter.write(file, tensors, metadata);
    }

    /** Unmaps the file (if this object mapped it); segments handed out become invalid. Idempotent. */
    @Override
    public void close() {
        if (arena != null && arena.scope().isAlive()) {
            arena.close();
        }
    }
}
