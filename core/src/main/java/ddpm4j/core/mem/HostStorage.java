// SPDX-License-Identifier: Apache-2.0
// Storage in host memory from a HostPool: what the reference and CPU backends compute on.
package ddpm4j.core.mem;

import ddpm4j.core.Backend;
import ddpm4j.core.DType;
import ddpm4j.core.Storage;
import java.lang.foreign.MemorySegment;

/** A pooled native segment holding {@code numel} elements of {@code dtype}. */
public final class HostStorage extends Storage {
    private final MemorySegment segment;

    public HostStorage(Backend backend, HostPool pool, DType dtype, long numel) {
        this(backend, pool, pool.take(Math.max(1, numel) * dtype.bytes()), dtype, numel);
    }

    private HostStorage(Backend backend, HostPool pool, HostPool.Chunk chunk, DType dtype, long numel) {
        super(backend, dtype, numel, () -> pool.give(chunk));
        this.segment = chunk.segment().asSlice(0, numel * dtype.bytes());
    }

    /** The memory, sized exactly {@code numel * dtype.bytes()}. */
    public MemorySegment segment() {
        if (isReleased()) throw new IllegalStateException("use of freed host storage");
        return segment;
    }
}
