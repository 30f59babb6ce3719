// SPDX-License-Identifier: Apache-2.0
// One kernel function and its launch: arguments packed exactly as cuLaunchKernel expects (kernelParams[i] points at
// the i-th value), which is also what the host emulation's ddpm4j_emu_launch reads.
package ddpm4j.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A loaded kernel. Argument Java types map to C types: {@code Long} = pointer or unsigned long long (8 bytes),
 * {@code Integer} = int, {@code Float} = float, {@code MemorySegment} = a struct passed by value (its bytes).
 */
record CudaKernel(String name, MemorySegment function) {

    /** Launches on {@code stream} with a (gx, gy, 1) grid and (bx, by, 1) block. */
    void launch(MemorySegment stream, int gx, int gy, int bx, int by, int sharedBytes, Object... args) {
        if (gx < 1 || gy < 1 || bx < 1 || by < 1)
            throw new IllegalArgumentException(name + ": empty launch grid (" + gx + "," + gy + ") block (" + bx + "," + by + ")");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = a.allocate(ValueLayout.ADDRESS, args.length);
            for (int i = 0; i < args.length; i++) {
                MemorySegment slot = switch (args[i]) {
                    case Long v -> a.allocateFrom(ValueLayout.JAVA_LONG, v);
                    case Integer v -> a.allocateFrom(ValueLayout.JAVA_INT, v);
                    case Float v -> a.allocateFrom(ValueLayout.JAVA_FLOAT, v);
                    case MemorySegment s -> a.allocate(s.byteSize(), 8).copyFrom(s);
                    default -> throw new IllegalArgumentException(name + ": argument " + i + " has unsupported type "
                            + args[i].getClass().getSimpleName());
                };
                params.setAtIndex(ValueLayout.ADDRESS, i, slot);
            }
            CudaDriver.cuLaunchKernel(function, gx, gy, 1, bx, by, 1, sharedBytes, stream, params, name);
        }
    }

    /** Blocks for a grid-stride kernel over n elements: block 256, at most 4096 blocks. */
    static int gridFor(long n) { return (int) Math.max(1, Math.min((n + 255) / 256, 4096)); }
}
