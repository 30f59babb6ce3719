// SPDX-License-Identifier: Apache-2.0
// Scratch memory of the Winograd kernels (WinogradConv2d, WinogradWeightGrad): per call, U / V / M / dU from the
// backend's pool; per thread, the small float[] that one block's rows of one channel are padded into.
package ddpm4j.core.cpu;

import ddpm4j.core.Backend;
import ddpm4j.core.DType;
import ddpm4j.core.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * {@code floats} floats of native memory for one call, 64-byte aligned, contents undefined. With a backend they are a
 * pooled tensor's: the next layer or step reuses them, and they count in the backend's live bytes and peak, so the
 * Winograd buffers cost nothing beyond the pool's own high-water mark. Without one (kernel tests) a shared arena,
 * freed by {@link #close()}.
 */
final class WinogradScratch implements AutoCloseable {
    final MemorySegment seg;
    private final Tensor tensor;
    private final Arena arena;

    private WinogradScratch(Backend be, long floats) {
        if (floats > Integer.MAX_VALUE) throw new IllegalArgumentException("winograd scratch: " + floats + " floats > int");
        if (be != null) {
            tensor = Tensor.empty(be, DType.F32, (int) Math.max(1, floats)).detachFromScope();
            arena = null;
            seg = CpuMem.seg(tensor);
        } else {
            tensor = null;
            arena = Arena.ofShared();
            seg = arena.allocate(4 * Math.max(1, floats), 64);
        }
    }

    /** Scratch of {@code floats} floats; {@code be} null: from an arena of its own. */
    static WinogradScratch take(Backend be, long floats) {
        return new WinogradScratch(be, floats);
    }

    /** Floats rounded up to whole 64-byte lines, so that slices at such offsets stay aligned. */
    static long lines(long floats) {
        return (floats + 15) / 16 * 16;
    }

    @Override
    public void close() {
        if (tensor != null) tensor.close();
        else arena.close();
    }

    private static final ThreadLocal<float[][]> SLAB = ThreadLocal.withInitial(() -> new float[1][0]);

    /**
     * The calling thread's slab of at least {@code n} floats (contents undefined): a few padded rows of one channel,
     * at most some 10 KB at the U-Nets' sizes, so it stays on the heap, and in L1 between its fill and its reads.
     */
    static float[] slab(int n) {
        float[][] h = SLAB.get();
        if (h[0].length < n) h[0] = new float[n + n / 4];
        return h[0];
    }
}
