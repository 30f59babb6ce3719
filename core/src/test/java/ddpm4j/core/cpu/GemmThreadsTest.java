// SPDX-License-Identifier: Apache-2.0
// Gemm's bits do not depend on the thread count, on this CPU's default OpenBLAS kernels and on the Haswell (AVX2)
// kernels that OpenBLAS picks on CPUs without AVX-512 (Gemm's grid there), and with the grid forced: child JVMs at 1
// and 2 threads under each.
package ddpm4j.core.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import ddpm4j.core.testing.ChildJvm;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

class GemmThreadsTest {
    /** Shapes on both sides of every OpenBLAS block size, all four transpose cases. */
    private static final int[][] SHAPES = {{512, 512, 512}, {1000, 37, 513}, {257, 129, 1025}, {300, 200, 385},
            {129, 300, 700}, {96, 500, 1153}, {433, 234, 347}};

    /** A hash of C for every shape and transpose case, computed from this (non-pool) thread. */
    static String fingerprint() {
        int h = 1;
        for (int[] s : SHAPES) {
            int m = s[0], n = s[1], k = s[2];
            Random rnd = new Random(m * 31L + n * 7L + k);
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment a = fill(arena, rnd, m * k), b = fill(arena, rnd, k * n), c = fill(arena, rnd, m * n);
                    Gemm.sgemm(ta, tb, m, n, k, 0.5f, a, ta ? m : k, b, tb ? k : n, 0.25f, c, n);
                    h = 31 * h + Arrays.hashCode(c.toArray(JAVA_FLOAT));
                }
            }
        }
        return Integer.toHexString(h);
    }

    private static MemorySegment fill(Arena arena, Random rnd, int n) {
        MemorySegment s = arena.allocate(4L * n, 64);
        for (int i = 0; i < n; i++) s.setAtIndex(JAVA_FLOAT, i, (float) rnd.nextGaussian());
        return s;
    }

    public static void main(String[] args) {
        System.out.println("fingerprint " + fingerprint() + " core=" + OpenBlas.corename() + " openblasThreads=" + Gemm.openBlasThreads());
    }

    @Test
    void defaultKernelsGiveTheSameBitsOnOneAndTwoThreads() throws Exception {
        assumeTrue(Gemm.impl() == Gemm.Impl.OPENBLAS, "needs OpenBLAS");
        String[] one = child(1, null), two = child(2, null);
        assertEquals(one[0], two[0], "1 vs 2 threads on " + one[1]);
    }

    @Test
    void haswellKernelsGiveTheSameBitsOnOneAndTwoThreads() throws Exception {
        assumeTrue(Gemm.impl() == Gemm.Impl.OPENBLAS, "needs OpenBLAS");
        String[] one = child(1, "Haswell"), two = child(2, "Haswell");
        assumeTrue(one[1].contains("core=Haswell"), "OpenBLAS did not take OPENBLAS_CORETYPE=Haswell: " + one[1]);
        // OpenBLAS's own threads differ in the last bit here, so Gemm must have chosen its fixed row blocks
        assertEquals("openblasThreads=false", one[1].replaceAll(".* ", ""), one[1]);
        assertEquals(one[0], two[0], "1 vs 2 threads on " + one[1]);
    }

    @Test
    void gridGivesTheSameBitsOnOneAndTwoThreads() throws Exception {
        assumeTrue(Gemm.impl() == Gemm.Impl.OPENBLAS, "needs OpenBLAS");
        String[] one = child(1, null, "-Dddpm4j.gemm.threads=grid"), two = child(2, null, "-Dddpm4j.gemm.threads=grid");
        assertEquals("openblasThreads=false", two[1].replaceAll(".* ", ""), two[1]);
        assertEquals(one[0], two[0], "1 vs 2 threads, grid, on " + one[1]);
    }

    /** {fingerprint, "core=... openblasThreads=..."} from a child JVM with the given thread count and core type. */
    private static String[] child(int threads, String coreType, String... props) throws Exception {
        Map<String, String> env = new HashMap<>();
        env.put("OPENBLAS_CORETYPE", coreType);   // null: the variable is removed
        String[] all = java.util.Arrays.copyOf(props, props.length + 1);
        all[props.length] = "-Dddpm4j.threads=" + threads;
        return ChildJvm.run(GemmThreadsTest.class, env, "fingerprint", all).split(" ", 2);
    }
}
