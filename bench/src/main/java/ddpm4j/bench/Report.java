// SPDX-License-Identifier: Apache-2.0
// Turns one run's JMH JSON, the PyTorch peer's JSON and EndToEnd's JSON into bench/RESULTS.md (tables of min / median,
// speed ratios, GFLOP/s or GB/s with % of the machine's peak, images/s, peak memory, the training-step profile), the
// ratio chart (ReportChart) and the regression check against the stored JMH baseline. Called by bench/run.sh.
package ddpm4j.bench;

import ddpm4j.core.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code Report --jmh F --peer F --e2e F --peaks F --baseline F --md OUT --png OUT --machine F --command S [--update-baseline]
 * [--backend cuda] [--fused-peaks F,F]}; {@code --peaks} is PeakProbe's JSON (without it, the fixed figures of TOOLCHAIN.md
 * are used); {@code --fused-peaks} are PeakProbe's JSON from right before and after the fused-kernel benchmarks, which
 * that table is rated against. With
 * {@code --backend cuda} (bench/run-cuda.sh) the JMH rows of that backend are compared with the peer's GPU run and rated
 * against the GPU peaks the peer measured; the CPU-only sections (peak RSS, profile, baseline) are left out.
 */
public final class Report {
    /** One measured workload of ddpm4j and, where the peer ran it, PyTorch. Times in ms; work in FLOPs or bytes. */
    record Row(String key, String group, double min, double median, double flops, double bytes, double images) {}

    private final Map<String, Row> ours = new LinkedHashMap<>();
    private final Map<String, double[]> peer = new LinkedHashMap<>();   // key -> {min, median}
    private final List<String[]> chart = new ArrayList<>();              // {label, ratio}
    /** The peaks "% of peak" divides by: PeakProbe's measurement of this run, else TOOLCHAIN.md's figures. */
    private double peakGflops = BenchSupport.PEAK_GFLOPS, peakGbs = BenchSupport.PEAK_GBS;
    private Map<String, Object> peaks;
    /** The bandwidth probes taken right before and after the fused-kernel benchmarks (--fused-peaks), GB/s. */
    private final List<Double> fusedProbes = new ArrayList<>();
    /** The backend whose JMH rows are compared with the peer ("cpu", or "cuda" against PyTorch on the GPU). */
    private String primary = "cpu";

    private Report() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--update-baseline")) a.put("update-baseline", "true");
            else if (args[i].startsWith("--") && i + 1 < args.length) a.put(args[i].substring(2), args[++i]);
            else throw new IllegalArgumentException("Report: unexpected argument '" + args[i] + "'");
        }
        new Report().run(a);
    }

    private static String str(Object o) { return o == null ? null : o.toString(); }

    private static double num(Object o) { return o instanceof Number n ? n.doubleValue() : Double.NaN; }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) { return (Map<String, Object>) o; }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o) { return o == null ? List.of() : (List<Object>) o; }

    private static Object read(String file) throws Exception {
        if (file == null || !Files.exists(Path.of(file))) return null;
        return Json.parse(Path.of(file));
    }

    private void run(Map<String, String> a) throws Exception {
        Object pj = mergePeer(a.getOrDefault("peer", "")), e2e = read(a.get("e2e")), pk = read(a.get("peaks"));
        primary = a.getOrDefault("backend", "cpu");
        readResults(a, pj);
        for (String f : a.getOrDefault("fused-peaks", "").split(",")) {
            Object probe = read(f.isEmpty() ? null : f);
            if (probe != null) fusedProbes.add(num(map(probe).get("triad_gbs_2t")));
        }
        if (!primary.equals("cpu")) {
            gpu(a, pj, e2e);
            return;
        }
        if (pk != null) {
            peaks = map(pk);
            // the 2 cores' peak is at least one core's: on a shared machine the 2-thread rounds may find one core free
            peakGflops = Math.max(num(peaks.get("fma_gflops_1t")), num(peaks.get("fma_gflops_2t")));
            peakGbs = num(peaks.get("triad_gbs_2t"));
        }
        StringBuilder md = new StringBuilder();
        header(md, a, pj);
        headline(md, pj, e2e);
        memory(md, pj, e2e);
        opTable(md, "Kernels and layers (issue 2 item 7)", "op");
        opTable(md, "U-Net forward and forward+backward at batch 16 (issue 3 item 6)", "unet");
        fused(md);
        profile(md, e2e);
        regressions(md, a);
        md.append("\n![ratios](ratios.png)\n");
        Files.writeString(Path.of(a.get("md")), md.toString());
        drawChart(a, "PyTorch 1.13");
        if (a.containsKey("update-baseline")) writeBaseline(Path.of(a.get("baseline")));
    }

    /**
     * The GPU document: the JMH rows of {@link #primary} against the peer's run on the same GPU, kernels rated against
     * the FP32 GEMM rate and copy bandwidth the peer measured on it ({@code gpu_peaks}).
     */
    private void gpu(Map<String, String> a, Object pj, Object e2e) throws Exception {
        boolean tf32 = pj != null && Boolean.TRUE.equals(map(pj).get("tf32"));
        StringBuilder md = new StringBuilder("# ddpm4j on the GPU: benchmark results\n\n");
        md.append("Written by `bench/run-cuda.sh` (Report.java `--backend ").append(primary).append("`) from one run on one machine: ")
          .append("the JMH suite with `-p backend=").append(primary).append("`, `EndToEnd --backend ").append(primary)
          .append("` and `bench/pytorch/peer.py --device cuda`, each ddpm4j part followed by the peer's. Both sides compute in ")
          .append(tf32 ? "TF32 on tensor cores for GEMM and convolutions (`run-cuda.sh --tf32`)"
                       : "full FP32 (ddpm4j's default; PyTorch with TF32 off for cuDNN and cuBLAS)")
          .append(" and end every timed call when the GPU is done ")
          .append("(Backend.sync / torch.cuda.synchronize). PyTorch runs eagerly (no torch.compile, no CUDA graphs). ")
          .append("**Speed ratio = PyTorch median time / ddpm4j median time** (above 1: ddpm4j is faster).\n\n");
        machine(md, a);
        if (pj != null) {
            Map<String, Object> p = map(pj);
            md.append("PyTorch ").append(p.get("torch")).append(" on ").append(p.get("gpu")).append(", TF32 ").append(p.get("tf32")).append(".\n\n");
            if (p.get("gpu_peaks") instanceof Map<?, ?> gp) {
                peakGflops = num(gp.get("fp32_gemm_gflops"));
                peakGbs = num(gp.get("copy_gbs"));
                md.append("\"% of peak\" divides by what the peer measured on this GPU in the same run: ").append(f(peakGflops))
                  .append(" GFLOP/s for an FP32 8192^3 cuBLAS GEMM without TF32, and ").append(f(peakGbs))
                  .append(" GB/s for a 1 GiB device-to-device copy (bytes read + written).\n\n");
            }
        } else {
            md.append("**The PyTorch peer did not run** (see the run log); ratios are missing.\n\n");
        }
        if (a.get("command") != null) md.append("Command: `").append(a.get("command")).append("`\n\n");
        headline(md, pj, e2e);
        opTable(md, "Kernels and layers", "op");
        opTable(md, "U-Net forward and forward+backward at batch 16", "unet");
        fused(md);
        md.append("\n![ratios](ratios-cuda.png)\n");
        Files.writeString(Path.of(a.get("md")), md.toString());
        drawChart(a, pj == null ? "PyTorch" : "PyTorch " + map(pj).get("torch") + " on the GPU");
    }

    /** The ratio chart; a machine without fonts (a bare server) gets the tables and a sentence instead of a crash. */
    private void drawChart(Map<String, String> a, String peerName) throws Exception {
        if (a.get("png") == null) return;
        try {
            ReportChart.draw(chart, Path.of(a.get("png")), peerName, primary.equals("cpu"));
        } catch (RuntimeException | InternalError e) {
            System.err.println("Report: the chart " + a.get("png") + " was not drawn (" + e.getMessage()
                    + "); the tables are written. Re-run Report with the run's JSON on a machine with fonts to draw it.");
        }
    }

    /** The "Machine and commands" heading and the run's machine description (--machine), verbatim. */
    private static void machine(StringBuilder md, Map<String, String> a) throws Exception {
        md.append("## Machine and commands\n\n");
        if (a.get("machine") != null && Files.exists(Path.of(a.get("machine"))))
            md.append("```\n").append(Files.readString(Path.of(a.get("machine"))).strip()).append("\n```\n\n");
    }

    /** Our JMH rows (of every --jmh file) and the peer's times by workload name. */
    private void readResults(Map<String, String> a, Object pj) throws Exception {
        int files = 0;
        for (String f : a.getOrDefault("jmh", "").split(",")) {
            Object jmh = read(f);
            if (jmh == null) continue;
            files++;
            for (Object o : list(jmh)) addJmh(map(o));
        }
        if (files == 0) throw new IllegalArgumentException("Report: no JMH results found in '" + a.get("jmh") + "'");
        if (pj != null) for (Object o : list(map(pj).get("results"))) {
            Map<String, Object> r = map(o);
            peer.put(str(r.get("op")), new double[] {num(r.get("min_ms")), num(r.get("median_ms"))});
        }
    }

    /** The peer's JSON files (one per part) merged into one document, or null when none exists. */
    private static Object mergePeer(String files) throws Exception {
        Map<String, Object> merged = null;
        for (String f : files.split(",")) {
            Object doc = read(f.isEmpty() ? null : f);
            if (doc == null) continue;
            if (merged == null) {
                merged = new LinkedHashMap<>(map(doc));
                for (String k : new String[] {"results", "sampling", "peak_rss"}) merged.put(k, new ArrayList<>(list(merged.get(k))));
            } else {
                for (String k : new String[] {"results", "sampling", "peak_rss"}) list(merged.get(k)).addAll(list(map(doc).get(k)));
            }
        }
        return merged;
    }

    /** Maps a JMH result to the peer's workload name and its napkin work (FLOPs, bytes or images per call). */
    private void addJmh(Map<String, Object> r) {
        String bench = str(r.get("benchmark"));
        String cls = bench.substring(bench.lastIndexOf('.', bench.lastIndexOf('.') - 1) + 1);
        Map<String, Object> p = map(r.get("params"));
        Map<String, Object> pm = map(r.get("primaryMetric"));
        Map<String, Object> pct = map(pm.get("scorePercentiles"));
        double scale = switch (str(pm.get("scoreUnit"))) {
            case "ms/op" -> 1;
            case "us/op" -> 1e-3;
            case "s/op" -> 1e3;
            default -> throw new IllegalArgumentException("Report: unexpected unit " + pm.get("scoreUnit") + " for " + bench);
        };
        double min = num(pct.get("0.0")) * scale, med = num(pct.get("50.0")) * scale;
        String[] s = p.containsKey("shape") ? str(p.get("shape")).split("x") : new String[0];
        String key, group = "op";
        double flops = 0, bytes = 0, images = 0;
        switch (cls) {
            case "GemmBench.matmul" -> {
                int n = Integer.parseInt(str(p.get("n")));
                key = "gemm_" + n;
                flops = 2.0 * n * n * n;
            }
            case "Conv2dBench.forward", "Conv2dBench.forwardBackward" -> {
                int n = Integer.parseInt(s[0]), c = Integer.parseInt(s[1]), hw = Integer.parseInt(s[2]);
                boolean bwd = cls.endsWith("Backward");
                key = "conv3x3_n" + n + "_c" + c + "_" + hw + "x" + hw + (bwd ? "_fwdbwd" : "_fwd");
                flops = 2.0 * n * c * c * 9 * hw * hw * (bwd ? 3 : 1);
            }
            case "GroupNormBench.forward", "GroupNormBench.forwardBackward" -> {
                int n = Integer.parseInt(s[0]), c = Integer.parseInt(s[1]), hw = Integer.parseInt(s[2]);
                boolean bwd = cls.endsWith("Backward"), silu = Boolean.parseBoolean(str(p.get("silu")));
                key = "groupnorm32" + (silu ? "_silu" : "") + "_n" + n + "_c" + c + "_" + hw + "x" + hw + (bwd ? "_fwdbwd" : "_fwd");
                bytes = (bwd ? 20.0 : 8.0) * n * c * hw * hw;
            }
            case "AttentionBench.forward", "AttentionBench.forwardBackward" -> {
                boolean bwd = cls.endsWith("Backward");
                key = "attention_n8_c256_16x16" + (bwd ? "_fwdbwd" : "_fwd");
                double t = 256;
                flops = 2.0 * 8 * (4 * 256.0 * 256 * t + 2 * t * t * 256) * (bwd ? 3 : 1);
            }
            case "UNetBench.forward", "UNetBench.forwardBackward" -> {
                key = "unet_" + p.get("config") + "_b" + p.get("batch") + (cls.endsWith("Backward") ? "_fwdbwd" : "_fwd");
                group = "unet";
                images = Double.parseDouble(str(p.get("batch")));
            }
            case "TrainStepBench.trainStep" -> {
                String[] w = str(p.get("workload")).split(":");
                key = "train_" + w[0] + "_b" + w[1];
                group = "step";
                images = Double.parseDouble(w[1]);
            }
            case "SampleStepBench.sampleStep" -> {
                key = "sample_" + p.get("config") + "_b" + p.get("batch");
                group = "step";
                images = Double.parseDouble(str(p.get("batch")));
            }
            case "QSampleBench.fused", "QSampleBench.unfused", "AncestralStepBench.fused", "AncestralStepBench.unfused" -> {
                double n = Double.parseDouble(s[0]), d = Double.parseDouble(s[1]);
                boolean q = cls.startsWith("QSample");
                key = (q ? "qsample_" : "ancestral_") + s[0] + "x" + s[1] + (cls.endsWith("unfused") ? "_unfused" : "");
                group = "fused";
                bytes = (q ? 12 : 16) * n * d;   // the fused kernel's traffic; the unfused row shows the same work's speed
            }
            case "AdamBench.adamFused", "AdamBench.adamUnfused", "AdamBench.emaFused", "AdamBench.emaUnfused" -> {
                double n = Double.parseDouble(str(p.get("p")));
                boolean adam = cls.contains("adam");
                key = (adam ? "adam_" : "ema_") + p.get("p") + (cls.endsWith("Unfused") ? "_unfused" : "");
                group = "fused";
                bytes = (adam ? 28 : 12) * n;
            }
            default -> { return; }
        }
        if (!primary.equals(p.get("backend"))) key += "@" + p.get("backend");
        ours.put(key, new Row(key, group, min, med, flops, bytes, images));
    }

    private static String f(double v) {
        if (Double.isNaN(v)) return "–";
        if (v >= 100) return String.format(Locale.ROOT, "%.0f", v);
        if (v >= 10) return String.format(Locale.ROOT, "%.1f", v);
        if (v >= 1) return String.format(Locale.ROOT, "%.2f", v);
        return String.format(Locale.ROOT, "%.3f", v);
    }

    private String ratioCell(double ourMs, double[] theirs, String label) {
        if (theirs == null) return "–";
        double r = theirs[1] / ourMs;
        chart.add(new String[] {label, String.valueOf(r)});
        return String.format(Locale.ROOT, "**%.2fx**", r);
    }

    private void header(StringBuilder md, Map<String, String> a, Object pj) throws Exception {
        md.append("# ddpm4j benchmark results\n\n");
        md.append("Written by `bench/run.sh` (Report.java) from one run: the JMH suite and the PyTorch peer on the same machine, ")
          .append("each ddpm4j part (kernels, U-Net-level, end-to-end) followed at once by the peer's same part. **Speed ratio = PyTorch median time / ddpm4j median time** (above 1: ddpm4j is faster). ")
          .append("Times are milliseconds per call: min and median over the repetitions (JMH sample mode; the peer's repeated calls).\n\n");
        machine(md, a);
        if (pj != null) {
            Map<String, Object> p = map(pj);
            md.append("PyTorch ").append(p.get("torch")).append(", ").append(p.get("threads")).append(" threads, oneDNN ")
              .append(p.get("mkldnn")).append(", environment ").append(Json.writeCompact(p.get("env"))).append(".\n\n");
        } else {
            md.append("**The PyTorch peer did not run** (see the run log); ratios are missing.\n\n");
        }
        if (a.get("command") != null) md.append("Command: `").append(a.get("command")).append("`\n\n");
        peakTable(md);
    }

    /** Measured peaks next to TOOLCHAIN.md's, and how each was measured. */
    private void peakTable(StringBuilder md) {
        md.append("Peaks for \"% of peak\": ");
        if (peaks == null) {
            md.append("**not measured this run** (no PeakProbe output); TOOLCHAIN.md's figures from a faster host are used: ")
              .append(f(BenchSupport.PEAK_GFLOPS)).append(" GFLOP/s FP32 on 2 cores (AVX-512 FMA loop), ")
              .append(f(BenchSupport.PEAK_GBS)).append(" GB/s (STREAM triad, 2 threads).\n\n");
            return;
        }
        md.append("measured at the start of this run by `PeakProbe` (load average then ").append(peaks.get("load_average"))
          .append("); the percentages use the 2-thread bandwidth and the larger FMA rate (").append(f(peakGflops))
          .append(" GFLOP/s; on a shared machine the 2-thread rounds may find only one core free). TOOLCHAIN.md's figures ")
          .append("were measured on a faster, idle host.\n\n");
        md.append("| peak | this run | TOOLCHAIN.md | how this run measured it |\n|---|---|---|---|\n");
        String fma = "Vector API loop of " + peaks.get("accumulators") + " independent FMA chains on " + peaks.get("lanes")
                + "-float vectors (enough to fill both FMA pipes), best of 20 rounds of 0.02 s after a JIT warm-up";
        md.append("| FP32 FMA, 1 thread | ").append(f(num(peaks.get("fma_gflops_1t")))).append(" GFLOP/s | 235-240 GFLOP/s | ")
          .append(fma).append(" |\n");
        md.append("| FP32 FMA, 2 threads | ").append(f(num(peaks.get("fma_gflops_2t")))).append(" GFLOP/s | ").append(f(BenchSupport.PEAK_GFLOPS))
          .append(" GFLOP/s | the same loop on 2 threads at once |\n");
        md.append("| memory bandwidth, 2 threads | ").append(f(peakGbs)).append(" GB/s | ").append(f(BenchSupport.PEAK_GBS))
          .append(" GB/s | STREAM triad a = b + s c (Vector API) over 3 arrays of ").append(f(num(peaks.get("triad_mib")) / 3))
          .append(" MiB (L3 is 32 MiB), one half per thread, 12 bytes per element, best of 20 passes |\n\n");
    }

    private void headline(StringBuilder md, Object pj, Object e2e) {
        md.append("## Training and sampling").append(primary.equals("cpu") ? " (issue 6)" : "").append(": images/s\n\n");
        md.append("| workload | ddpm4j min ms | ddpm4j median ms | PyTorch min ms | PyTorch median ms | ddpm4j img/s | PyTorch img/s | speed ratio | target |\n");
        md.append("|---|---|---|---|---|---|---|---|---|\n");
        List<Row> steps = new ArrayList<>();
        for (Row r : ours.values()) if (r.key().startsWith("train_")) steps.add(r);
        for (Row r : ours.values()) if (r.group().equals("step") && !r.key().startsWith("train_")) steps.add(r);
        for (Row r : steps) {
            double[] t = peer.get(r.key());
            md.append("| ").append(r.key()).append(" | ").append(f(r.min())).append(" | ").append(f(r.median())).append(" | ")
              .append(t == null ? "–" : f(t[0])).append(" | ").append(t == null ? "–" : f(t[1])).append(" | ")
              .append(f(r.images() * 1e3 / r.median())).append(" | ").append(t == null ? "–" : f(r.images() * 1e3 / t[1]))
              .append(" | ").append(ratioCell(r.median(), t, r.key())).append(" | ")
              .append(!primary.equals("cpu") ? "–" : t == null ? "1.5x" : (t[1] / r.median() >= 1.5 ? "1.5x met" : "1.5x **missed**")).append(" |\n");
        }
        if (e2e != null) {
            Map<String, Map<String, Object>> theirs = new LinkedHashMap<>();
            if (pj != null) for (Object o : list(map(pj).get("sampling"))) theirs.put(str(map(o).get("op")), map(o));
            md.append("\nWhole sampling runs of 16 images, one run each (DDIM: eta = 0, 50 of the 1000 timesteps). Every step ")
              .append("costs the same, so a loop may run only its first K steps and scale the time by steps / K: the 1000-step ")
              .append("loop runs 100 by default (`--full-sampling` runs all), and a loop stops after its time budget ")
              .append(num(map(e2e).get("sampling_budget_s")) < 0 ? "(none this run: every step ran" // --full-sampling
                      : "(" + f(num(map(e2e).get("sampling_budget_s"))) + " s this run; at least 3 steps")
              .append("; K is shown).\n\n");
            md.append("| run | ddpm4j s (K) | PyTorch s (K) | ddpm4j img/s | PyTorch img/s | speed ratio |\n|---|---|---|---|---|---|\n");
            for (Object o : list(map(e2e).get("sampling"))) {
                Map<String, Object> r = map(o);
                String op = str(r.get("op"));
                double ms = num(r.get("ms"));
                Map<String, Object> t = theirs.get(op);
                double tms = t == null ? Double.NaN : num(t.get("ms"));
                md.append("| ").append(op).append(" | ").append(f(ms / 1e3)).append(" (").append(r.get("steps_run")).append(") | ")
                  .append(t == null ? "–" : f(tms / 1e3) + " (" + t.get("steps_run") + ")").append(" | ").append(f(16e3 / ms))
                  .append(" | ").append(t == null ? "–" : f(16e3 / tms)).append(" | ")
                  .append(ratioCell(ms, t == null ? null : new double[] {tms, tms}, op)).append(" |\n");
            }
        }
        md.append('\n');
    }

    private void memory(StringBuilder md, Object pj, Object e2e) {
        if (e2e == null) return;
        Map<String, Double> theirs = new LinkedHashMap<>();
        Map<String, Object> theirParams = new LinkedHashMap<>();
        if (pj != null) for (Object o : list(map(pj).get("peak_rss"))) {
            theirs.put(str(map(o).get("workload")), num(map(o).get("peak_rss_mib")));
            theirParams.put(str(map(o).get("workload")), map(o).get("parameters"));
        }
        md.append("## Peak resident memory (issue 6)\n\n")
          .append("Each workload in a fresh process (2 training steps or 3 sampling steps): Linux VmHWM of that process. The ddpm4j ")
          .append("process is a JVM whose RSS includes the Java heap and JIT: with the `ddpm` launcher's flags (DDPM4J_JVM_FLAGS ")
          .append("in scripts/env.sh, shown per row) and, for the training steps, again with the heap capped at 256 MiB; the ")
          .append("tensor column is the backend pool's peak of live tensor memory (freed blocks it caches for reuse come on ")
          .append("top, up to the most ever live), the heap column the Java heap committed at the end. Both sides free the ")
          .append("gradients between training steps (PyTorch: zero_grad(set_to_none=True)) and the graph during backward.\n\n");
        md.append("| workload | parameters (ddpm4j / PyTorch) | ddpm4j peak RSS MiB | ddpm4j peak tensors MiB | ddpm4j Java heap MiB | PyTorch peak RSS MiB | ddpm4j / PyTorch |\n|---|---|---|---|---|---|---|\n");
        for (Object o : list(map(e2e).get("peak_rss"))) {
            Map<String, Object> r = map(o);
            String w = str(r.get("workload")), jvm = str(r.get("jvm"));
            double mine = num(r.get("peak_rss_mib"));
            Double t = theirs.get(w);
            md.append("| ").append(w).append(jvm == null ? "" : " (JVM `" + jvm + "`)").append(" | ").append(r.get("parameters")).append(" / ").append(theirParams.getOrDefault(w, "–"))
              .append(" | ").append(f(mine)).append(" | ").append(f(num(r.get("peak_tensor_mib")))).append(" | ")
              .append(f(num(r.get("heap_committed_mib"))))
              .append(" | ").append(t == null ? "–" : f(t)).append(" | ")
              .append(t == null ? "–" : String.format(Locale.ROOT, "%.2f", mine / t)).append(" |\n");
        }
        md.append('\n');
    }

    private void opTable(StringBuilder md, String title, String group) {
        md.append("## ").append(title).append("\n\n");
        md.append("| workload | ddpm4j min | ddpm4j median | PyTorch min | PyTorch median | speed ratio | ddpm4j rate | % of peak | PyTorch rate |\n");
        md.append("|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : ours.values()) {
            if (!r.group().equals(group)) continue;
            double[] t = peer.get(r.key());
            md.append("| ").append(r.key()).append(" | ").append(f(r.min())).append(" | ").append(f(r.median())).append(" | ")
              .append(t == null ? "–" : f(t[0])).append(" | ").append(t == null ? "–" : f(t[1])).append(" | ")
              .append(ratioCell(r.median(), t, r.key())).append(" | ").append(rate(r, r.median())).append(" | ")
              .append(pct(r)).append(" | ").append(t == null ? "–" : rate(r, t[1])).append(" |\n");
        }
        md.append('\n');
    }

    private static String rate(Row r, double ms) {
        if (r.flops() > 0) return f(r.flops() / ms / 1e6) + " GFLOP/s";
        if (r.bytes() > 0) return f(r.bytes() / ms / 1e6) + " GB/s";
        if (r.images() > 0) return f(r.images() * 1e3 / ms) + " img/s";
        return "–";
    }

    private String pct(Row r) {
        if (r.flops() > 0) return String.format(Locale.ROOT, "%.0f%%", 100 * r.flops() / r.median() / 1e6 / peakGflops);
        if (r.bytes() > 0) return String.format(Locale.ROOT, "%.0f%%", 100 * r.bytes() / r.median() / 1e6 / peakGbs);
        return "–";
    }

    private void fused(StringBuilder md) {
        md.append("## Fused update kernels (issue 5 item 6, issue 6 target: 80% of the memory bandwidth)\n\n")
          .append("Bytes are the fused kernel's minimum traffic (q_sample 12, ancestral step 16, Adam 28, EMA 12 bytes per ")
          .append("element); the unfused rows do the same work with library ops and are rated against the same bytes. Sizes ")
          .append("below a few MB run from cache, so their GB/s can pass the DRAM figure.");
        double bw = peakGbs;
        if (!fusedProbes.isEmpty()) {
            bw = fusedProbes.stream().mapToDouble(Double::doubleValue).average().orElse(peakGbs);
            md.append(" Rated against the bandwidth measured right next to these benchmarks (PeakProbe's triad just before and ")
              .append("after them: ").append(String.join(" and ", fusedProbes.stream().map(Report::f).toList()))
              .append(" GB/s, mean ").append(f(bw)).append(" GB/s), because this machine's bandwidth moves within minutes");
            if (peaks != null) md.append(" (the probe at the start of the run: ").append(f(peakGbs)).append(" GB/s)");
            md.append('.');
        }
        md.append("\n\n");
        md.append("| workload | ddpm4j fused median ms | GB/s | % of ").append(f(bw)).append(" GB/s | ddpm4j unfused median ms | fused speed-up | PyTorch median ms | speed ratio |\n");
        md.append("|---|---|---|---|---|---|---|---|\n");
        for (Row r : ours.values()) {
            if (!r.group().equals("fused") || r.key().endsWith("_unfused")) continue;
            Row u = ours.get(r.key() + "_unfused");
            double[] t = peer.get(r.key());
            md.append("| ").append(r.key()).append(" | ").append(f(r.median())).append(" | ").append(f(r.bytes() / r.median() / 1e6))
              .append(" | ").append(String.format(Locale.ROOT, "%.0f%%", 100 * r.bytes() / r.median() / 1e6 / bw)).append(" | ")
              .append(u == null ? "–" : f(u.median())).append(" | ")
              .append(u == null ? "–" : String.format(Locale.ROOT, "%.2fx", u.median() / r.median())).append(" | ")
              .append(t == null ? "–" : f(t[1])).append(" | ").append(ratioCell(r.median(), t, r.key())).append(" |\n");
        }
        md.append('\n');
    }

    private void profile(StringBuilder md, Object e2e) {
        if (e2e == null) return;
        for (Object o : list(map(e2e).get("profile"))) {
            Map<String, Object> p = map(o);
            double step = num(p.get("step_ms"));
            md.append("## Profile of one training step: ").append(p.get("workload")).append("\n\n")
              .append("ProfilingBackend times every backend call (with sync) over ").append(p.get("steps"))
              .append(" steps after " + EndToEnd.WARM_STEPS + " warm-up steps (the steady state of a training run); \"optimizer\" is everything after backward (clipping, Adam, EMA, releasing the ")
              .append("gradients); \"java\" is the time no backend call accounts for (autograd bookkeeping, graph, host code). ")
              .append("Step: ").append(f(step)).append(" ms (the wrapper's timing adds a little per call).\n\n");
            md.append("| family | ms per step | % of step | calls per step |\n|---|---|---|---|\n");
            for (var e : map(p.get("families")).entrySet()) {
                Map<String, Object> v = map(e.getValue());
                md.append("| ").append(e.getKey()).append(" | ").append(f(num(v.get("ms")))).append(" | ")
                  .append(String.format(Locale.ROOT, "%.1f%%", 100 * num(v.get("ms")) / step)).append(" | ")
                  .append(v.get("calls")).append(" |\n");
            }
            md.append('\n');
        }
    }

    private void regressions(StringBuilder md, Map<String, String> a) throws Exception {
        md.append("## Regressions against bench/baseline.json\n\n");
        Object base = read(a.get("baseline"));
        if (base == null) {
            md.append(a.containsKey("update-baseline")
                    ? "No baseline existed before this run; its minimum times are now the baseline (bench/baseline.json), "
                      + "and later runs are checked against them.\n"
                    : "No baseline stored yet (`bench/run.sh --update-baseline` writes one).\n");
            return;
        }
        Map<String, Object> b = map(map(base).get("min_ms"));
        List<String> slower = new ArrayList<>();
        int compared = 0;
        for (Row r : ours.values()) {
            if (!(b.get(r.key()) instanceof Number n)) continue;
            compared++;
            double ratio = r.min() / n.doubleValue();
            if (ratio > 1.10)
                slower.add(String.format(Locale.ROOT, "| %s | %s | %s | +%.0f%% |", r.key(), f(n.doubleValue()), f(r.min()), 100 * (ratio - 1)));
        }
        md.append("Compared by the minimum time (the median moves with the machine's load); threshold 10%. Baseline from ")
          .append(map(base).get("written")).append(", ").append(compared).append(" benchmarks compared.\n\n");
        if (slower.isEmpty()) md.append("No benchmark is more than 10% slower than the baseline.\n");
        else {
            md.append("| benchmark | baseline min ms | this run min ms | slower by |\n|---|---|---|---|\n");
            slower.forEach(s -> md.append(s).append('\n'));
            System.err.println("Report: " + slower.size() + " benchmark(s) more than 10% slower than bench/baseline.json");
        }
    }

    private void writeBaseline(Path file) throws Exception {
        Map<String, Object> mins = new LinkedHashMap<>();
        for (Row r : ours.values()) mins.put(r.key(), r.min());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("written", java.time.Instant.now().toString());
        out.put("min_ms", mins);
        Files.writeString(file, Json.write(out));
    }
}
