// SPDX-License-Identifier: Apache-2.0
// The machine's peaks, measured in the same run as the benchmarks (bench/run.sh runs this first): FP32 FMA throughput
// (Vector API, 16 independent accumulators, 1 and 2 threads) and STREAM-triad bandwidth (2 threads, 3 x 96 MiB). Report
// rates kernels against these figures rather than fixed ones from another host. About 4 seconds.
package ddpm4j.bench;

import ddpm4j.core.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** {@code java --add-modules=jdk.incubator.vector -cp benchmarks.jar ddpm4j.bench.PeakProbe [--out peaks.json] [--quick]}. */
public final class PeakProbe {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Independent FMA chains: latency (4 cycles) x pipes (2) = 8 in flight keep the FMA units busy; 16 leave margin. */
    static final int ACCUMULATORS = 16;
    /** Floats per triad array: 3 arrays of 96 MiB, nine times a 32 MiB L3. */
    static final int TRIAD_N = 24 << 20;

    private PeakProbe() {}

    public static void main(String[] args) throws Exception {
        String out = null;
        boolean quick = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = args[++i];
                case "--quick" -> quick = true;
                default -> throw new IllegalArgumentException("PeakProbe: unknown argument '" + args[i] + "'; expected --out FILE, --quick");
            }
        }
        int reps = quick ? 10 : 20;  // best of many short rounds: on a shared machine some find the cores free
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("lanes", S.length());
        r.put("accumulators", ACCUMULATORS);
        r.put("fma_gflops_1t", fmaGflops(1, reps));
        r.put("fma_gflops_2t", fmaGflops(2, reps));
        r.put("triad_gbs_2t", triadGbs(2, reps));
        r.put("triad_mib", 3.0 * TRIAD_N * 4 / 1048576);
        r.put("load_average", Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        System.err.printf(Locale.ROOT, "peak probe: FMA %.0f GFLOP/s (1 thread), %.0f GFLOP/s (2 threads); STREAM triad %.1f GB/s (2 threads)%n",
                (double) r.get("fma_gflops_1t"), (double) r.get("fma_gflops_2t"), (double) r.get("triad_gbs_2t"));
        String json = Json.write(r);
        if (out == null) System.out.println(json);
        else Files.writeString(Path.of(out), json);
    }

    /**
     * {@code iters} rounds of acc_k = acc_k * a + b on 16 vectors: 2 * lanes * 16 FLOPs per round, all FMAs. a just below
     * 1 and a small b keep every value normal (no denormal slow path, no overflow); the sum is returned so nothing is
     * dead code.
     */
    static float fmaKernel(long iters) {
        FloatVector a = FloatVector.broadcast(S, 0.99999f), b = FloatVector.broadcast(S, 1e-5f);
        FloatVector c0 = FloatVector.broadcast(S, 0.00f), c1 = FloatVector.broadcast(S, 0.01f),
                c2 = FloatVector.broadcast(S, 0.02f), c3 = FloatVector.broadcast(S, 0.03f),
                c4 = FloatVector.broadcast(S, 0.04f), c5 = FloatVector.broadcast(S, 0.05f),
                c6 = FloatVector.broadcast(S, 0.06f), c7 = FloatVector.broadcast(S, 0.07f),
                c8 = FloatVector.broadcast(S, 0.08f), c9 = FloatVector.broadcast(S, 0.09f),
                c10 = FloatVector.broadcast(S, 0.10f), c11 = FloatVector.broadcast(S, 0.11f),
                c12 = FloatVector.broadcast(S, 0.12f), c13 = FloatVector.broadcast(S, 0.13f),
                c14 = FloatVector.broadcast(S, 0.14f), c15 = FloatVector.broadcast(S, 0.15f);
        for (long i = 0; i < iters; i++) {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b);
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b);
            c8 = c8.fma(a, b); c9 = c9.fma(a, b); c10 = c10.fma(a, b); c11 = c11.fma(a, b);
            c12 = c12.fma(a, b); c13 = c13.fma(a, b); c14 = c14.fma(a, b); c15 = c15.fma(a, b);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .add(c12).add(c13).add(c14).add(c15).reduceLanes(VectorOperators.ADD);
    }

    /** STREAM triad a = b + s c over [from, to): 12 bytes per element (read b and c, write a), vector body, scalar tail. */
    static void triad(float[] a, float[] b, float[] c, float s, int from, int to) {
        FloatVector sv = FloatVector.broadcast(S, s);
        int i = from, upper = from + S.loopBound(to - from);
        for (; i < upper; i += S.length())
            FloatVector.fromArray(S, c, i).fma(sv, FloatVector.fromArray(S, b, i)).intoArray(a, i);
        for (; i < to; i++) a[i] = b[i] + s * c[i];
    }

    /** Best of {@code reps} timed rounds: every thread runs {@code body(thread)} once, the round lasts until the last ends. */
    private static double bestSeconds(int threads, int reps, java.util.function.IntConsumer body) throws Exception {
        double best = Double.POSITIVE_INFINITY;
        for (int r = 0; r < reps; r++) {
            // the clock starts in the barrier action (run by the last thread to arrive, before any is released): a main
            // thread woken late on a loaded machine would otherwise start it after the work is done
            long[] t0 = new long[1];
            CyclicBarrier start = new CyclicBarrier(threads, () -> t0[0] = System.nanoTime());
            Thread[] ts = new Thread[threads];
            for (int k = 0; k < threads; k++) {
                int id = k;
                ts[k] = new Thread(() -> {
                    try { start.await(); } catch (Exception e) { throw new IllegalStateException(e); }
                    body.accept(id);
                });
                ts[k].start();
            }
            for (Thread t : ts) t.join();
            best = Math.min(best, (System.nanoTime() - t0[0]) / 1e9);
        }
        return best;
    }

    private static volatile float sink;

    /** GFLOP/s of {@link #fmaKernel} on {@code threads} threads; each round is about 0.02 s after a JIT warm-up. */
    static double fmaGflops(int threads, int reps) throws Exception {
        long t0 = System.nanoTime();
        while (System.nanoTime() - t0 < 300_000_000L) sink += fmaKernel(2000);   // C2 compiles the vector loop
        // size one call to about 0.02 s at the fastest single-thread rate of three short trials
        long trial = 300_000;
        double trialS = Double.POSITIVE_INFINITY;
        for (int i = 0; i < 3; i++) {
            t0 = System.nanoTime();
            sink += fmaKernel(trial);
            trialS = Math.min(trialS, (System.nanoTime() - t0) / 1e9);
        }
        long n = Math.max(trial, (long) (0.02 * trial / trialS));
        double s = bestSeconds(threads, reps, k -> sink += fmaKernel(n));
        return threads * 2.0 * S.length() * ACCUMULATORS * n / s / 1e9;
    }

    /** GB/s of the triad on {@code threads} threads, each on its own slice of 3 x {@value #TRIAD_N} floats. */
    static double triadGbs(int threads, int reps) throws Exception {
        float[] a = new float[TRIAD_N], b = new float[TRIAD_N], c = new float[TRIAD_N];
        java.util.Arrays.fill(b, 1f);
        java.util.Arrays.fill(c, 2f);
        int chunk = (TRIAD_N + threads - 1) / threads;
        java.util.function.IntConsumer body = k -> triad(a, b, c, 0.5f, k * chunk, Math.min(TRIAD_N, (k + 1) * chunk));
        for (int i = 0; i < 20_000; i++) triad(a, b, c, 0.5f, 0, 4096);   // C2 compiles the vector loop
        bestSeconds(threads, 1, body);                                    // first touch of a
        double s = bestSeconds(threads, reps, body);
        if (a[TRIAD_N - 1] != 2f) throw new IllegalStateException("PeakProbe: triad result " + a[TRIAD_N - 1] + ", expected 2");
        return 12.0 * TRIAD_N / s / 1e9;
    }
}
