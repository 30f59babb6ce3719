// SPDX-License-Identifier: Apache-2.0
// Writes safetensors files atomically through AtomicFiles; the reader is SafeTensors.
package ddpm4j.core.io;

import ddpm4j.core.io.SafeTensors.Dtype;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

final class SafeTensorsWriter {
    private static final int CHUNK = 1 << 20;

    private SafeTensorsWriter() {
    }

    static void write(Path file, SequencedMap<String, SafeTensorsEntry> tensors, Map<String, String> metadata)
            throws IOException {
        var header = new LinkedHashMap<String, Object>();
        if (metadata != null && !metadata.isEmpty()) {
            header.put(SafeTensors.METADATA_KEY, new LinkedHashMap<>(metadata));
        }
        long offset = 0;
        for (var e : tensors.entrySet()) {
            String name = e.getKey();
            if (name == null || name.equals(SafeTensors.METADATA_KEY)) {
                throw new IllegalArgumentException(file + ": '" + name + "' cannot name a tensor");
            }
            SafeTensorsEntry t = e.getValue();
            long end = offset + t.byteSize();
            var entry = new LinkedHashMap<String, Object>();
            entry.put("dtype", t.dtype().name());
            entry.put("shape", t.shape());
            entry.put("data_offsets", List.of(offset, end));
            header.put(name, entry);
            offset = end;
        }
        byte[] json = Json.writeCompact(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        AtomicFiles.writeChannel(file, ch -> {
            drain(ch, head);
            ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
            for (SafeTensorsEntry t : tensors.values()) {
                writeData(ch, buf, t);
            }
        });
    }

    private static void writeData(FileChannel ch, ByteBuffer buf, SafeTensorsEntry t) throws IOException {
        Dtype d = t.dtype();
        if (t.raw() != null) {
            drain(ch, ByteBuffer.wrap(t.raw()));
            return;
        }
        int n = t.floats() != null ? t.floats().length : t.longs().length;
        buf.clear();
        for (int i = 0; i < n; i++) {
            if (buf.remaining() < 8) {
                buf.flip();
                drain(ch, buf);
                buf.clear();
            }
            if (t.floats() != null) {
                float f = t.floats()[i];
                switch (d) {
                    case F32 -> buf.putFloat(f);
                    case F16 -> buf.putShort(Float.floatToFloat16(f));
                    case BF16 -> buf.putShort(SafeTensorsEntry.toBf16(f));
                    case F64 -> buf.putDouble(f);
                    default -> throw new IllegalStateException("unreachable: floats as " + d);
                }
            } else {
                long v = t.longs()[i];
                if (d == Dtype.I32) {
                    buf.putInt(Math.toIntExact(v));
                } else {
                    buf.putLong(v);
                }
            }
        }
        buf.flip();
        drain(ch, buf);
    }

    private static void drain(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
