// SPDX-License-Identifier: Apache-2.0
// HostPool: exact-size reuse, the footprint cap (best fit up to 2x, then eviction of the oldest), mapped chunks.
package ddpm4j.core.mem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class HostPoolTest {
    private static final long K = 1024, M = K * K;

    private static HostPool capped() {
        HostPool p = new HostPool("test");
        p.capFootprint(true);
        return p;
    }

    /** Two phases with disjoint sizes, as a forward pass's temporaries and a backward pass's gradients. */
    private static long phases(HostPool p, int steps) {
        long peakFootprint = 0;
        for (int step = 0; step < steps; step++) {
            List<HostPool.Chunk> phase1 = new ArrayList<>();
            for (int i = 0; i < 8; i++) phase1.add(p.take(M));          // 8 MiB live
            for (HostPool.Chunk c : phase1) p.give(c);                    // cached: 8 x 1 MiB
            List<HostPool.Chunk> phase2 = new ArrayList<>();
            for (int i = 0; i < 3; i++) {                                 // 3 x 3 MiB: none fits 1 MiB chunks
                phase2.add(p.take(3 * M));
                peakFootprint = Math.max(peakFootprint, p.liveBytes() + p.cachedBytes());
            }
            for (HostPool.Chunk c : phase2) p.give(c);
        }
        return peakFootprint;
    }

    @Test
    void uncappedTheCacheKeepsBothPhasesBlocks() {
        try (HostPool p = new HostPool("test")) {
            assertEquals(17 * M, phases(p, 3), "8 x 1 MiB cached beside 3 x 3 MiB live");
            assertEquals(0, p.evictions());
        }
    }

    @Test
    void sameSizeIsReusedWithoutANewAllocation() {
        try (HostPool p = capped()) {
            HostPool.Chunk a = p.take(3 * M + 5);
            p.give(a);
            HostPool.Chunk b = p.take(3 * M + 5);
            assertSame(a, b);
            assertEquals(1, p.allocations());
            assertEquals(1, p.reuses());
            p.give(b);
        }
    }

    @Test
    void footprintNeverPassesTheLivePeak() {
        try (HostPool p = capped()) {
            long peakFootprint = phases(p, 4);
            // the most ever live is 9 MiB (phase 2); without the cap the footprint would be 8 + 9 = 17 MiB
            assertEquals(9 * M, p.peakBytes());
            assertTrue(peakFootprint <= 9 * M, "footprint " + peakFootprint + " above the live peak " + 9 * M);
            assertTrue(p.evictions() > 0);
        }
    }

    @Test
    void aMissOverTheCapTakesACachedChunkOfUpToTwiceItsSize() {
        try (HostPool p = capped()) {
            HostPool.Chunk big = p.take(2 * M);
            p.give(big);
            HostPool.Chunk c = p.take(M + 64);                                // 2 MiB <= 2 x (1 MiB + 64)
            assertSame(big, c);
            assertEquals(2 * M, p.liveBytes());
            assertEquals(0, p.cachedBytes());
            p.give(c);
            assertEquals(0, p.liveBytes());
            assertEquals(2 * M, p.cachedBytes());
            HostPool.Chunk small = p.take(M / 2);                             // 2 MiB > 2 x 512 KiB: evicts
            assertEquals(1, p.evictions());
            assertEquals(0, p.cachedBytes());
            assertEquals(M / 2, small.segment().byteSize());
            p.give(small);
        }
    }

    /** An evicted mapped chunk gives its pages back but keeps its mapping, and serves a later request of its size. */
    @Test
    void anEvictedChunkTurnsColdAndIsUsedAgain() {
        assumeTrue(PageMemory.maps(PageMemory.MIN_BYTES), "needs mmap and madvise (Linux)");
        try (HostPool p = capped()) {
            HostPool.Chunk a = p.take(6 * M);
            a.segment().fill((byte) 7);
            p.give(a);
            HostPool.Chunk b = p.take(2 * M);          // 2 + 6 > 6 MiB, 6 > 2 x 2: a's pages are given back
            assertEquals(1, p.evictions());
            assertEquals(0, p.cachedBytes());
            assertTrue(a.arena().scope().isAlive(), "a keeps its mapping");
            p.give(b);
            HostPool.Chunk again = p.take(6 * M);       // b is evicted in turn; a comes back from the cold list
            assertSame(a, again);
            assertEquals(2, p.evictions());
            assertEquals(0, again.segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 6 * M - 1), "released pages read as zero");
            again.segment().fill((byte) 5);
            assertEquals(5, again.segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            p.give(again);
            assertEquals(2, p.allocations(), "a and b only");
        }
    }

    @Test
    void mappedAndMallocedChunksHoldData() {
        try (HostPool p = capped()) {
            for (long size : new long[] {64, 4 * K + 8, PageMemory.MIN_BYTES, 5 * M + 64}) {
                HostPool.Chunk c = p.take(size);
                MemorySegment s = c.segment();
                assertTrue(s.byteSize() >= size);
                assertEquals(0, s.address() % 64, "alignment of a " + size + "-byte chunk");
                long last = s.byteSize() / 8 - 1;
                s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 0x1234L);
                s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, last, size);
                assertEquals(0x1234L, s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, 0));
                assertEquals(size, s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, last));
                p.give(c);
            }
            p.trim();
            assertEquals(0, p.cachedBytes());
        }
    }

    @Test
    void aClosedPoolRefusesAndFreesWhatComesBack() {
        HostPool p = new HostPool("pool under test");
        HostPool.Chunk c = p.take(M);
        p.close();
        var e = assertThrows(IllegalStateException.class, () -> p.take(64));
        assertTrue(e.getMessage().contains("pool under test"), e.getMessage());
        p.give(c);
        assertEquals(0, p.liveBytes());
        assertTrue(!c.arena().scope().isAlive());
    }
}
