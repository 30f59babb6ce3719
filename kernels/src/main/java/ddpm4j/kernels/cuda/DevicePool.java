// SPDX-License-Identifier: Apache-2.0
// Device memory for one CudaBackend: size-bucketed free lists over cuMemAlloc (slow, and synchronising on real GPUs),
// so a training step that allocates the same shapes every iteration reuses the same blocks. Blocks go back to the
// pool without a CUDA call (so the Cleaner thread may return them); cuMemFree happens in trim() and close().
package ddpm4j.kernels.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/** A thread-safe pool of device blocks, 256-byte size classes. All work is on one stream, so reuse is ordered. */
final class DevicePool {
    private static final long ALIGN = 256;

    private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
    private long liveBytes, cachedBytes, peakBytes, allocations, reuses;
    private boolean closed;

    static long sizeClass(long bytes) { return Math.max(ALIGN, (bytes + ALIGN - 1) / ALIGN * ALIGN); }

    /**
     * A block of at least {@code bytes}. On out-of-memory the cached blocks are freed and the allocation retried once;
     * if that fails too, the CudaException says how much was asked and how much is free.
     */
    synchronized long take(long bytes) {
        if (closed) throw new IllegalStateException("CUDA backend is closed");
        long size = sizeClass(bytes);
        ArrayDeque<Long> q = free.get(size);
        Long p = q == null ? null : q.pollFirst();
        if (p != null) {
            cachedBytes -= size;
            reuses++;
        } else {
            try {
                p = CudaDriver.cuMemAlloc(size);
            } catch (CudaException e) {
                if (e.status() != CudaDriver.CUDA_ERROR_OUT_OF_MEMORY || cachedBytes == 0) throw e;
                trimLocked();
                p = CudaDriver.cuMemAlloc(size);
            }
            allocations++;
        }
        liveBytes += size;
        peakBytes = Math.max(peakBytes, liveBytes);
        return p;
    }

    /** Returns a block taken with {@code take(bytes)}. */
    synchronized void give(long ptr, long bytes) {
        long size = sizeClass(bytes);
        liveBytes -= size;
        if (closed) return;   // close() already freed every block the context owned
        free.computeIfAbsent(size, k -> new ArrayDeque<>()).addFirst(ptr);
        cachedBytes += size;
    }

    /** Frees every cached block (the caller's thread must have the context current). */
    synchronized void trim() { trimLocked(); }

    private void trimLocked() {
        for (ArrayDeque<Long> q : free.values()) for (long p : q) CudaDriver.cuMemFree(p);
        free.clear();
        cachedBytes = 0;
    }

    /** Frees the cached blocks and refuses further use; blocks still live are freed with the context. */
    synchronized void close() {
        if (closed) return;
        trimLocked();
        closed = true;
    }

    synchronized boolean isClosed() { return closed; }

    synchronized long liveBytes() { return liveBytes; }

    synchronized long peakBytes() { return peakBytes; }

    synchronized void resetPeak() { peakBytes = liveBytes; }

    synchronized String stats() {
        return String.format("%d cuMemAlloc, %d reuses, %.1f MiB live, %.1f MiB cached, %.1f MiB peak",
                allocations, reuses, liveBytes / 1048576.0, cachedBytes / 1048576.0, peakBytes / 1048576.0);
    }
}
