// SPDX-License-Identifier: Apache-2.0
// Off-heap host memory for the CPU and reference backends: exact-size free lists, so a training step that allocates
// the same shapes every iteration reuses the same segments instead of calling malloc. Each chunk has its own shared
// arena, closed by trim() or close(): the pool is the one owner of every byte it hands out.
package ddpm4j.core.mem;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/** A thread-safe pool of 64-byte aligned native segments. */
public final class HostPool implements AutoCloseable {
    /** One allocation: its arena is closed when the chunk leaves the pool for good. */
    public record Chunk(Arena arena, MemorySegment segment) {}

    private static final long ALIGN = 64;

    private final String owner;
    private final Map<Long, ArrayDeque<Chunk>> free = new HashMap<>();
    private long liveBytes, cachedBytes, peakBytes, allocations, reuses;
    private boolean closed;

    public HostPool(String owner) { this.owner = owner; }

    private static long sizeClass(long bytes) { return Math.max(ALIGN, (bytes + ALIGN - 1) / ALIGN * ALIGN); }

    /** A segment of at least {@code bytes} bytes, uninitialised (possibly reused). */
    public synchronized Chunk take(long bytes) {
        if (closed) throw new IllegalStateException(owner + ": memory pool is closed");
        long size = sizeClass(bytes);
        ArrayDeque<Chunk> q = free.get(size);
        Chunk c = q == null ? null : q.pollFirst();
        if (c != null) {
            cachedBytes -= size;
            reuses++;
        } else {
            Arena arena = Arena.ofShared();
            try {
                c = new Chunk(arena, arena.allocate(size, ALIGN));
            } catch (OutOfMemoryError e) {
                arena.close();
                trimLocked();
                throw new OutOfMemoryError(owner + ": cannot allocate " + size + " bytes of native memory (live "
                        + liveBytes + " B): " + e.getMessage());
            }
            allocations++;
        }
        liveBytes += size;
        peakBytes = Math.max(peakBytes, liveBytes);
        return c;
    }

    /** Returns a chunk for reuse. */
    public synchronized void give(Chunk c) {
        long size = c.segment().byteSize();
        liveBytes -= size;
        if (closed) { c.arena().close(); return; }
        free.computeIfAbsent(size, k -> new ArrayDeque<>()).addFirst(c);
        cachedBytes += size;
    }

    /** Frees every cached (unused) chunk. */
    public synchronized void trim() { trimLocked(); }

    private void trimLocked() {
        for (ArrayDeque<Chunk> q : free.values())
            for (Chunk c : q) c.arena().close();
        free.clear();
        cachedBytes = 0;
    }

    /** Bytes handed out and not given back. */
    public synchronized long liveBytes() { return liveBytes; }

    /** Bytes held for reuse. */
    public synchronized long cachedBytes() { return cachedBytes; }

    /** High-water mark of live bytes. */
    public synchronized long peakBytes() { return peakBytes; }

    public synchronized void resetPeak() { peakBytes = liveBytes; }

    /** Number of fresh native allocations so far (reuses do not count). */
    public synchronized long allocations() { return allocations; }

    public synchronized long reuses() { return reuses; }

    /** Frees cached chunks now and live ones as they come back. */
    @Override
    public synchronized void close() {
        trimLocked();
        closed = true;
    }
}
