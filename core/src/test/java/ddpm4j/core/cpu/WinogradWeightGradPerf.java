// SPDX-License-Identifier: Apache-2.0
// Quick A/B timing of WinogradWeightGrad (at several chunk sizes) against oneDNN's weight gradient (not a test, not
// JMH), interleaved in one JVM, printed as min / median ms. The first shape warms the JIT up. Run with the test class
// path: java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp ... \
//   ddpm4j.core.cpu.WinogradWeightGradPerf <reps> <chunkFloats,...> <N,C,K,HW>...
package ddpm4j.core.cpu;

import ddpm4j.core.Backend.ConvGeom;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

public final class WinogradWeightGradPerf {
    private WinogradWeightGradPerf() {}

    public static void main(String[] args) {
        int reps = Integer.parseInt(args[0]);
        long[] chunks = Arrays.stream(args[1].split(",")).mapToLong(Long::parseLong).toArray();
        System.out.println(CpuCheck.CPU.describe());
        for (int i = 2; i < args.length; i++) {
            int[] s = Arrays.stream(args[i].split(",")).mapToInt(Integer::parseInt).toArray();
            ConvGeom g = new ConvGeom(s[0], s[1], s[3], s[3], s[2], 3, 3, 1, 1, 1, 1, 1);
            MemorySegment x = CpuMem.seg(CpuCheck.normal(1, g.n(), g.c(), g.h(), g.w())[1]);
            MemorySegment dy = CpuMem.seg(CpuCheck.normal(2, g.n(), g.k(), g.ho(), g.wo())[1]);
            MemorySegment dw = CpuMem.seg(CpuCheck.normal(3, g.k(), g.c(), 3, 3)[1]), db = CpuMem.seg(CpuCheck.normal(4, g.k())[1]);
            int variants = chunks.length + 1;
            double[][] t = new double[variants][reps];
            for (int r = -Math.max(5, reps / 2); r < reps; r++) {
                for (int j = 0; j < variants; j++) {
                    long t0 = System.nanoTime();
                    if (j < chunks.length) WinogradWeightGrad.backwardWeights(dw, db, dy, x, g, chunks[j]);
                    else DnnlConv2d.backwardWeights(dw, db, dy, x, g);
                    if (r >= 0) t[j][r] = (System.nanoTime() - t0) / 1e6;
                }
            }
            for (int j = 0; j < variants; j++) {
                Arrays.sort(t[j]);
                System.out.printf("%-14s %-16s min %6.2f  median %6.2f ms%n", args[i],
                        j < chunks.length ? "winograd " + chunks[j] : "onednn", t[j][0], t[j][reps / 2]);
            }
        }
    }
}
