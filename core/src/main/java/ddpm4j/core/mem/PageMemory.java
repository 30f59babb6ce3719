// SPDX-License-Identifier: Apache-2.0
// Large pool chunks straight from the kernel (mmap / munmap through FFM) on Linux, so memory the pool frees goes back
// to the system at once. Through malloc it did not: glibc raises its mmap threshold after the first large free and
// keeps later blocks in its own heaps. A chunk the pool evicts gives its pages back (madvise) and keeps its mapping.
// Elsewhere, or with -Dddpm4j.pool.mmap=false, chunks come from Arena.allocate.
package ddpm4j.core.mem;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** Page-granular anonymous mappings for chunks of at least {@link #MIN_BYTES}. */
final class PageMemory {
    /** Chunks from this size on are mapped (at most 1.6% of a chunk is lost to rounding up to 4 KiB pages). */
    static final long MIN_BYTES = 256 * 1024;
    private static final int PROT_READ_WRITE = 0x1 | 0x2, MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
    /** From this size on a mapping asks for transparent huge pages (this kernel's THP mode is "madvise"). */
    static final long HUGE_BYTES = 4L << 20;
    private static final int MADV_HUGEPAGE = 14;
    private static final int MADV_DONTNEED = 4;
    private static final boolean HUGE = !"false".equalsIgnoreCase(System.getProperty("ddpm4j.pool.hugepages"));
    private static final MethodHandle MMAP, MUNMAP, MADVISE;

    static {
        MethodHandle map = null, unmap = null, advise = null;
        boolean linux = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");
        if (linux && !"false".equalsIgnoreCase(System.getProperty("ddpm4j.pool.mmap"))) {
            Linker l = Linker.nativeLinker();
            var m = l.defaultLookup().find("mmap");
            var u = l.defaultLookup().find("munmap");
            if (m.isPresent() && u.isPresent()) {
                map = l.downcallHandle(m.get(), FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
                unmap = l.downcallHandle(u.get(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
                var a = l.defaultLookup().find("madvise");
                if (a.isPresent()) advise = l.downcallHandle(a.get(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
            }
        }
        MMAP = advise == null ? null : map;   // eviction needs madvise
        MUNMAP = unmap;
        MADVISE = advise;
    }

    private PageMemory() {}

    /** Whether chunks of {@code bytes} are mapped rather than malloc'ed. */
    static boolean maps(long bytes) {
        return MMAP != null && bytes >= MIN_BYTES;
    }

    /**
     * {@code bytes} of zeroed memory owned by {@code arena}: unmapped when the arena closes. Throws OutOfMemoryError
     * when the kernel refuses.
     */
    @SuppressWarnings("restricted")
    static MemorySegment map(Arena arena, long bytes) {
        MemorySegment p;
        try {
            p = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, bytes, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0L);
        } catch (Throwable t) {
            throw new IllegalStateException("mmap of " + bytes + " bytes failed", t);
        }
        if (p.address() == -1L) throw new OutOfMemoryError("mmap refused " + bytes + " bytes");
        if (HUGE && bytes >= HUGE_BYTES) {
            // 2 MiB pages where the kernel has them: 512x fewer page faults when a freed chunk's size comes back, and
            // fewer TLB misses; only a hint (an error, e.g. THP "never", changes nothing)
            try {
                int ignored = (int) MADVISE.invokeExact(p, bytes, MADV_HUGEPAGE);
            } catch (Throwable t) {
                throw new IllegalStateException("madvise failed", t);
            }
        }
        long address = p.address();
        return p.reinterpret(bytes, arena, seg -> unmap(address, bytes));
    }

    /**
     * Gives the pages of {@code mapped} (a segment from {@link #map}) back to the kernel (madvise MADV_DONTNEED):
     * resident memory drops at once, the mapping stays valid and reads as zeros, pages come back (zeroed) as they are
     * written.
     */
    static void release(MemorySegment mapped) {
        try {
            int rc = (int) MADVISE.invokeExact(mapped, mapped.byteSize(), MADV_DONTNEED);
            if (rc != 0) throw new IllegalStateException("madvise(DONTNEED) of " + mapped.byteSize() + " bytes failed");
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static void unmap(long address, long bytes) {
        try {
            int rc = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), bytes);
            if (rc != 0) throw new IllegalStateException("munmap of " + bytes + " bytes at 0x" + Long.toHexString(address) + " failed");
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
