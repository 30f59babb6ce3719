// SPDX-License-Identifier: Apache-2.0
// The emulation's own contract (src/emu/cuda_emu.{h,cpp} with the kernels of src/emu/selftest.cu): launch errors,
// deadlock and divergent-barrier detection, warp shuffles, dynamic shared memory, atomics across blocks.
package ddpm4j.kernels.emu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.kernels.emu.EmuKernels.Dim3;
import org.junit.jupiter.api.Test;

class EmuRuntimeTest {
    @Test
    void unknownKernelAndBadGeometryAreErrorsWithMessages() {
        try (var k = EmuKernels.open()) {
            var buf = k.zeros(4);
            assertEquals(1, k.launchStatus("no_such_kernel", Dim3.of(1), Dim3.of(32), 0, buf));
            assertTrue(EmuKernels.lastError().contains("unknown kernel 'no_such_kernel'"), EmuKernels.lastError());
            assertEquals(2, k.launchStatus("fill_forward", Dim3.of(1), Dim3.of(2048), 0, buf, 1f, 4));
            assertTrue(EmuKernels.lastError().contains("bad launch geometry for fill_forward"), EmuKernels.lastError());
            assertEquals(2, k.launchStatus("fill_forward", Dim3.of(0), Dim3.of(32), 0, buf, 1f, 4));
            assertEquals(2, k.launchStatus("emu_selftest_shared", Dim3.of(1), Dim3.of(32), 1 << 20, buf, buf, buf, buf));
            assertTrue(EmuKernels.lastError().contains("dynamic shared memory"), EmuKernels.lastError());
        }
    }

    @Test
    void barrierNotReachedByAllThreadsIsReportedNotHung() {
        try (var k = EmuKernels.open()) {
            var out = k.zeros(64);
            assertEquals(3, k.launchStatus("emu_selftest_exit_before_barrier", Dim3.of(3), Dim3.of(32), 0, out));
            String m = EmuKernels.lastError();
            assertTrue(m.contains("deadlock") && m.contains("16 of 32 threads wait at __syncthreads"), m);
            assertTrue(m.contains("emu_selftest_exit_before_barrier"), m);
            assertEquals(3, k.launchStatus("emu_selftest_divergent_barrier", Dim3.of(2), Dim3.of(64), 0, out));
            assertTrue(EmuKernels.lastError().contains("divergent __syncthreads"), EmuKernels.lastError());
            // the library stays usable after a failed launch
            k.launch("fill_forward", Dim3.of(1), Dim3.of(32), 0, out, 2f, 64);
            assertEquals(2f, EmuKernels.read(out, 64)[63]);
        }
    }

    @Test
    void warpShufflesBallotAndReductionsFollowCudaSemantics() {
        try (var k = EmuKernels.open()) {
            int threads = 96;
            var out = k.ints(new int[threads * 7]);
            k.launch("emu_selftest_warp", Dim3.of(2), Dim3.of(threads), 0, out);
            int[] got = EmuKernels.readInts(out, threads * 7);
            int ballot = 0;
            for (int l = 0; l < 32; l++) if (l % 3 == 0) ballot |= 1 << l;
            for (int t = 0; t < threads; t++) {
                int lane = t & 31;
                int[] want = {((lane + 3) % 32) * 10, lane ^ 5, lane + 4 < 32 ? lane + 4 : lane,
                    lane >= 2 ? lane - 2 : lane, ballot, 496, threads * (threads - 1) / 2};
                int[] row = java.util.Arrays.copyOfRange(got, t * 7, t * 7 + 7);
                assertArrayEquals(want, row, "thread " + t);
            }
        }
    }

    @Test
    void dynamicSharedMemoryIsPerBlockAndAtomicsCountEveryBlock() {
        try (var k = EmuKernels.open()) {
            int blocks = 37, n = 160;
            float[] in = Check.uniform(5, blocks * n, -1, 1);
            var out = k.poisoned(blocks * n);
            var fcount = k.zeros(1);
            var icount = k.ints(0);
            k.launch("emu_selftest_shared", Dim3.of(blocks), Dim3.of(n), n * 4, out, k.floats(in), fcount, icount);
            float[] got = EmuKernels.read(out, blocks * n);
            for (int b = 0; b < blocks; b++)
                for (int t = 0; t < n; t++) assertEquals(in[b * n + n - 1 - t], got[b * n + t], "block " + b + " t " + t);
            assertEquals(blocks, EmuKernels.read(fcount, 1)[0]);
            assertEquals(blocks, EmuKernels.readInts(icount, 1)[0]);
        }
    }
}
