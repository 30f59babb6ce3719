// SPDX-License-Identifier: Apache-2.0
// A small strict JSON (RFC 8259) parser and pretty writer, for config.json, scheduler_config.json, safetensors headers
// and checkpoint metadata. Pairs with JsonTest and JsonFuzzTest.
package ddpm4j.core.io;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Strict JSON: objects become {@code LinkedHashMap<String, Object>} (insertion order kept), arrays
 * {@code ArrayList<Object>}, strings {@code String}, integers that fit {@code Long} (others {@code Double}), numbers
 * with a fraction or exponent {@code Double}, and {@code Boolean} or {@code null}.
 *
 * <p>Rejected with a {@link FormatException} naming the source and {@code line:column}: invalid UTF-8, a byte-order
 * mark, comments, trailing commas, single quotes, unquoted keys, duplicate keys, leading zeros, {@code NaN} and
 * {@code Infinity}, numbers that overflow a double, control characters inside strings, bad escapes, nesting deeper than
 * {@link #MAX_DEPTH}, input longer than the size limit, and anything after the top-level value but whitespace.
 */
public final class Json {
    /** Deepest nesting of arrays and objects accepted. */
    public static final int MAX_DEPTH = 64;
    /** Default size limit of a document, in bytes (64 MiB). */
    public static final long DEFAULT_MAX_BYTES = 64L << 20;
    /** Longest number literal accepted, in characters (no real number needs more; BigDecimal is slow on huge ones). */
    private static final int MAX_NUMBER_CHARS = 400;

    private final String src;
    private final String source;
    private int pos;
    private int depth;

    private Json(String src, String source) {
        this.src = src;
        this.source = source;
    }

    /** Reads and parses a UTF-8 JSON file of at most {@link #DEFAULT_MAX_BYTES}; errors name the file. */
    public static Object parse(Path file) throws java.io.IOException {
        long size = Files.size(file);
        if (size > DEFAULT_MAX_BYTES) {
            throw new FormatException(file.toString(), "JSON file is " + size + " bytes, more than the limit of "
                    + DEFAULT_MAX_BYTES);
        }
        return parse(Files.readAllBytes(file), file.toString());
    }

    /** Parses UTF-8 bytes of at most {@link #DEFAULT_MAX_BYTES}; {@code source} names them in errors. */
    public static Object parse(byte[] utf8, String source) throws FormatException {
        return parse(ByteBuffer.wrap(utf8), source, DEFAULT_MAX_BYTES);
    }

    /** Parses UTF-8 bytes (the buffer's remaining bytes) of at most {@code maxBytes}. */
    public static Object parse(ByteBuffer utf8, String source, long maxBytes) throws FormatException {
        if (utf8.remaining() > maxBytes) {
            throw new FormatException(source, "JSON text is " + utf8.remaining() + " bytes, more than the limit of "
                    + maxBytes);
        }
        CharBuffer chars;
        try {
            chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(utf8.duplicate());
        } catch (CharacterCodingException e) {
            throw new FormatException(source, "JSON text is not valid UTF-8 (" + e.getMessage() + ")");
        }
        return parse(chars.toString(), source);
    }

    /** Parses a JSON text; {@code source} names it in errors. */
    public static Object parse(String text, String source) throws FormatException {
        if (text.length() > DEFAULT_MAX_BYTES) {
            throw new FormatException(source, "JSON text is " + text.length() + " chars, more than the limit of "
                    + DEFAULT_MAX_BYTES);
        }
        Json p = new Json(text, source);
        if (!text.isEmpty() && text.charAt(0) == '\uFEFF') {
            throw p.error("byte-order mark before the JSON text");
        }
        p.skipWhitespace();
        Object v = p.value();
        p.skipWhitespace();
        if (p.pos < text.length()) {
            throw p.error("unexpected " + p.describe(p.pos) + " after the JSON value");
        }
        return v;
    }

    private Object value() throws FormatException {
        if (pos >= src.length()) {
            throw error("unexpected end of input, expected a value");
        }
        char c = src.charAt(pos);
        return switch (c) {
            case '{' -> object();
            case '[' -> array();
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", null);
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) {
                    yield number();
                }
                throw error("unexpected " + describe(pos) + ", expected a value");
            }
        };
    }

    private Map<String, Object> object() throws FormatException {
        enter();
        pos++;
        var map = new LinkedHashMap<String, Object>();
        skipWhitespace();
        if (peek() == '}') {
            pos++;
            depth--;
            return map;
        }
        while (true) {
            skipWhitespace();
            if (peek() != '"') {
                throw error("unexpected " + describe(pos) + ", expected a string key");
            }
            int keyPos = pos;
            String key = string();
            skipWhitespace();
            expect(':');
            skipWhitespace();
            Object v = value();
            if (map.containsKey(key)) {
                pos = keyPos;
                throw error("duplicate key \"" + shorten(key) + "\"");
            }
            map.put(key, v);
            skipWhitespace();
            char c = peek();
            if (c == ',') {
                pos++;
            } else if (c == '}') {
                pos++;
                depth--;
                return map;
            } else {
                throw error("unexpected " + describe(pos) + ", expected ',' or '}'");
            }
        }
    }

    private List<Object> array() throws FormatException {
        enter();
        pos++;
        var list = new ArrayList<>();
        skipWhitespace();
        if (peek() == ']') {
            pos++;
            depth--;
            return list;
        }
        while (true) {
            skipWhitespace();
            list.add(value());
            skipWhitespace();
            char c = peek();
            if (c == ',') {
                pos++;
            } else if (c == ']') {
                pos++;
                depth--;
                return list;
            } else {
                throw error("unexpected " + describe(pos) + ", expected ',' or ']'");
            }
        }
    }

    private void enter() throws FormatException {
        if (++depth > MAX_DEPTH) {
            throw error("nesting deeper than " + MAX_DEPTH + " levels");
        }
    }

    private String string() throws FormatException {
        int start = pos;
        pos++;
        StringBuilder sb = null;
        int runStart = pos;
        while (true) {
            if (pos >= src.length()) {
                pos = start;
                throw error("unterminated string");
            }
            char c = src.charAt(pos);
            if (c == '"') {
                String s = sb == null ? src.substring(runStart, pos) : sb.append(src, runStart, pos).toString();
                pos++;
                return s;
            }
            if (c < 0x20) {
                throw error("control character U+" + String.format("%04X", (int) c) + " inside a string (escape it)");
            }
            if (c != '\\') {
                pos++;
                continue;
            }
            if (sb == null) {
                sb = new StringBuilder();
            }
            sb.append(src, runStart, pos);
            if (pos + 1 >= src.length()) {
                throw error("unterminated escape");
            }
            char e = src.charAt(pos + 1);
            switch (e) {
                case '"' -> sb.append('"');
                case '\\' -> sb.append('\\');
                case '/' -> sb.append('/');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    if (pos + 6 > src.length()) {
                        throw error("truncated \\u escape");
                    }
                    int cp = 0;
                    for (int i = pos + 2; i < pos + 6; i++) {
                        int d = Character.digit(src.charAt(i), 16);
                        if (d < 0 || src.charAt(i) > 'f') {
                            throw error("bad \\u escape, expected 4 hex digits");
                        }
                        cp = cp * 16 + d;
                    }
                    sb.append((char) cp);
                    pos += 4;
                }
                default -> throw error("bad escape \\" + printable(e));
            }
            pos += 2;
            runStart = pos;
        }
    }

    private Object number() throws FormatException {
        int start = pos;
        boolean integral = true;
        if (peek() == '-') {
            pos++;
        }
        if (peek() == '0') {
            pos++;
            if (isDigit(peek())) {
                throw error("leading zero in a number");
            }
        } else if (isDigit(peek())) {
            while (isDigit(peek())) {
                pos++;
            }
        } else {
            throw error("expected a digit, found " + describe(pos));
        }
        if (peek() == '.') {
            integral = false;
            pos++;
            if (!isDigit(peek())) {
                throw error("expected a digit after '.', found " + describe(pos));
            }
            while (isDigit(peek())) {
                pos++;
            }
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            pos++;
            if (peek() == '+' || peek() == '-') {
                pos++;
            }
            if (!isDigit(peek())) {
                throw error("expected a digit in the exponent, found " + describe(pos));
            }
            while (isDigit(peek())) {
                pos++;
            }
        }
        if (pos - start > MAX_NUMBER_CHARS) {
            pos = start;
            throw error("number literal longer than " + MAX_NUMBER_CHARS + " characters");
        }
        String lit = src.substring(start, pos);
        if (integral) {
            if (pos - start <= 18) {
                return Long.parseLong(lit);
            }
            BigInteger big = new BigInteger(lit);
            if (big.bitLength() < 64) {
                return big.longValue();
            }
        }
        // The exponent of a huge literal could make BigDecimal slow; Double.parseDouble is linear and exact.
        double d = Double.parseDouble(lit);
        if (Double.isInfinite(d)) {
            pos = start;
            throw error("number " + shorten(lit) + " overflows a double");
        }
        // An integer too large for a long comes back as a Double, so callers asking for an integer see a non-Long.
        return d;
    }

    private Object literal(String word, Object v) throws FormatException {
        if (!src.startsWith(word, pos)) {
            throw error("unexpected " + describe(pos) + ", expected a value");
        }
        pos += word.length();
        return v;
    }

    private void expect(char c) throws FormatException {
        if (peek() != c) {
            throw error("unexpected " + describe(pos) + ", expected '" + c + "'");
        }
        pos++;
    }

    private char peek() {
        return pos < src.length() ? src.charAt(pos) : '\0';
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private void skipWhitespace() {
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private String describe(int at) {
        return at >= src.length() ? "end of input" : "'" + printable(src.charAt(at)) + "'";
    }

    private static String printable(char c) {
        return c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("U+%04X", (int) c);
    }

    private static String shorten(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }

    private FormatException error(String problem) {
        int line = 1;
        int col = 1;
        int end = Math.min(pos, src.length());
        for (int i = 0; i < end; i++) {
            if (src.charAt(i) == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return new FormatException(source, line + ":" + col + ": " + problem);
    }

    /**
     * Writes a value as pretty JSON: 2-space indent, keys in the map's iteration order, one element per line, a
     * trailing newline. Accepts maps with string keys, lists, arrays of primitives or objects, strings, numbers
     * (finite only), booleans and null.
     *
     * @throws IllegalArgumentException for NaN, infinities, non-string keys or unsupported types, naming the path
     */
    public static String write(Object value) {
        var sb = new StringBuilder();
        JsonWriter.write(sb, value, 0, "$");
        return sb.append('\n').toString();
    }

    /** Writes a value as compact JSON (no whitespace), as in safetensors headers; same rules as {@link #write}. */
    public static String writeCompact(Object value) {
        var sb = new StringBuilder();
        JsonWriter.write(sb, value, -1, "$");
        return sb.toString();
    }
}
