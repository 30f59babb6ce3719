// SPDX-License-Identifier: Apache-2.0
// Quick SGEMM throughput check (not a test, not JMH): GFLOP/s at 512/1024/2048 cubed for OpenBLAS and the Java kernel.
// Run: java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp ... ddpm4j.core.cpu.GemmPerf [sizes]
package ddpm4j.core.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

public final class GemmPerf {

    private GemmPerf() {}

    public static void main(String[] args) {
        int[] sizes = args.length > 0 ? Arrays.stream(args).mapToInt(Integer::parseInt).toArray()
                : new int[]{512, 1024, 2048};
        System.out.printf("threads=%d gemm=%s openblas=%s core=%s OPENBLAS_CORETYPE=%s%n", Parallel.threads(),
                Gemm.impl(), OpenBlas.available(), OpenBlas.available() ? OpenBlas.corename() : "-",
                System.getenv("OPENBLAS_CORETYPE"));
        try (Arena arena = Arena.ofShared()) {
            for (int n : sizes) {
                MemorySegment a = fill(arena, n * n, 1), b = fill(arena, n * n, 2), c = arena.allocate(4L * n * n, 64);
                double flops = 2.0 * n * n * n;
                if (OpenBlas.available()) {
                    report("openblas", n, flops, () -> Gemm.sgemm(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n));
                }
                report("java", n, flops, () -> Gemm.sgemmJava(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n));
            }
        }
    }

    private static void report(String name, int n, double flops, Runnable r) {
        int reps = (int) Math.max(3, Math.min(50, 3e10 / flops));   // about 0.1 s per size at 300 GFLOP/s
        for (int i = 0; i < Math.max(2, reps / 3); i++) r.run();     // warm-up (JIT, OpenBLAS threads)
        double[] ms = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            r.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        System.out.printf("%-9s n=%5d  min %8.3f ms (%6.1f GFLOP/s)  median %8.3f ms (%6.1f GFLOP/s)  %.0f%% of 470%n",
                name, n, ms[0], flops / ms[0] / 1e6, ms[reps / 2], flops / ms[reps / 2] / 1e6,
                100 * flops / ms[reps / 2] / 1e6 / 470);
    }

    private static MemorySegment fill(Arena arena, int count, long seed) {
        var rnd = new Random(seed);
        MemorySegment s = arena.allocate(4L * count, 64);
        for (int i = 0; i < count; i++) s.setAtIndex(JAVA_FLOAT, i, (float) rnd.nextGaussian());
        return s;
    }
}
