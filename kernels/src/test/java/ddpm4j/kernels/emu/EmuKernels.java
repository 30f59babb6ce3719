// SPDX-License-Identifier: Apache-2.0
// Test helper: launches the kernels of libddpm4j_cudaemu_kernels.so (src/cuda/*.cu compiled for the host by
// src/build-emu.sh) through FFM with cuLaunchKernel's argument packing; host memory stands in for device memory.
package ddpm4j.kernels.emu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

final class EmuKernels implements AutoCloseable {
    static final String PROPERTY = "ddpm4j.emu.kernels";

    /** A launch geometry (grid and block extents). */
    record Dim3(int x, int y, int z) {
        static Dim3 of(int x) { return new Dim3(x, 1, 1); }
        static Dim3 of(int x, int y) { return new Dim3(x, y, 1); }
    }

    /** A struct passed by value: the kernel parameter slot points at these bytes. */
    record ByValue(MemorySegment bytes) {}

    private static final class Lib {
        static final MethodHandle LAUNCH, LAST_ERROR;
        static {
            Path p = Path.of(System.getProperty(PROPERTY));
            SymbolLookup l = SymbolLookup.libraryLookup(p, Arena.global());   // never unloaded: it owns threads
            Linker linker = Linker.nativeLinker();
            var I = ValueLayout.JAVA_INT;
            LAUNCH = linker.downcallHandle(l.findOrThrow("ddpm4j_emu_launch"),
                    FunctionDescriptor.of(I, ValueLayout.ADDRESS, I, I, I, I, I, I, I, ValueLayout.ADDRESS));
            LAST_ERROR = linker.downcallHandle(l.findOrThrow("ddpm4j_emu_last_error"),
                    FunctionDescriptor.of(ValueLayout.ADDRESS.withTargetLayout(
                            java.lang.foreign.MemoryLayout.sequenceLayout(4096, ValueLayout.JAVA_BYTE))));
        }
    }

    final Arena arena = Arena.ofConfined();

    private EmuKernels() {}

    /** Opens the library, or skips the test (assumption) when it was not built (no g++). */
    static EmuKernels open() {
        String p = System.getProperty(PROPERTY);
        assumeTrue(p != null && Files.isRegularFile(Path.of(p)),
                "CUDA emulation library not built (property " + PROPERTY + " = " + p + "); needs g++ on x86-64");
        return new EmuKernels();
    }

    @Override public void close() { arena.close(); }

    MemorySegment floats(float... v) {
        MemorySegment s = arena.allocate(ValueLayout.JAVA_FLOAT, Math.max(1, v.length));
        MemorySegment.copy(v, 0, s, ValueLayout.JAVA_FLOAT, 0, v.length);
        return s;
    }

    MemorySegment ints(int... v) {
        MemorySegment s = arena.allocate(ValueLayout.JAVA_INT, Math.max(1, v.length));
        MemorySegment.copy(v, 0, s, ValueLayout.JAVA_INT, 0, v.length);
        return s;
    }

    MemorySegment zeros(int n) { return arena.allocate(ValueLayout.JAVA_FLOAT, Math.max(1, n)); }

    /** A buffer filled with NaN, so an element a kernel forgot to write is seen. */
    MemorySegment poisoned(int n) {
        MemorySegment s = zeros(n);
        s.fill((byte) 0xFF);
        return s;
    }

    static float[] read(MemorySegment s, int n) {
        float[] a = new float[n];
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 0, a, 0, n);
        return a;
    }

    static int[] readInts(MemorySegment s, int n) {
        int[] a = new int[n];
        MemorySegment.copy(s, ValueLayout.JAVA_INT, 0, a, 0, n);
        return a;
    }

    /** src/cuda/common.cuh Strides6: rank, n, shape[6], stride_a[6], stride_b[6], offset_a, offset_b (88 bytes). */
    ByValue strides6(int[] shape, int[] strideA, int[] strideB, int offsetA, int offsetB) {
        if (shape.length < 1 || shape.length > 6) throw new IllegalArgumentException("rank " + shape.length);
        MemorySegment s = arena.allocate(88, 4);
        int n = 1;
        for (int d : shape) n *= d;
        s.setAtIndex(ValueLayout.JAVA_INT, 0, shape.length);
        s.setAtIndex(ValueLayout.JAVA_INT, 1, n);
        for (int d = 0; d < 6; d++) {
            boolean in = d < shape.length;
            s.setAtIndex(ValueLayout.JAVA_INT, 2 + d, in ? shape[d] : 1);
            s.setAtIndex(ValueLayout.JAVA_INT, 8 + d, in ? strideA[d] : 0);
            s.setAtIndex(ValueLayout.JAVA_INT, 14 + d, in ? strideB[d] : 0);
        }
        s.setAtIndex(ValueLayout.JAVA_INT, 20, offsetA);
        s.setAtIndex(ValueLayout.JAVA_INT, 21, offsetB);
        return new ByValue(s);
    }

    /** Launches and returns the status code; args: MemorySegment (pointer), Integer, Float, Long, ByValue. */
    int launchStatus(String kernel, Dim3 grid, Dim3 block, int sharedBytes, Object... args) {
        MemorySegment params = arena.allocate(ValueLayout.ADDRESS, Math.max(1, args.length));
        for (int i = 0; i < args.length; i++) {
            MemorySegment slot = switch (args[i]) {
                case MemorySegment m -> arena.allocateFrom(ValueLayout.ADDRESS, m);
                case Integer v -> arena.allocateFrom(ValueLayout.JAVA_INT, v);
                case Float v -> arena.allocateFrom(ValueLayout.JAVA_FLOAT, v);
                case Long v -> arena.allocateFrom(ValueLayout.JAVA_LONG, v);
                case ByValue b -> b.bytes();
                default -> throw new IllegalArgumentException("kernel argument " + i + ": " + args[i].getClass());
            };
            params.setAtIndex(ValueLayout.ADDRESS, i, slot);
        }
        try {
            return (int) Lib.LAUNCH.invokeExact(arena.allocateFrom(kernel), grid.x(), grid.y(), grid.z(), block.x(),
                    block.y(), block.z(), sharedBytes, params);
        } catch (Throwable t) {
            throw new AssertionError("ddpm4j_emu_launch(" + kernel + ") threw", t);
        }
    }

    /** Launches and fails the test with the emulation's message on a nonzero status. */
    void launch(String kernel, Dim3 grid, Dim3 block, int sharedBytes, Object... args) {
        int rc = launchStatus(kernel, grid, block, sharedBytes, args);
        if (rc != 0) throw new AssertionError("launch of " + kernel + " failed with " + rc + ": " + lastError());
    }

    static String lastError() {
        try {
            return ((MemorySegment) Lib.LAST_ERROR.invokeExact()).getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
