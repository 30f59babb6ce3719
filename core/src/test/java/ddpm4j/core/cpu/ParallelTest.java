// SPDX-License-Identifier: Apache-2.0
// Parallel.forRange: every index exactly once, for any grain, nested and concurrent calls, errors rethrown.
package ddpm4j.core.cpu;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ParallelTest {

    @Test
    void coversEveryIndexOnce() {
        for (int n : new int[]{1, 2, 7, 33, 1000}) {
            for (int grain : new int[]{1, 3, 16, 5000}) {
                var hits = new AtomicIntegerArray(n);
                for (int rep = 0; rep < 50; rep++) {
                    Parallel.forRange(n, grain, (w, lo, hi) -> {
                        assertTrue(w >= 0 && w < Parallel.threads(), "worker " + w);
                        assertTrue(hi - lo <= grain && lo < hi, lo + ".." + hi);
                        for (int i = lo; i < hi; i++) hits.incrementAndGet(i);
                    });
                }
                for (int i = 0; i < n; i++) assertEquals(50, hits.get(i), "n=" + n + " grain=" + grain + " i=" + i);
            }
        }
    }

    @Test
    void nestedCallsRunInline() {
        var sum = new AtomicLong();
        Parallel.forRange(8, 1, (w, lo, hi) -> Parallel.forRange(100, 7, (w2, a, b) -> {
            for (int i = a; i < b; i++) sum.addAndGet(i);
        }));
        assertEquals(8L * 4950, sum.get());
    }

    @Test
    void concurrentCallersAllFinish() throws InterruptedException {
        var sum = new AtomicLong();
        Thread[] ts = new Thread[4];
        for (int t = 0; t < ts.length; t++) {
            ts[t] = new Thread(() -> {
                for (int r = 0; r < 200; r++) {
                    Parallel.forRange(64, 4, (w, lo, hi) -> sum.addAndGet(hi - lo));
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) t.join();
        assertEquals(4L * 200 * 64, sum.get());
    }

    @Test
    void exceptionsReachTheCaller() {
        var e = assertThrows(IllegalStateException.class, () -> Parallel.forRange(10, 1, (w, lo, hi) -> {
            if (lo == 7) throw new IllegalStateException("chunk 7");
        }));
        assertEquals("chunk 7", e.getMessage());
        var hits = new AtomicLong();   // the pool still works afterwards
        Parallel.forRange(10, 1, (w, lo, hi) -> hits.incrementAndGet());
        assertEquals(10, hits.get());
        assertThrows(IllegalArgumentException.class, () -> Parallel.forRange(10, 0, (w, lo, hi) -> { }));
    }
}
