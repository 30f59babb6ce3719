// SPDX-License-Identifier: Apache-2.0
// A CudaBackend tensor buffer: a device pointer and its byte size, taken from and given back to the DevicePool.
package ddpm4j.kernels.cuda;

import ddpm4j.core.Backend;
import ddpm4j.core.DType;
import ddpm4j.core.Storage;

/** Device memory behind one or more tensors of a {@link CudaBackend}. */
public final class CudaStorage extends Storage {
    private final long ptr;
    private final long bytes;
    private final DevicePool pool;

    CudaStorage(Backend backend, DevicePool pool, DType dtype, long numel) {
        this(backend, pool, pool.take(Math.max(1, numel) * dtype.bytes()), Math.max(1, numel) * dtype.bytes(), dtype, numel);
    }

    private CudaStorage(Backend backend, DevicePool pool, long ptr, long bytes, DType dtype, long numel) {
        super(backend, dtype, numel, () -> pool.give(ptr, bytes));
        this.ptr = ptr;
        this.bytes = bytes;
        this.pool = pool;
    }

    /** The device address of element 0. */
    public long ptr() {
        if (isReleased()) throw new IllegalStateException("use of freed CUDA storage");
        if (pool.isClosed()) throw new IllegalStateException("use of CUDA storage after its backend was closed");
        return ptr;
    }

    /** Size in bytes. */
    public long bytes() { return bytes; }
}
