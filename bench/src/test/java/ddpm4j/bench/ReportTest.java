// SPDX-License-Identifier: Apache-2.0
// Report on synthetic JMH / peer / end-to-end files: names matched across the two sides, ratios, rates against the
// peaks, and the 10% regression check against a baseline (flagged above, quiet below). No benchmark runs here.
package ddpm4j.bench;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {
    @TempDir Path dir;

    private static String jmhResult(String bench, String params, double min, double median) {
        return "{\"benchmark\":\"ddpm4j.bench." + bench + "\",\"mode\":\"sample\",\"params\":{" + params + "},"
                + "\"primaryMetric\":{\"score\":" + median + ",\"scoreUnit\":\"ms/op\",\"scorePercentiles\":{\"0.0\":" + min
                + ",\"50.0\":" + median + ",\"100.0\":" + (2 * median) + "}}}";
    }

    private String run(String baselineJson, boolean update) throws Exception { return run(baselineJson, update, null); }

    private String run(String baselineJson, boolean update, String peaksJson) throws Exception {
        Path jmh = dir.resolve("jmh.json"), peer = dir.resolve("peer.json"), e2e = dir.resolve("e2e.json"),
                base = dir.resolve("baseline.json"), md = dir.resolve("R.md"), png = dir.resolve("r.png");
        Files.writeString(jmh, "[" + String.join(",",
                jmhResult("GemmBench.matmul", "\"backend\":\"cpu\",\"n\":\"1024\"", 4.0, 5.0),
                jmhResult("TrainStepBench.trainStep", "\"backend\":\"cpu\",\"workload\":\"cifar10:8\"", 800, 1000),
                jmhResult("QSampleBench.fused", "\"backend\":\"cpu\",\"shape\":\"64x262144\"", 5, 6),
                jmhResult("QSampleBench.unfused", "\"backend\":\"cpu\",\"shape\":\"64x262144\"", 20, 24)) + "]");
        Files.writeString(peer, "{\"torch\":\"1.13.1\",\"threads\":2,\"mkldnn\":true,\"env\":{},\"results\":["
                + "{\"op\":\"gemm_1024\",\"min_ms\":9,\"median_ms\":10},{\"op\":\"train_cifar10_b8\",\"min_ms\":900,\"median_ms\":1500}],"
                + "\"sampling\":[{\"op\":\"ddim50_mnist_b16\",\"ms\":8000,\"steps_run\":50}],"
                + "\"peak_rss\":[{\"workload\":\"train_cifar10_b8\",\"peak_rss_mib\":2000,\"parameters\":35746307}]}");
        Files.writeString(e2e, "{\"sampling\":[{\"op\":\"ddim50_mnist_b16\",\"ms\":4000,\"steps_run\":50,\"extrapolated\":false}],"
                + "\"peak_rss\":[{\"workload\":\"train_cifar10_b8\",\"peak_rss_mib\":1500,\"peak_tensor_mib\":900,\"parameters\":35746307}],"
                + "\"profile\":[{\"workload\":\"train_cifar10_b8\",\"step_ms\":1000,\"steps\":3,\"families\":"
                + "{\"conv\":{\"ms\":700,\"calls\":100},\"java\":{\"ms\":300,\"calls\":0}}}]}");
        if (baselineJson != null) Files.writeString(base, baselineJson);
        var args = new java.util.ArrayList<>(java.util.List.of("--jmh", jmh.toString(), "--peer", peer.toString(),
                "--e2e", e2e.toString(), "--baseline", base.toString(), "--md", md.toString(), "--png", png.toString()));
        if (update) args.add("--update-baseline");
        if (peaksJson != null) {
            Files.writeString(dir.resolve("peaks.json"), peaksJson);
            args.addAll(java.util.List.of("--peaks", dir.resolve("peaks.json").toString()));
        }
        Report.main(args.toArray(String[]::new));
        assertTrue(Files.size(png) > 1000, "chart written");
        return Files.readString(md);
    }

    @Test
    void matchesNamesAndComputesRatiosAndRates() throws Exception {
        String md = run(null, false);
        // GEMM 1024: PyTorch median 10 ms / ours 5 ms = 2x; 2 * 1024^3 FLOPs / 5 ms = 429 GFLOP/s = 91% of 470
        assertTrue(md.contains("| gemm_1024 | 4.00 | 5.00 | 9.00 | 10.0 | **2.00x** | 429 GFLOP/s | 91% |"), md);
        // training step: 8 images / 1 s = 8 img/s, PyTorch 8 / 1.5 s = 5.33 img/s, ratio 1.5 (target met)
        assertTrue(md.contains("| train_cifar10_b8 | 800 | 1000 | 900 | 1500 | 8.00 | 5.33 | **1.50x** | 1.5x met |"), md);
        // fused q_sample: 12 * 64 * 262144 B / 6 ms = 33.6 GB/s (88% of 38); unfused 4x slower
        assertTrue(md.contains("| qsample_64x262144 | 6.00 | 33.6 | 88% | 24.0 | 4.00x |"), md);
        assertTrue(md.contains("| ddim50_mnist_b16 | 4.00 (50) | 8.00 (50) | 4.00 | 2.00 | **2.00x** |"), md);
        assertTrue(md.contains("| train_cifar10_b8 | 35746307 / 35746307 | 1500 | 900 | – | 2000 | 0.75 |"), md);
        assertTrue(md.contains("| conv | 700 | 70.0% | 100 |"), md);
        assertTrue(md.contains("No baseline stored yet"), md);
        assertTrue(md.contains("**not measured this run**"), md);   // no PeakProbe output: TOOLCHAIN.md's figures
    }

    @Test
    void ratesAgainstThePeaksMeasuredInTheRun() throws Exception {
        String md = run(null, false, "{\"lanes\":16,\"accumulators\":16,\"fma_gflops_1t\":100.0,\"fma_gflops_2t\":80.0,"
                + "\"triad_gbs_2t\":20.0,\"triad_mib\":288.0,\"load_average\":\"3.5\"}");
        // 429 GFLOP/s against the larger FMA rate (100, the 1-thread one here); 33.6 GB/s against the 20 GB/s triad
        assertTrue(md.contains("| gemm_1024 | 4.00 | 5.00 | 9.00 | 10.0 | **2.00x** | 429 GFLOP/s | 429% |"), md);
        assertTrue(md.contains("| qsample_64x262144 | 6.00 | 33.6 | 168% | 24.0 | 4.00x |"), md);
        assertTrue(md.contains("% of 20.0 GB/s"), md);
        // both figures side by side, measured and TOOLCHAIN.md's
        assertTrue(md.contains("| FP32 FMA, 1 thread | 100 GFLOP/s | 235-240 GFLOP/s |"), md);
        assertTrue(md.contains("| FP32 FMA, 2 threads | 80.0 GFLOP/s | 470 GFLOP/s |"), md);
        assertTrue(md.contains("| memory bandwidth, 2 threads | 20.0 GB/s | 38.0 GB/s |"), md);
    }

    @Test
    void flagsOnlyRegressionsAboveTenPercent() throws Exception {
        String md = run("{\"written\":\"t\",\"min_ms\":{\"gemm_1024\":3.0,\"train_cifar10_b8\":760}}", false);
        assertTrue(md.contains("| gemm_1024 | 3.00 | 4.00 | +33% |"), md);        // 4 / 3: flagged
        assertFalse(md.contains("| train_cifar10_b8 | 760 |"), md);                // 800 / 760 = +5%: not flagged
        assertTrue(md.contains("2 benchmarks compared"), md);
    }

    @Test
    void updateBaselineStoresMinimumTimes() throws Exception {
        run(null, true);
        Object b = Json.parse(dir.resolve("baseline.json"));
        @SuppressWarnings("unchecked") var mins = (java.util.Map<String, Object>) ((java.util.Map<String, Object>) b).get("min_ms");
        assertTrue(((Number) mins.get("gemm_1024")).doubleValue() == 4.0, mins.toString());
        assertTrue(mins.containsKey("qsample_64x262144_unfused"), mins.toString());
    }
}
