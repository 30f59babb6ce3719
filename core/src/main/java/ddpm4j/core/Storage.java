// SPDX-License-Identifier: Apache-2.0
// A backend's buffer behind one or more tensors (views share it). Reference counted: the last close() gives the
// memory back to the backend's pool; a Cleaner does the same for storages that become unreachable unclosed.
// With -Dddpm4j.leaks=report every storage remembers where it was allocated, and one the Cleaner has to reclaim is
// reported with that stack (and counted in Storage.leaked()), so a missing close() can be found.
package ddpm4j.core;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** Memory owned by a {@link Backend}. Subclasses hold the address (host segment or device pointer). */
public abstract class Storage {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final boolean TRACK = "report".equals(System.getProperty("ddpm4j.leaks"));
    private static final AtomicLong LEAKED = new AtomicLong();

    private final Backend backend;
    private final DType dtype;
    private final long numel;
    private final AtomicInteger refs = new AtomicInteger(1);
    private final Cleaner.Cleanable cleanable;
    private final Tracked tracked;   // null unless -Dddpm4j.leaks=report

    /** {@code release} frees the memory; it must not reference this object (it also runs when it is unreachable). */
    protected Storage(Backend backend, DType dtype, long numel, Runnable release) {
        this.backend = backend;
        this.dtype = dtype;
        this.numel = numel;
        this.tracked = TRACK ? new Tracked(release, new Throwable("allocated here"),
                numel * dtype.bytes() + " B " + dtype + " on " + backend.name()) : null;
        this.cleanable = CLEANER.register(this, tracked != null ? tracked : release);
    }

    public final Backend backend() { return backend; }

    public final DType dtype() { return dtype; }

    /** Capacity in elements. */
    public final long numel() { return numel; }

    public final boolean isReleased() { return refs.get() <= 0; }

    /** Storages the Cleaner reclaimed because nobody closed them (counted only with {@code -Dddpm4j.leaks=report}). */
    public static long leaked() { return LEAKED.get(); }

    /** Tensors holding this storage (borrowed kernel-argument views do not count); 0 once freed. */
    final int refCount() { return Math.max(0, refs.get()); }

    final void retain() {
        if (refs.getAndUpdate(r -> r <= 0 ? r : r + 1) <= 0)
            throw new IllegalStateException("storage was already freed");
    }

    final void release() {
        if (refs.decrementAndGet() == 0) {
            if (tracked != null) tracked.closed = true;
            cleanable.clean();
        }
    }

    /** What the Cleaner runs when allocation sites are tracked; holds no reference to the Storage. */
    private static final class Tracked implements Runnable {
        private final Runnable free;
        private final Throwable site;
        private final String what;
        volatile boolean closed;

        Tracked(Runnable free, Throwable site, String what) {
            this.free = free;
            this.site = site;
            this.what = what;
        }

        @Override public void run() {
            if (!closed) {
                LEAKED.incrementAndGet();
                System.err.println("ddpm4j: a storage of " + what + " was never closed; the garbage collector freed it");
                site.printStackTrace();
            }
            free.run();
        }
    }
}
