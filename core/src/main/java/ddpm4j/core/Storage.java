// SPDX-License-Identifier: Apache-2.0
// A backend's buffer behind one or more tensors (views share it). Reference counted: the last close() gives the
// memory back to the backend's pool; a Cleaner does the same for storages that become unreachable unclosed.
package ddpm4j.core;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicInteger;

/** Memory owned by a {@link Backend}. Subclasses hold the address (host segment or device pointer). */
public abstract class Storage {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Backend backend;
    private final DType dtype;
    private final long numel;
    private final AtomicInteger refs = new AtomicInteger(1);
    private final Cleaner.Cleanable cleanable;

    /** {@code release} frees the memory; it must not reference this object (it also runs when it is unreachable). */
    protected Storage(Backend backend, DType dtype, long numel, Runnable release) {
        this.backend = backend;
        this.dtype = dtype;
        this.numel = numel;
        this.cleanable = CLEANER.register(this, release);
    }

    public final Backend backend() { return backend; }

    public final DType dtype() { return dtype; }

    /** Capacity in elements. */
    public final long numel() { return numel; }

    public final boolean isReleased() { return refs.get() <= 0; }

    final void retain() {
        if (refs.getAndUpdate(r -> r <= 0 ? r : r + 1) <= 0)
            throw new IllegalStateException("storage was already freed");
    }

    final void release() {
        if (refs.decrementAndGet() == 0) cleanable.clean();
    }
}
