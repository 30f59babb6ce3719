// SPDX-License-Identifier: Apache-2.0
// Parallel-for over a fixed pool of worker threads, shared by every CPU kernel (CpuBackend, Gemm's Java path).
// The calling thread takes part as worker 0; nested or concurrent calls run inline, so kernels never deadlock.
package ddpm4j.core.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * A tiny parallel-for for CPU kernels.
 *
 * <p>The pool has {@link #threads()} workers (default {@code Runtime.availableProcessors()}, set with
 * {@code -Dddpm4j.threads=N}); the caller is worker 0 and {@code threads() - 1} daemon threads are the rest.
 * A call hands out chunks of {@code [0, n)} from a shared counter, so a busy core does not hold the others up,
 * and allocates nothing itself. A call made while the pool is busy (from inside a body, or from another thread)
 * runs the whole range on its own thread.
 */
public final class Parallel {

    /** A loop body over the index range {@code [lo, hi)}; {@code worker} is in {@code [0, threads())}, for scratch. */
    @FunctionalInterface
    public interface Body {
        /** Runs indices {@code [lo, hi)} on worker {@code worker}. */
        void run(int worker, int lo, int hi);
    }

    private static final int THREADS = Math.max(1, Integer.getInteger("ddpm4j.threads",
            Runtime.getRuntime().availableProcessors()));
    /** How long an idle worker spins before parking, in nanoseconds: long enough to bridge back-to-back kernels. */
    private static final long SPIN_NANOS = Long.getLong("ddpm4j.spinNanos", 50_000L);

    private static final VarHandle CLAIM, DONE, GENERATION, BUSY;
    static {
        try {
            var l = MethodHandles.lookup();
            CLAIM = l.findStaticVarHandle(Parallel.class, "claim", long.class);
            DONE = l.findStaticVarHandle(Parallel.class, "done", int.class);
            GENERATION = l.findStaticVarHandle(Parallel.class, "generation", int.class);
            BUSY = l.findStaticVarHandle(Parallel.class, "busy", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    // The task being run, guarded seqlock-style by GENERATION: odd while the caller writes it, even once published.
    // CLAIM is (generation << 32 | next chunk), so a worker holding a stale task can never claim a chunk of a newer one.
    private static Body body;
    private static int n, grain, chunks;
    @SuppressWarnings("unused") private static volatile long claim;
    @SuppressWarnings("unused") private static volatile int done, generation, busy;
    private static volatile Throwable failure;
    private static final Thread[] WORKERS = new Thread[THREADS];

    static {
        for (int w = 1; w < THREADS; w++) {
            int id = w;
            Thread t = new Thread(() -> workerLoop(id), "ddpm4j-cpu-" + w);
            t.setDaemon(true);
            WORKERS[w] = t;
            t.start();
        }
    }

    private Parallel() {}

    /** Number of workers, the calling thread included. */
    public static int threads() {
        return THREADS;
    }

    /**
     * True when the pool's threads may access {@code s} (false for a segment of a confined arena); kernels run
     * serially on the calling thread otherwise.
     */
    public static boolean accessibleByWorkers(MemorySegment s) {
        return THREADS == 1 || s.isAccessibleBy(WORKERS[1]);
    }

    /**
     * Takes the pool for work that brings its own threads (OpenBLAS's, in Gemm): while held, forRange calls from any
     * thread run inline, so the cores are not oversubscribed. Returns false, taking nothing, when the pool is busy
     * or there is one thread; a true return must be paired with {@link #releasePool()}.
     */
    static boolean tryTakePool() {
        return THREADS > 1 && BUSY.compareAndSet(0, 1);
    }

    /** Gives back the pool taken by {@link #tryTakePool()}. */
    static void releasePool() {
        BUSY.setVolatile(0);
    }

    /** Runs {@code body} over {@code [0, n)} split into about {@code threads()} equal chunks. */
    public static void forRange(int n, Body body) {
        forRange(n, Math.max(1, (n + THREADS - 1) / THREADS), body);
    }

    /**
     * Runs {@code body} over {@code [0, n)} in chunks of {@code grain} indices (the last may be shorter), spread over
     * the pool. Returns when every chunk has run; an exception from any chunk is rethrown here.
     */
    public static void forRange(int n, int grain, Body body) {
        if (n <= 0) return;
        if (grain < 1) throw new IllegalArgumentException("Parallel.forRange: grain must be >= 1, got " + grain);
        int chunks = (int) Math.min(Integer.MAX_VALUE, ((long) n + grain - 1) / grain);
        if (chunks == 1 || THREADS == 1 || !BUSY.compareAndSet(0, 1)) {
            body.run(0, 0, n);          // small, single-threaded, nested or concurrent: run inline
            return;
        }
        try {
            // 1. publish the task: odd generation while writing, even when readable
            int g = (int) GENERATION.getAndAdd(1) + 2;
            Parallel.body = body;
            Parallel.n = n;
            Parallel.grain = grain;
            Parallel.chunks = chunks;
            failure = null;
            DONE.setVolatile(0);
            CLAIM.setVolatile((long) g << 32);
            GENERATION.setVolatile(g);
            for (int w = 1; w < THREADS; w++) LockSupport.unpark(WORKERS[w]);
            // 2. run chunks here too, then wait for the ones other workers claimed
            DONE.getAndAdd(runChunks(0, g, body, n, grain, chunks));
            // spin briefly, then yield: on an oversubscribed machine the worker holding the last chunk needs the core
            long start = System.nanoTime();
            while ((int) DONE.getVolatile() < chunks) {
                if (System.nanoTime() - start < SPIN_NANOS / 4) Thread.onSpinWait();
                else Thread.yield();
            }
            Throwable f = failure;
            if (f != null) {
                if (f instanceof RuntimeException r) throw r;
                if (f instanceof Error e) throw e;
                throw new RuntimeException(f);
            }
        } finally {
            Parallel.body = null;
            BUSY.setVolatile(0);
        }
    }

    // Claims and runs chunks of generation g until none is left; returns how many this worker ran.
    private static int runChunks(int worker, int g, Body b, int n, int grain, int chunks) {
        int ran = 0;
        while (true) {
            long v = (long) CLAIM.getVolatile();
            int c = (int) v;
            if ((int) (v >>> 32) != g || c >= chunks) return ran;
            if (!CLAIM.compareAndSet(v, v + 1)) continue;
            int lo = c * grain;
            try {
                b.run(worker, lo, Math.min(n, lo + grain));
            } catch (Throwable t) {
                failure = t;
            }
            ran++;
        }
    }

    private static void workerLoop(int worker) {
        int seen = (int) GENERATION.getVolatile();
        while (true) {
            // 1. wait for a newly published (even) generation: spin briefly, since kernels come back to back, then park
            long start = System.nanoTime();
            int g;
            while ((g = (int) GENERATION.getVolatile()) == seen || (g & 1) != 0) {
                if (System.nanoTime() - start < SPIN_NANOS) Thread.onSpinWait();
                else LockSupport.park(Parallel.class);
            }
            seen = g;
            // 2. snapshot the task; if the generation moved meanwhile, the snapshot may be torn: go round again
            Body b = body;
            int n = Parallel.n, grain = Parallel.grain, chunks = Parallel.chunks;
            VarHandle.acquireFence();   // the reads above happen before the re-check below
            if ((int) GENERATION.getVolatile() != g || b == null) continue;
            int ran = runChunks(worker, g, b, n, grain, chunks);
            if (ran > 0) DONE.getAndAdd(ran);
        }
    }
}
