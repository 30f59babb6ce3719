// SPDX-License-Identifier: Apache-2.0
// Off-heap host memory for the CPU and reference backends: exact-size free lists, so a training step that allocates
// the same shapes every iteration reuses the same segments instead of calling malloc. When capped (capFootprint: while
// training), the cache never lifts the footprint (live + cached) above the highest live total seen: a miss takes a
// cached chunk of up to twice its size, else the oldest cached chunks give their pages back to the kernel. Chunks of
// 256 KiB and more are mapped pages (PageMemory). Each chunk has its own shared arena, closed by trim() or close(): the pool is the one owner of every
// byte it hands out.
package ddpm4j.core.mem;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** A thread-safe pool of 64-byte aligned native segments. */
public final class HostPool implements AutoCloseable {
    /**
     * One allocation: its arena is closed when the chunk leaves the pool for good. {@code mapped}: the segment is a
     * PageMemory mapping (else malloc'ed).
     */
    public record Chunk(Arena arena, MemorySegment segment, boolean mapped) {}

    private static final long ALIGN = 64;

    private final String owner;
    private final TreeMap<Long, ArrayDeque<Chunk>> free = new TreeMap<>();
    /** Mapped chunks whose pages were given back (no resident memory), by size. */
    private final TreeMap<Long, ArrayDeque<Chunk>> cold = new TreeMap<>();
    /** Every cached mapped chunk, oldest first: what a miss evicts when the footprint would pass {@link #highWater}. */
    private final LinkedHashSet<Chunk> age = new LinkedHashSet<>();
    private long liveBytes, cachedBytes, peakBytes, allocations, reuses, evictions;
    /** The most bytes ever live at once (never reset): the footprint the cache may fill up to. */
    private long highWater;
    /**
     * The default of {@link #capFootprint} ({@code -Dddpm4j.pool.cap=true|false}; unset: off until a trainer turns it
     * on). Measured (2 training steps or 3 sampling steps in a fresh JVM, peak RSS with / without, before the
     * Winograd scratch moved into the pool): MNIST U-Net training at batch 16 974 / 1039 MiB, CIFAR-10 training at
     * batch 8 1448 / 1607, CIFAR-10 sampling 656 / 781. The cost: pages given back and faulted in again (about 90 MiB
     * per MNIST training step); a sampling step, whose live total swings within the step, ran 15-20% slower with it.
     */
    private static final String CAP_PROPERTY = System.getProperty("ddpm4j.pool.cap");
    private volatile boolean cap = "true".equalsIgnoreCase(CAP_PROPERTY);
    private boolean closed;

    public HostPool(String owner) { this.owner = owner; }

    private static long sizeClass(long bytes) { return Math.max(ALIGN, (bytes + ALIGN - 1) / ALIGN * ALIGN); }

    /** A segment of at least {@code bytes} bytes, uninitialised (possibly reused). */
    public synchronized Chunk take(long bytes) {
        if (closed) throw new IllegalStateException(owner + ": memory pool is closed");
        long size = sizeClass(bytes);
        Chunk c = reuse(free, size);
        // Capped, a miss of a mapped size that would lift the footprint (live + cached) above the most ever live takes a
        // cached chunk of up to twice the size, or else the oldest cached mapped chunks give their pages back. Chunks of
        // sizes one phase no longer asks for (the forward pass's, while the backward pass allocates gradients) sat
        // beside new ones otherwise: 65 MiB above the live peak on the MNIST U-Net's first training step.
        if (c == null && cap && PageMemory.maps(size) && liveBytes + cachedBytes + size > highWater) {
            Map.Entry<Long, ArrayDeque<Chunk>> bigger = free.ceilingEntry(size);
            if (bigger != null && bigger.getKey() <= 2 * size) c = reuse(free, bigger.getKey());
            else evict(liveBytes + size - highWater);
        }
        // a mapping of this size whose pages were given back: no system call, its pages fault in as they are written
        // (exactly this size: a larger one would count as live beyond what is used, and lift the cap with it)
        if (c == null) c = reuse(cold, size);
        if (c == null) c = fresh(size);
        liveBytes += c.segment().byteSize();
        peakBytes = Math.max(peakBytes, liveBytes);
        highWater = Math.max(highWater, liveBytes);
        return c;
    }

    /** The most recently cached chunk of exactly {@code size} bytes from {@code lists}, taken out, or null. */
    private Chunk reuse(TreeMap<Long, ArrayDeque<Chunk>> lists, long size) {
        ArrayDeque<Chunk> q = lists.get(size);
        if (q == null) return null;
        Chunk c = q.pollFirst();
        if (q.isEmpty()) lists.remove(size);
        if (lists == free) {
            if (c.mapped()) age.remove(c);
            cachedBytes -= size;
        }
        reuses++;
        return c;
    }

    /** A new chunk (PageMemory: its pages leave the process when it is freed; through malloc, glibc kept them). */
    private Chunk fresh(long size) {
        Arena arena = Arena.ofShared();
        try {
            boolean mapped = PageMemory.maps(size);
            Chunk c = new Chunk(arena, mapped ? PageMemory.map(arena, size) : arena.allocate(size, ALIGN), mapped);
            allocations++;
            return c;
        } catch (OutOfMemoryError e) {
            arena.close();
            trimLocked();
            throw new OutOfMemoryError(owner + ": cannot allocate " + size + " bytes of native memory (live "
                    + liveBytes + " B): " + e.getMessage());
        }
    }

    /** Returns a chunk for reuse. */
    public synchronized void give(Chunk c) {
        long size = c.segment().byteSize();
        liveBytes -= size;
        if (closed) { c.arena().close(); return; }
        free.computeIfAbsent(size, k -> new ArrayDeque<>()).addFirst(c);
        if (c.mapped()) age.add(c);
        cachedBytes += size;
    }

    /**
     * Gives back the pages of the oldest cached mapped chunks (madvise DONTNEED) until the cache is at most
     * {@code highWater - room} bytes; each keeps its mapping and arena, cold, for a later request of its size. Closing
     * its arena instead cost a handshake with every Java thread, about 0.1-0.2 ms, 10-25 ms per MNIST training step.
     * Small chunks (malloc'ed) stay cached.
     */
    private void evict(long room) {
        Iterator<Chunk> it = age.iterator();
        while (cachedBytes + room > 0 && it.hasNext()) {
            Chunk c = it.next();
            it.remove();
            long bytes = c.segment().byteSize();
            // the oldest chunk of its size is the last of its LIFO list
            ArrayDeque<Chunk> q = free.get(bytes);
            if (q.peekLast() == c) q.pollLast(); else q.remove(c);
            if (q.isEmpty()) free.remove(bytes);
            cachedBytes -= bytes;
            evictions++;
            PageMemory.release(c.segment());
            cold.computeIfAbsent(bytes, k -> new ArrayDeque<>()).addFirst(c);
        }
    }

    /** Frees every cached (unused) chunk, and the mappings whose pages were given back. */
    public synchronized void trim() { trimLocked(); }

    private void trimLocked() {
        for (TreeMap<Long, ArrayDeque<Chunk>> lists : List.of(free, cold))
            for (ArrayDeque<Chunk> q : lists.values())
                for (Chunk c : q) c.arena().close();
        free.clear();
        cold.clear();
        age.clear();
        cachedBytes = 0;
    }

    /**
     * Caps the footprint (live + cached) at the most bytes ever live (see {@link #take}), or stops capping. A
     * {@code -Dddpm4j.pool.cap} setting wins over this call.
     */
    public void capFootprint(boolean on) {
        if (CAP_PROPERTY == null) cap = on;
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

    /** Number of cached chunks whose pages were given back to keep the footprint at the high-water mark of live bytes. */
    public synchronized long evictions() { return evictions; }


    /** Frees cached chunks now and live ones as they come back. */
    @Override
    public synchronized void close() {
        trimLocked();
        closed = true;
    }
}
