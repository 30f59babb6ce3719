// SPDX-License-Identifier: Apache-2.0
// Tests for Json: values, strictness (every rejected form names line:column), limits and the pretty writer.
package ddpm4j.core.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class JsonTest {
    private static Object parse(String s) throws FormatException {
        return Json.parse(s.getBytes(StandardCharsets.UTF_8), "t.json");
    }

    @Test
    void parsesADiffusersConfig() throws Exception {
        String cfg = """
                {
                  "_class_name": "UNet2DModel",
                  "block_out_channels": [128, 256, 256, 256],
                  "norm_eps": 1e-06,
                  "dropout": 0.1,
                  "flip_sin_to_cos": false,
                  "time_embedding_type": "positional",
                  "attention_head_dim": null,
                  "sample_size": 32
                }
                """;
        @SuppressWarnings("unchecked")
        var m = (Map<String, Object>) parse(cfg);
        assertEquals(List.of("_class_name", "block_out_channels", "norm_eps", "dropout", "flip_sin_to_cos",
                "time_embedding_type", "attention_head_dim", "sample_size"), List.copyOf(m.keySet()));
        assertEquals(List.of(128L, 256L, 256L, 256L), m.get("block_out_channels"));
        assertEquals(1e-6, m.get("norm_eps"));
        assertEquals(Boolean.FALSE, m.get("flip_sin_to_cos"));
        assertNull(m.get("attention_head_dim"));
        assertTrue(m.containsKey("attention_head_dim"));
        assertEquals(32L, m.get("sample_size"));
    }

    @Test
    void numbersAndStrings() throws Exception {
        assertEquals(Long.MAX_VALUE, parse("9223372036854775807"));
        assertEquals(Long.MIN_VALUE, parse("-9223372036854775808"));
        assertEquals(9.223372036854775808E18, parse("9223372036854775808"));
        assertEquals(-0.0, parse("-0.0"));
        assertEquals(0L, parse("-0"));
        assertEquals(1.5e300, parse("1.5E+300"));
        assertEquals(4.9e-324, parse("4.9e-324"));
        assertEquals(0.0, parse("1e-400"));
        assertEquals("a\"\\/\b\f\n\r\t\u00e9\uD83D\uDE00", parse("\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00E9\\ud83d\\ude00\""));
        assertEquals("\u00e9\uD83D\uDE00", parse("\"\u00e9\uD83D\uDE00\""));
        assertEquals(List.of(), parse(" [ ] "));
        assertEquals(Map.of(), parse("{}"));
        assertEquals(List.of(List.of(List.of(1L))), parse("[[[1]]]"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "''                       | 1:1: unexpected end of input",
            "'{\"a\":1,}'             | 1:8: unexpected '}', expected a string key",
            "'[1,]'                   | 1:4: unexpected ']', expected a value",
            "'{a:1}'                  | 1:2: unexpected 'a', expected a string key",
            "'{\"a\" 1}'              | 1:6: unexpected '1', expected ':'",
            "'{\"a\":1 \"b\":2}'      | 1:8: unexpected '\"', expected ',' or '}'",
            "'[1 2]'                  | 1:4: unexpected '2', expected ',' or ']'",
            "'01'                     | 1:2: leading zero",
            "'1.'                     | 1:3: expected a digit after '.'",
            "'1e'                     | 1:3: expected a digit in the exponent",
            "'-'                      | 1:2: expected a digit",
            "'+1'                     | 1:1: unexpected '+'",
            "'.5'                     | 1:1: unexpected '.'",
            "'NaN'                    | 1:1: unexpected 'N'",
            "'Infinity'               | 1:1: unexpected 'I'",
            "'1e999'                  | 1:1: number 1e999 overflows a double",
            "'tru'                    | 1:1: unexpected 't'",
            "'nul'                    | 1:1: unexpected 'n'",
            "'\"abc'                  | 1:1: unterminated string",
            "'\"\\x\"'                | 1:2: bad escape \\x",
            "'\"\\u12G4\"'            | 1:2: bad \\u escape",
            "'\"\\u12'                | 1:2: truncated \\u escape",
            "'{} {}'                  | 1:4: unexpected '{' after the JSON value",
            "'// c\n1'                | 1:1: unexpected '/'",
            "'{\"a\":1,\n \"a\":2}'   | 2:2: duplicate key \"a\"",
            "'[\"a\",\n\n  x]'        | 3:3: unexpected 'x'",
            "'''a'''                  | 1:1: unexpected '''",
    })
    void rejectsWithLineAndColumn(String text, String message) {
        var e = assertThrows(FormatException.class, () -> parse(text));
        assertTrue(e.getMessage().startsWith("t.json: " + message), () -> "got: " + e.getMessage());
        assertEquals("t.json", e.source());
    }

    @Test
    void rejectsControlCharactersBadUtf8AndBom() {
        var ctl = assertThrows(FormatException.class, () -> parse("\"a\tb\""));
        assertTrue(ctl.getMessage().contains("control character U+0009"), ctl.getMessage());
        byte[] bad = {'"', (byte) 0xC3, '"'};
        var utf = assertThrows(FormatException.class, () -> Json.parse(bad, "x.json"));
        assertTrue(utf.getMessage().startsWith("x.json: JSON text is not valid UTF-8"), utf.getMessage());
        var bom = assertThrows(FormatException.class, () -> parse("\uFEFF{}"));
        assertTrue(bom.getMessage().contains("byte-order mark"), bom.getMessage());
    }

    @Test
    void limitsDepthSizeAndNumberLength() throws Exception {
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertInstanceOf(List.class, parse(ok));
        String deep = "[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1);
        var e = assertThrows(FormatException.class, () -> parse(deep));
        assertTrue(e.getMessage().contains("nesting deeper than 64"), e.getMessage());
        // 100,000 unclosed brackets: an error, not a StackOverflowError.
        assertThrows(FormatException.class, () -> parse("[".repeat(100_000)));
        var big = assertThrows(FormatException.class,
                () -> Json.parse(java.nio.ByteBuffer.wrap(new byte[101]), "b.json", 100));
        assertTrue(big.getMessage().contains("101 bytes, more than the limit of 100"), big.getMessage());
        var num = assertThrows(FormatException.class, () -> parse("1" + "0".repeat(500)));
        assertTrue(num.getMessage().contains("number literal longer than"), num.getMessage());
    }

    @Test
    void writesPrettyInInsertionOrderAndRoundTrips() throws Exception {
        var m = new LinkedHashMap<String, Object>();
        m.put("z", 1L);
        m.put("a", List.of(1, 2.5, "x\n\"y\""));
        m.put("empty", List.of());
        m.put("obj", Map.of());
        m.put("n", null);
        m.put("f", 0.1f);
        m.put("arr", new long[] {3, 4});
        m.put("b", true);
        String expected = """
                {
                  "z": 1,
                  "a": [
                    1,
                    2.5,
                    "x\\n\\"y\\""
                  ],
                  "empty": [],
                  "obj": {},
                  "n": null,
                  "f": 0.1,
                  "arr": [
                    3,
                    4
                  ],
                  "b": true
                }
                """;
        assertEquals(expected, Json.write(m));
        assertEquals("{\"z\":1,\"a\":[1,2.5,\"x\\n\\\"y\\\"\"],\"empty\":[],\"obj\":{},\"n\":null,\"f\":0.1,"
                + "\"arr\":[3,4],\"b\":true}", Json.writeCompact(m));
        @SuppressWarnings("unchecked")
        var back = (Map<String, Object>) parse(Json.write(m));
        assertEquals(List.of(1L, 2.5, "x\n\"y\""), back.get("a"));
        assertEquals(0.1, back.get("f"));
        assertEquals(List.of(3L, 4L), back.get("arr"));
        assertEquals("\"\\ud800x\\u0001\"", Json.writeCompact("\uD800x\u0001"));
        assertEquals("\uD800x\u0001", parse(Json.writeCompact("\uD800x\u0001")));
    }

    @Test
    void writerRejectsNonFiniteAndOddKeys() {
        var e = assertThrows(IllegalArgumentException.class, () -> Json.write(Map.of("lr", Double.NaN)));
        assertEquals("JSON cannot hold NaN at $.lr", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Json.write(List.of(Float.POSITIVE_INFINITY)));
        assertThrows(IllegalArgumentException.class, () -> Json.write(Map.of(1, 2)));
        assertThrows(IllegalArgumentException.class, () -> Json.write(new Object()));
    }
}
