// SPDX-License-Identifier: Apache-2.0
// Quick A/B timing of WinogradConv2d against oneDNN at the U-Net's conv shapes (not a test, not JMH), interleaved,
// printed as "what min median" in ms. Run with the test class path:
//   java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp ... ddpm4j.core.cpu.WinogradPerf [reps]
package ddpm4j.core.cpu;

import ddpm4j.core.Backend.ConvGeom;
import ddpm4j.core.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

public final class WinogradPerf {
    private WinogradPerf() {}

    public static void main(String[] args) {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        int[][] shapes = args.length > 1 ? java.util.Arrays.stream(args, 1, args.length)
                .map(a -> java.util.Arrays.stream(a.split(",")).mapToInt(Integer::parseInt).toArray()).toArray(int[][]::new)
                : new int[][] {{16, 64, 64, 32}, {16, 128, 128, 16}};
        System.out.println(CpuCheck.CPU.describe());
        for (int[] s : shapes) {   // N, C, K, H (= W)
            ConvGeom g = new ConvGeom(s[0], s[1], s[3], s[3], s[2], 3, 3, 1, 1, 1, 1, 1);
            MemorySegment x = seg(1, g.n(), g.c(), g.h(), g.w()), w = seg(2, g.k(), g.c(), 3, 3), b = seg(3, g.k());
            MemorySegment dy = seg(4, g.n(), g.k(), g.ho(), g.wo()), out = seg(5, g.n(), g.k(), g.ho(), g.wo());
            MemorySegment dx = seg(6, g.n(), g.c(), g.h(), g.w()), dw = seg(7, g.k(), g.c(), 3, 3), db = seg(8, g.k());
            Runnable[] runs = {
                    () -> WinogradConv2d.forward(out, x, w, b, g),
                    () -> DnnlConv2d.forward(out, x, w, b, g),
                    () -> WinogradConv2d.backwardData(dx, dy, w, g),
                    () -> DnnlConv2d.backwardData(dx, dy, w, g),
                    () -> WinogradWeightGrad.backwardWeights(dw, db, dy, x, g),
                    () -> DnnlConv2d.backwardWeights(dw, db, dy, x, g)};
            String[] names = {"winograd fwd", "onednn fwd", "winograd bwd-data", "onednn bwd-data", "winograd bwd-weights",
                    "onednn bwd-weights"};
            double[][] t = new double[runs.length][reps];
            for (int r = -Math.max(5, reps / 2); r < reps; r++) {
                for (int i = 0; i < runs.length; i++) {
                    long t0 = System.nanoTime();
                    runs[i].run();
                    if (r >= 0) t[i][r] = (System.nanoTime() - t0) / 1e6;
                }
            }
            for (int i = 0; i < runs.length; i++) {
                Arrays.sort(t[i]);
                System.out.printf("%-8s %-18s min %6.2f  median %6.2f ms%n", Arrays.toString(s), names[i], t[i][0], t[i][reps / 2]);
            }
        }
    }

    private static MemorySegment seg(long seed, int... shape) {
        Tensor t = CpuCheck.normal(seed, shape)[1];
        return CpuMem.seg(t);
    }
}
