// SPDX-License-Identifier: Apache-2.0
// The pretty printer behind Json.write: 2-space indent, insertion-ordered keys, finite numbers only.
package ddpm4j.core.io;

import java.lang.reflect.Array;
import java.util.Collection;
import java.util.Map;

final class JsonWriter {
    private JsonWriter() {
    }

    /** Writes {@code v}; {@code indent < 0} means compact (no whitespace at all). */
    static void write(StringBuilder sb, Object v, int indent, String path) {
        switch (v) {
            case null -> sb.append("null");
            case String s -> quote(sb, s);
            case Boolean b -> sb.append(b);
            case Long l -> sb.append(l);
            case Integer i -> sb.append(i);
            case Short s -> sb.append(s);
            case Byte b -> sb.append(b);
            case java.math.BigInteger b -> sb.append(b);
            case Double d -> sb.append(finite(d, path));
            case Float f -> {
                if (!Float.isFinite(f)) {
                    throw new IllegalArgumentException("JSON cannot hold " + f + " at " + path);
                }
                sb.append(Float.toString(f));
            }
            case Number n -> sb.append(finite(n.doubleValue(), path));
            case Map<?, ?> m -> object(sb, m, indent, path);
            case Collection<?> c -> array(sb, c.toArray(), indent, path);
            default -> {
                if (!v.getClass().isArray()) {
                    throw new IllegalArgumentException("JSON cannot hold a " + v.getClass().getName() + " at " + path);
                }
                Object[] items = new Object[Array.getLength(v)];
                for (int i = 0; i < items.length; i++) {
                    items[i] = Array.get(v, i);
                }
                array(sb, items, indent, path);
            }
        }
    }

    private static String finite(double d, String path) {
        if (!Double.isFinite(d)) {
            throw new IllegalArgumentException("JSON cannot hold " + d + " at " + path);
        }
        return Double.toString(d);
    }

    private static void object(StringBuilder sb, Map<?, ?> m, int indent, String path) {
        if (m.isEmpty()) {
            sb.append("{}");
            return;
        }
        sb.append('{');
        boolean first = true;
        for (var e : m.entrySet()) {
            if (!(e.getKey() instanceof String key)) {
                throw new IllegalArgumentException("JSON object keys must be strings, found " + e.getKey() + " at "
                        + path);
            }
            if (!first) {
                sb.append(',');
            }
            first = false;
            newline(sb, indent < 0 ? -1 : indent + 1);
            quote(sb, key);
            sb.append(indent < 0 ? ":" : ": ");
            write(sb, e.getValue(), indent < 0 ? -1 : indent + 1, path + "." + key);
        }
        newline(sb, indent);
        sb.append('}');
    }

    private static void array(StringBuilder sb, Object[] items, int indent, String path) {
        if (items.length == 0) {
            sb.append("[]");
            return;
        }
        sb.append('[');
        for (int i = 0; i < items.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            newline(sb, indent < 0 ? -1 : indent + 1);
            write(sb, items[i], indent < 0 ? -1 : indent + 1, path + "[" + i + "]");
        }
        newline(sb, indent);
        sb.append(']');
    }

    private static void newline(StringBuilder sb, int indent) {
        if (indent >= 0) {
            sb.append('\n').repeat("  ", indent);
        }
    }

    /** Quotes a string; non-ASCII characters are written as they are (the output is UTF-8). */
    static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    // Lone surrogates cannot be encoded as UTF-8, so they (and control characters) are escaped.
                    boolean lone = Character.isSurrogate(c) && !(Character.isHighSurrogate(c) && i + 1 < s.length()
                            && Character.isLowSurrogate(s.charAt(i + 1)));
                    if (Character.isLowSurrogate(c) && i > 0 && Character.isHighSurrogate(s.charAt(i - 1))) {
                        lone = false;
                    }
                    if (c < 0x20 || lone) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
