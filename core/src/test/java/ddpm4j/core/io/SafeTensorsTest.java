// SPDX-License-Identifier: Apache-2.0
// Tests for SafeTensors: a PyTorch-made golden file (make_golden.py), byte-identical writing, and every hostile header.
package ddpm4j.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.io.SafeTensors.Dtype;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    @TempDir
    Path dir;

    static byte[] resource(String name) throws Exception {
        try (InputStream in = SafeTensorsTest.class.getResourceAsStream(name)) {
            return in.readAllBytes();
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Map<String, List<Long>>> expected() throws Exception {
        return (Map<String, Map<String, List<Long>>>) (Object) Json.parse(resource("golden_expected.json"), "exp");
    }

    static float[] floats(List<Long> bits) {
        float[] f = new float[bits.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = Float.intBitsToFloat(bits.get(i).intValue());
        }
        return f;
    }

    @Test
    void readsTheGoldenFile() throws Exception {
        Path file = dir.resolve("golden.safetensors");
        Files.write(file, resource("golden.safetensors"));
        var exp = expected();
        try (var st = SafeTensors.open(file)) {
            assertEquals(List.of("a.weight", "b.half", "c.bf16", "d.double", "e.long", "f.int", "g.empty", "h.scalar"),
                    st.names());
            assertEquals(Map.of("format", "pt", "note", "golden \u00e9"), st.metadata());
            assertEquals(Dtype.F16, st.dtype("b.half"));
            assertArrayEquals(new long[] {2, 3}, st.shape("a.weight"));
            assertArrayEquals(new long[] {0, 5}, st.shape("g.empty"));
            assertArrayEquals(new long[] {}, st.shape("h.scalar"));
            for (String name : List.of("a.weight", "b.half", "c.bf16", "d.double", "g.empty", "h.scalar")) {
                // Bit-exact: F16/BF16 upcasts are exact, F64 is rounded to nearest as PyTorch's .to(float32) does.
                assertArrayEquals(floats(exp.get(name).get("f32_bits")), st.readF32(name), name);
            }
            assertArrayEquals(new long[] {1, -(1L << 62), 7}, st.readI64("e.long"));
            assertArrayEquals(new long[] {-1, Integer.MAX_VALUE, 0}, st.readI64("f.int"));
            MemorySegment view = st.f32Segment("a.weight");
            assertEquals(24, view.byteSize());
            assertEquals(-2.5f, view.get(SafeTensors.F32_LE, 4));
            var dtypeErr = assertThrows(FormatException.class, () -> st.readF32("e.long"));
            assertEquals(file + ": tensor 'e.long' is I64, expected a floating dtype (F32, F16, BF16, F64)",
                    dtypeErr.getMessage());
            assertThrows(FormatException.class, () -> st.readI64("a.weight"));
            assertThrows(FormatException.class, () -> st.f32Segment("b.half"));
            var missing = assertThrows(IllegalArgumentException.class, () -> st.info("nope"));
            assertTrue(missing.getMessage().startsWith(file + ": no tensor 'nope' (the file has 8: a.weight, b.half"),
                    missing.getMessage());
            st.close();
            assertThrows(IllegalStateException.class, () -> view.get(SafeTensors.F32_LE, 0));
        }
    }

    @Test
    void writesTheGoldenFileByteForByte() throws Exception {
        var exp = expected();
        var t = new LinkedHashMap<String, SafeTensorsEntry>();
        t.put("a.weight", SafeTensorsEntry.f32(new long[] {2, 3}, floats(exp.get("a.weight").get("f32_bits"))));
        // F16 and BF16 from the float32 inputs: the writer must round exactly as PyTorch did.
        t.put("b.half", SafeTensorsEntry.f16(new long[] {6}, floats(exp.get("b.half").get("input_f32_bits"))));
        t.put("c.bf16", SafeTensorsEntry.bf16(new long[] {2, 2}, floats(exp.get("c.bf16").get("input_f32_bits"))));
        ByteBuffer d = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putDouble(0.1).putDouble(-1e300)
                .putDouble(2.0);
        t.put("d.double", SafeTensorsEntry.raw(Dtype.F64, new long[] {3}, d.array()));
        t.put("e.long", SafeTensorsEntry.i64(new long[] {3}, new long[] {1, -(1L << 62), 7}));
        t.put("f.int", new SafeTensorsEntry(Dtype.I32, new long[] {3}, null, new long[] {-1, Integer.MAX_VALUE, 0},
                null));
        t.put("g.empty", SafeTensorsEntry.f32(new long[] {0, 5}, new float[0]));
        t.put("h.scalar", SafeTensorsEntry.f32(new long[] {}, new float[] {2.5f}));
        var meta = new LinkedHashMap<String, String>();
        meta.put("format", "pt");
        meta.put("note", "golden \u00e9");
        Path out = dir.resolve("sub/written.safetensors");
        SafeTensors.write(out, t, meta);
        assertArrayEquals(resource("golden.safetensors"), Files.readAllBytes(out));
        try (var s = Files.list(out.getParent())) {
            assertEquals(List.of(out), s.toList(), "no temporary file left behind");
        }
    }

    @Test
    void roundTripsLargeF32AndRejectsBadEntries() throws Exception {
        float[] v = new float[7 * 42857];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.sin(i) * i;
        }
        var t = new LinkedHashMap<String, SafeTensorsEntry>();
        t.put("x", SafeTensorsEntry.f32(new long[] {7, 42857}, v));
        Path f = dir.resolve("big.safetensors");
        SafeTensors.write(f, t, null);
        try (var st = SafeTensors.open(f)) {
            assertArrayEquals(v, st.readF32("x"));
            assertTrue(st.metadata().isEmpty());
        }
        assertThrows(IllegalArgumentException.class, () -> SafeTensorsEntry.f32(new long[] {2, 2}, new float[3]));
        assertThrows(IllegalArgumentException.class, () -> SafeTensorsEntry.f32(new long[] {-1}, new float[0]));
        assertThrows(IllegalArgumentException.class,
                () -> SafeTensorsEntry.raw(Dtype.F32, new long[] {1}, new byte[3]));
        var bad = new LinkedHashMap<String, SafeTensorsEntry>();
        bad.put(SafeTensors.METADATA_KEY, SafeTensorsEntry.f32(new long[] {1}, new float[1]));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(dir.resolve("bad"), bad, null));
        assertFalse(Files.exists(dir.resolve("bad")));
    }

    /** A file with the given header text (not padded) followed by {@code dataBytes} zero bytes. */
    static byte[] file(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).put(h)
                .array();
    }

    static String reject(byte[] bytes) {
        var e = assertThrows(FormatException.class, () -> SafeTensors.parse(MemorySegment.ofArray(bytes), "h.st"));
        assertEquals("h.st", e.source());
        return e.problem();
    }

    @Test
    void rejectsHostileHeaders() {
        String w = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
        assertEquals(List.of("w"), assertParses(file(w, 16)));
        assertEquals("file is 5 bytes, too short for the 8-byte header length", reject(new byte[5]));
        byte[] huge = file(w, 16);
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L);
        assertEquals("header length 18446744073709551615 exceeds the " + (huge.length - 8)
                + " bytes after the length field (file is " + huge.length + " bytes)", reject(huge));
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        assertTrue(reject(huge).startsWith("header length 1099511627776 exceeds"));
        assertEquals("header does not start with '{' (not a safetensors file?)", reject(file("[]", 0)));
        assertEquals("header JSON 1:6: unexpected end of input, expected a value", reject(file("{\"w\":", 0)));
        assertEquals("tensor 'w' data_offsets [0, 16] are not within the data section [0, 15] (file truncated?)",
                reject(withLength(file(w, 16), 15)));
        String two0 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}";
        assertEquals("data section is 9 bytes but the tensors cover 8 (file truncated or has trailing bytes)",
                reject(file(two0, 9)));
        assertEquals(List.of("a", "b"), assertParses(file(two0, 8)));
        assertEquals("data section is 17 bytes but the tensors cover 16 (file truncated or has trailing bytes)",
                reject(file(w, 17)));
        assertEquals("tensor 'w' has unknown dtype 'F128', expected one of [BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, "
                + "U16, F16, BF16, I32, U32, F32, I64, U64, F64]", reject(file(w.replace("F32", "F128"), 16)));
        assertEquals("tensor 'w' data_offsets [0, 16] span 16 bytes, expected 24 (F32 x [2, 3])",
                reject(file(w.replace("[2,2]", "[2,3]"), 16)));
        assertEquals("tensor 'w' shape [4294967296, 4294967296] overflows a 64-bit size",
                reject(file(w.replace("[2,2]", "[4294967296,4294967296]"), 16)));
        assertEquals("tensor 'w' shape [2305843009213693952] overflows a 64-bit size",
                reject(file(w.replace("[2,2]", "[2305843009213693952]"), 16)));
        assertEquals("tensor 'w' shape[0] is -2, expected a non-negative integer",
                reject(file(w.replace("[2,2]", "[-2,2]"), 16)));
        assertEquals("tensor 'w' shape[1] is 2.0, expected a non-negative integer",
                reject(file(w.replace("[2,2]", "[2,2.0]"), 16)));
        assertEquals("tensor 'w' data_offsets is a list of 3, expected a list of 2 non-negative integers",
                reject(file(w.replace("[0,16]", "[0,16,16]"), 16)));
        assertEquals("tensor 'w' data_offsets [16, 0] are not within the data section [0, 16]",
                reject(file(w.replace("[0,16]", "[16,0]"), 16)));
        assertEquals("tensor 'w' has unknown field 'extra' (expected dtype, shape, data_offsets)",
                reject(file(w.replace("{\"dtype\"", "{\"extra\":1,\"dtype\""), 16)));
        assertEquals("tensor 'w' dtype is missing or null, expected one of [BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, "
                + "F16, BF16, I32, U32, F32, I64, U64, F64]", reject(file(w.replace("\"dtype\":\"F32\",", ""), 16)));
        assertEquals("tensor 'w' is 3, expected an object", reject(file("{\"w\":3}", 0)));
        assertEquals("header does not start with '{' (not a safetensors file?)", reject(withFirst(file("{}", 0), " ")));
        String two = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        assertEquals("tensor 'b' data_offsets [4, 12] overlap tensor 'a' [0, 8]", reject(file(two, 12)));
        String gap = two.replace("[4,12]", "[12,20]");
        assertEquals("gap of 4 unused bytes before tensor 'b' (data_offsets begin at 12, expected 8)",
                reject(file(gap, 20)));
        String dup = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        assertTrue(reject(file(dup, 8)).contains("duplicate key \"a\""));
        assertEquals("'__metadata__' key 'k' is 1, expected a string",
                reject(file("{\"__metadata__\":{\"k\":1}}", 0)));
        assertEquals("'__metadata__' is a list of 0, expected an object of strings",
                reject(file("{\"__metadata__\":[]}", 0)));
    }

    @Test
    void acceptsOutOfOrderOffsetsAndSpacePadding() throws Exception {
        String h = "{\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]},"
                + "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}   ";
        byte[] f = file(h, 8);
        int data = f.length - 8;
        f[data] = 1;
        f[data + 3] = (byte) 255;
        f[data + 4] = (byte) 0x80; // BF16 0x3F80 = 1.0
        f[data + 5] = 0x3F;
        try (var st = SafeTensors.parse(MemorySegment.ofArray(f), "mem")) {
            assertEquals(List.of("a", "b"), st.names());
            assertArrayEquals(new long[] {1, 0, 0, 255}, st.readI64("a"));
            assertArrayEquals(new float[] {1f, 0f}, st.readF32("b"));
        }
    }

    private static List<String> assertParses(byte[] bytes) {
        try (var st = SafeTensors.parse(MemorySegment.ofArray(bytes), "ok")) {
            return st.names();
        } catch (FormatException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] withLength(byte[] f, int dataBytes) {
        long n = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return java.util.Arrays.copyOf(f, (int) (8 + n + dataBytes));
    }

    private static byte[] withFirst(byte[] f, String c) {
        byte[] g = f.clone();
        g[8] = (byte) c.charAt(0);
        return g;
    }
}
