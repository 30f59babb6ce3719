// SPDX-License-Identifier: Apache-2.0
// Gemm (OpenBLAS via FFM) and the Java Vector API fallback against a double-precision triple loop.
package ddpm4j.core.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GemmTest {

    interface Sgemm {
        void run(boolean ta, boolean tb, int m, int n, int k, float alpha, MemorySegment a, int lda,
                 MemorySegment b, int ldb, float beta, MemorySegment c, int ldc);
    }

    static Stream<Arguments> cases() {
        int[][] sizes = {{1, 1, 1}, {7, 33, 5}, {33, 7, 65}, {1, 100, 17}, {65, 1, 3}, {100, 129, 300}, {13, 50, 600}};
        var out = Stream.<Arguments>builder();
        for (String impl : new String[]{"java", "gemm"}) {
            for (int[] s : sizes) {
                for (int t = 0; t < 4; t++) out.add(Arguments.of(impl, s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0));
            }
        }
        return out.build();
    }

    @ParameterizedTest(name = "{0} M={1} N={2} K={3} tA={4} tB={5}")
    @MethodSource("cases")
    void matchesDoubleLoop(String impl, int m, int n, int k, boolean ta, boolean tb) {
        Sgemm f = impl.equals("java") ? Gemm::sgemmJava : Gemm::sgemm;
        var rnd = new Random(31L * m + 7L * n + k + (ta ? 1000 : 0) + (tb ? 2000 : 0));
        // stored shapes with padded leading dimensions, so ld != cols is exercised
        int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
        int lda = aCols + 3, ldb = bCols + 1, ldc = n + 5;
        float[] a = randn(rnd, aRows * lda), b = randn(rnd, bRows * ldb), c = randn(rnd, m * ldc);
        float alpha = 0.75f, beta = -0.5f;
        double[] want = new double[m * ldc];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < ldc; j++) {
                if (j >= n) { want[i * ldc + j] = c[i * ldc + j]; continue; }   // padding must stay untouched
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double av = ta ? a[p * lda + i] : a[i * lda + p];
                    double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                    s += av * bv;
                }
                want[i * ldc + j] = alpha * s + beta * c[i * ldc + j];
            }
        }
        try (Arena arena = k == 600 && !tb ? Arena.ofConfined() : Arena.ofShared()) {   // confined: serial path
            MemorySegment as = copy(arena, a), bs = copy(arena, b), cs = copy(arena, c);
            f.run(ta, tb, m, n, k, alpha, as, lda, bs, ldb, beta, cs, ldc);
            // float accumulation over K terms of unit variance: error grows like sqrt(K) * eps
            assertClose(want, cs.toArray(JAVA_FLOAT), 1e-5 * Math.sqrt(k) * 4, 1e-5);
        }
    }

    /** Gemm runs large products on OpenBLAS's threads or on the pool; the bits must be those of one thread (thread-count determinism). */
    @ParameterizedTest(name = "M={0} N={1} K={2}")
    @MethodSource("threadedCases")
    void threadedProductIsBitIdenticalToOneThread(int m, int n, int k) {
        assumeTrue(Gemm.impl() == Gemm.Impl.OPENBLAS && Parallel.threads() > 1, "needs OpenBLAS and 2+ threads");
        var rnd = new Random(m * 31L + n * 7L + k);
        for (int t = 0; t < 4; t++) {
            boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
            int lda = ta ? m : k, ldb = tb ? k : n;
            try (Arena arena = Arena.ofShared()) {
                MemorySegment a = copy(arena, randn(rnd, m * k)), b = copy(arena, randn(rnd, k * n));
                float[] c0 = randn(rnd, m * n);
                MemorySegment one = copy(arena, c0), many = copy(arena, c0);
                // inside a pool task the product runs on one thread; from here, on OpenBLAS's threads or the pool
                MemorySegment a1 = a, b1 = b;
                Parallel.forRange(2, 1, (w, lo, hi) -> {
                    if (lo == 0) Gemm.sgemm(ta, tb, m, n, k, 0.5f, a1, lda, b1, ldb, 0.25f, one, n);
                });
                Gemm.sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 0.25f, many, n);
                float[] x = one.toArray(JAVA_FLOAT), y = many.toArray(JAVA_FLOAT);
                for (int i = 0; i < x.length; i++) {
                    if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i])) {
                        fail("M=" + m + " N=" + n + " K=" + k + " tA=" + ta + " tB=" + tb + ": element " + i + " is " + y[i] + " on several threads, "
                                + x[i] + " on one thread");
                    }
                }
            }
        }
        assertEquals(1, OpenBlas.numThreads(), "OpenBLAS is back to one thread after a threaded product");
    }

    static Stream<Arguments> threadedCases() {
        // K above 384 was cut differently by OpenBLAS on one and on two threads before Gemm.K_BLOCK (all but 10 of
        // 160 random shapes differed); the last shapes cut the grid (Gemm.blocks) into 2, 4 and 8 blocks
        return Stream.of(Arguments.of(512, 512, 512), Arguments.of(1000, 37, 513), Arguments.of(37, 1000, 300),
                Arguments.of(257, 129, 1025), Arguments.of(64, 4096, 64), Arguments.of(4096, 64, 64),
                Arguments.of(1010, 1507, 1838), Arguments.of(433, 234, 347), Arguments.of(787, 524, 525),
                Arguments.of(300, 200, 385), Arguments.of(129, 300, 700), Arguments.of(200, 333, 768), Arguments.of(96, 500, 1153), Arguments.of(640, 640, 2048),
                Arguments.of(1600, 1632, 1700));
    }

    @Test
    void betaZeroOverwritesNaN() {
        for (Sgemm f : new Sgemm[]{Gemm::sgemmJava, Gemm::sgemm}) {
            float[] c = new float[6];
            java.util.Arrays.fill(c, Float.NaN);
            MemorySegment cs = MemorySegment.ofArray(c);
            f.run(false, false, 2, 3, 1, 1f, MemorySegment.ofArray(new float[]{1, 2}), 1,
                    MemorySegment.ofArray(new float[]{1, 10, 100}), 3, 0f, cs, 3);
            assertClose(new double[]{1, 10, 100, 2, 20, 200}, c, 0, 0);
        }
    }

    @Test
    void openBlasLoadsOnLinuxX64() {
        assumeTrue(System.getProperty("os.name").toLowerCase().contains("linux")
                && System.getProperty("os.arch").equals("amd64"), "OpenBLAS is bundled for linux-x86_64 only");
        assumeTrue(Boolean.parseBoolean(System.getProperty("ddpm4j.openblas", "true")), "disabled by -Dddpm4j.openblas=false");
        assertTrue(OpenBlas.available(), () -> "OpenBLAS did not load: " + OpenBlas.error());
        assertEquals(Gemm.Impl.OPENBLAS, Gemm.impl());
        assertTrue(OpenBlas.config().contains("OpenBLAS"), OpenBlas.config());
    }

    @Test
    void rejectsSmallSegmentsAndLeadingDimensions() {
        MemorySegment small = MemorySegment.ofArray(new float[5]), big = MemorySegment.ofArray(new float[100]);
        var e = assertThrows(IllegalArgumentException.class,
                () -> Gemm.sgemm(false, false, 2, 3, 4, 1f, small, 4, big, 3, 0f, big, 3));
        assertTrue(e.getMessage().contains("A (2 x 4, ld 4) needs 32 bytes but its segment has 20"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Gemm.sgemm(false, true, 2, 3, 4, 1f, big, 4, big, 2, 0f, big, 3));
        assertTrue(e.getMessage().contains("ldb=2 is smaller than the 4 columns of B"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Gemm.sgemm(false, false, -1, 3, 4, 1f, big, 4, big, 3, 0f, big, 3));
        assertThrows(IllegalArgumentException.class,
                () -> Gemm.sgemm(false, false, 2, 3, 4, 1f, big, 4, big, 3, 0f, big.asReadOnly(), 3));
    }

    static float[] randn(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    static MemorySegment copy(Arena arena, float[] x) {
        MemorySegment s = arena.allocate((long) x.length * Float.BYTES, 64);
        MemorySegment.copy(x, 0, s, JAVA_FLOAT, 0, x.length);
        return s;
    }

    static void assertClose(double[] want, float[] got, double atol, double rtol) {
        assertEquals(want.length, got.length, "length");
        int bad = 0;
        var msg = new StringBuilder();
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs(want[i] - got[i]);
            if (!(d <= atol + rtol * Math.abs(want[i]))) {
                if (bad++ < 5) msg.append(String.format("%n  [%d] want %.7g got %.7g (diff %.3g)", i, want[i], got[i], d));
            }
        }
        if (bad > 0) fail(bad + " of " + want.length + " mismatches (atol " + atol + ", rtol " + rtol + "):" + msg);
    }
}
