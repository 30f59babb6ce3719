// SPDX-License-Identifier: Apache-2.0
// src/cuda/philox.cu on the host emulation reproduces ddpm4j.core.Philox bit for bit: uniform and normal streams
// at odd offsets (not multiples of the 4-word block), awkward lengths, 64-bit seeds and counters, several geometries.
package ddpm4j.kernels.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ddpm4j.core.Philox;
import ddpm4j.kernels.emu.EmuKernels.Dim3;
import org.junit.jupiter.api.Test;

class PhiloxEmuTest {
    static final long[] SEEDS = {0L, 42L, 0x9E3779B97F4A7C15L, -1L};
    static final long[] OFFSETS = {0L, 1L, 3L, 5L, 1L << 33 | 3L, 0x7FFFFFFF_FFFFFFF0L};
    static final int[] SIZES = {1, 7, 33, 1000};

    static void check(String kernel, boolean normal) {
        try (var k = EmuKernels.open()) {
            for (long seed : SEEDS)
                for (long offset : OFFSETS)
                    for (int n : SIZES) {
                        float[] want = new float[n];
                        if (normal) Philox.normal(seed, offset, want, 0, n);
                        else Philox.uniform(seed, offset, want, 0, n);
                        Dim3[] grids = n == 1000 ? new Dim3[] {Dim3.of(1), Dim3.of(2), Dim3.of(4)} : new Dim3[] {Dim3.of(1)};
                        for (Dim3 grid : grids) {
                            var out = k.poisoned(n);
                            k.launch(kernel, grid, Dim3.of(grid.x() == 4 ? 64 : 96), 0, out, seed, offset, n);
                            float[] got = EmuKernels.read(out, n);
                            for (int i = 0; i < n; i++)
                                assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]),
                                        () -> kernel + " seed " + seed + " offset " + offset + " n " + n + ": mismatch");
                        }
                    }
        }
    }

    @Test
    void uniformStreamIsBitExact() { check("philox_uniform_forward", false); }

    @Test
    void normalStreamIsBitExact() { check("philox_normal_forward", true); }

    @Test
    void normalStreamIsBitExactOverManyBlocks() {
        // 2^18 normals: every branch of the sin/cos quadrant switch and the log range reduction
        int n = 1 << 18;
        float[] want = new float[n];
        Philox.normal(7, 11, want, 0, n);
        try (var k = EmuKernels.open()) {
            var out = k.poisoned(n);
            k.launch("philox_normal_forward", Dim3.of(64), Dim3.of(256), 0, out, 7L, 11L, n);
            float[] got = EmuKernels.read(out, n);
            int bad = 0;
            for (int i = 0; i < n; i++) if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) bad++;
            assertEquals(0, bad, "normals differing from ddpm4j.core.Philox");
        }
    }
}
