// SPDX-License-Identifier: Apache-2.0
// Shared helpers of the CPU kernels: the segment behind a tensor, the vector species, and per-worker scratch.
package ddpm4j.core.cpu;

import ddpm4j.core.DType;
import ddpm4j.core.Tensor;
import ddpm4j.core.mem.HostStorage;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Tensor-to-segment access and scratch buffers for the CPU kernels. */
final class CpuMem {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    static final ByteOrder LE = ByteOrder.nativeOrder();
    /** Elementwise work below this many elements runs on one thread (the pool's hand-off costs a few microseconds). */
    static final int GRAIN = 1 << 15;

    // Per-thread float[] scratch, grown on demand and kept: kernels do not allocate in steady state. Keyed by thread,
    // not worker index, because a call that Parallel runs inline (concurrent callers) also reports worker 0.
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[4][0]);

    private CpuMem() {}

    /**
     * Sum of the lanes in lane order. Not {@code reduceLanes(ADD)}: its order is unspecified, and the C2 intrinsic
     * (a tree) and the interpreter's fallback (in order) round differently, so results would depend on when the JIT
     * compiled a kernel and a resumed run would not repeat an uninterrupted one bit for bit.
     */
    static float sumLanes(FloatVector v) {
        float s = 0f;
        for (int i = 0; i < L; i++) s += v.lane(i);
        return s;
    }

    /**
     * Sum of {@code lanes[0, L)} in lane order: as {@link #sumLanes(FloatVector)}, for a vector that its kernel stored
     * with {@code intoArray(lanes(), 0)}. Kernels whose row methods are large use this form: no vector crosses a call
     * here, so C2 never boxes one when it declines to inline the sum (NodeCountInliningCutoff).
     */
    static float sumLanes(float[] lanes) {
        float s = 0f;
        for (int i = 0; i < L; i++) s += lanes[i];
        return s;
    }

    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[L]);

    /** The calling thread's L floats for {@link #sumLanes(float[])}. */
    static float[] lanes() {
        return LANES.get();
    }

    /** The storage segment of {@code t} (element 0 of the storage at byte 0); pair with {@link #off}. */
    static MemorySegment base(Tensor t) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException("cpu backend: F32 tensors only, got " + t.dtype() + " "
                    + java.util.Arrays.toString(t.shape()));
        }
        return ((HostStorage) t.storage()).segment();
    }

    /** Byte offset of {@code t}'s first element in {@link #base}. */
    static long off(Tensor t) {
        return t.offset() * Float.BYTES;
    }

    /** A segment holding exactly {@code t}'s elements, for contiguous {@code t}; null for null. */
    static MemorySegment seg(Tensor t) {
        if (t == null) return null;
        return base(t).asSlice(off(t), t.numel() * Float.BYTES);
    }

    /** Scratch array {@code slot} (0..3) of the calling thread, at least {@code n} floats, contents undefined. */
    static float[] scratch(int slot, int n) {
        float[][] mine = SCRATCH.get();
        float[] a = mine[slot];
        if (a.length < n) mine[slot] = a = new float[n];
        return a;
    }

    // Per-thread native scratch (for OpenBLAS operands), from auto arenas: freed once the thread and holder are gone.
    private static final ThreadLocal<MemorySegment[]> NATIVE = ThreadLocal.withInitial(() -> new MemorySegment[4]);

    /** Native scratch segment {@code slot} (0..3) of the calling thread, at least {@code bytes}, 64-byte aligned. */
    static MemorySegment scratchSegment(int slot, long bytes) {
        MemorySegment[] mine = NATIVE.get();
        MemorySegment s = mine[slot];
        if (s == null || s.byteSize() < bytes) {
            mine[slot] = s = java.lang.foreign.Arena.ofAuto().allocate(Math.max(bytes, 64), 64);
        }
        return s;
    }

    /** Grain for n elements: one chunk per thread, but never below GRAIN. */
    static int grain(long n) {
        return (int) Math.max(GRAIN, (n + Parallel.threads() - 1) / Parallel.threads());
    }
}
