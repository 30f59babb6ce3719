// SPDX-License-Identifier: Apache-2.0
// The end-to-end measurements of issue 6 that do not fit JMH: DDIM-50 and 1000-step ancestral sampling of 16 images,
// the peak resident memory of each workload (one fresh JVM each, /proc/self/status VmHWM), and the profile of one
// training step by op family (ProfilingBackend). Writes JSON for Report. Peer: peer.py sampling_runs / peak_rss.
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.Tensor;
import ddpm4j.core.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code java -cp benchmarks.jar ddpm4j.bench.EndToEnd --out e2e.json [--quick] [--ddpm-steps K] [--full-sampling]}. */
public final class EndToEnd {
    private static final String SMALL_HEAP = "-Xmx256m";
    /** The `ddpm` launcher's JVM flags (DDPM4J_JVM_FLAGS in scripts/env.sh); bench/run.sh passes the current ones. */
    private static String launcherFlags = "--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC";
    private static final String[] RSS_WORKLOADS = {"train_mnist_b16", "train_cifar10_b8", "sample_mnist_b16", "sample_cifar10_b16"};

    private EndToEnd() {}

    public static void main(String[] args) throws Exception {
        String out = null, backend = "cpu", only = "";
        int ddpmSteps = 100, profileSteps = 3;
        double budgetS = 120;
        boolean quick = false, full = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = args[++i];
                case "--backend" -> backend = args[++i];
                case "--only" -> only = args[++i];
                case "--ddpm-steps" -> ddpmSteps = Integer.parseInt(args[++i]);
                case "--budget" -> budgetS = Double.parseDouble(args[++i]);
                case "--profile-steps" -> profileSteps = Integer.parseInt(args[++i]);
                case "--launcher-flags" -> launcherFlags = args[++i].strip();
                case "--quick" -> quick = true;
                case "--full-sampling" -> full = true;
                case "--rss-child" -> { rssChild(args[++i], backend); return; }
                case "--probe" -> { probe(args[++i]); return; }
                case "--profile-sample" -> { profileSample(BenchSupport.backend(backend), args[++i], profileSteps); return; }
                default -> throw new IllegalArgumentException("EndToEnd: unknown argument '" + args[i]
                        + "'; expected --out FILE, --backend NAME, --only SUBSTR, --ddpm-steps K, --budget SECONDS, --profile-steps K, --launcher-flags 'FLAGS', --quick, --full-sampling, --profile-sample CONFIG");
            }
        }
        if (quick) { ddpmSteps = 5; profileSteps = 1; budgetS = 10; }
        Backend be = BenchSupport.backend(backend);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("backend", be.describe());
        result.put("sampling_budget_s", full ? -1 : budgetS);
        result.put("sampling", sampling(be, only, full ? DdpmWorkload.T : ddpmSteps, full ? Double.POSITIVE_INFINITY : budgetS));
        boolean host = ProfilingBackend.canWrap(be);
        // the process's resident set says nothing of a GPU's memory: peak RSS is measured for host backends only
        result.put("peak_rss", host ? peakRss(backend, only) : List.of());
        List<Object> profiles = new ArrayList<>();
        for (String cfg : new String[] {"mnist", "cifar10"}) {
            if (!only.isEmpty() && !("profile_" + cfg).contains(only)) continue;
            if (host) profiles.add(profile(be, cfg, cfg.equals("mnist") ? 16 : 8, profileSteps));
            else System.err.println("profile_" + cfg + ": skipped, the op-family profile times host-memory backends only (not " + be.name() + ")");
        }
        result.put("profile", profiles);
        String json = Json.write(result);
        if (out == null) System.out.println(json);
        else Files.writeString(Path.of(out), json);
    }

    /**
     * DDIM-50 (eta 0, through the fused step kernel) and the 1000-step ancestral loop (the first {@code ddpmSteps} steps,
     * scaled). A loop that passes {@code budgetS} seconds (at least 3 steps run) stops and is scaled the same way: every
     * step costs the same, and a loaded machine would otherwise take hours.
     */
    static List<Object> sampling(Backend be, String only, int ddpmSteps, double budgetS) {
        List<Object> rows = new ArrayList<>();
        for (String cfg : new String[] {"mnist", "cifar10"}) {
            if (!only.isEmpty() && !("ddim50_" + cfg + " ddpm1000_" + cfg).contains(only)) continue;
            try (DdpmWorkload w = new DdpmWorkload(be, cfg, 16, false)) {
                Tensor[] x = {w.noise(3)};
                for (int i = 0; i < 2; i++) advance(w, x, w.ancestralStep(x[0], i));   // warm-up: JIT and pool
                rows.add(loop("ddim50_" + cfg + "_b16", DdpmWorkload.DDIM_STEPS, DdpmWorkload.DDIM_STEPS, budgetS,
                        i -> advance(w, x, w.ddimStep(x[0], i))));
                rows.add(loop("ddpm1000_" + cfg + "_b16", DdpmWorkload.T, ddpmSteps, budgetS,
                        i -> advance(w, x, w.ancestralStep(x[0], i))));
                x[0].close();
            }
        }
        return rows;
    }

    /** The sampler's loop body: the step's result replaces x (synchronised, so a GPU step is timed whole). */
    private static void advance(DdpmWorkload w, Tensor[] x, Tensor next) {
        w.be.sync();
        x[0].close();
        x[0] = next;
    }

    /** Runs steps 0.. of a loop of {@code total} (at most {@code maxSteps}, stopping past the budget) and scales. */
    private static Map<String, Object> loop(String op, int total, int maxSteps, double budgetS, java.util.function.IntConsumer step) {
        long t0 = System.nanoTime();
        int done = 0;
        while (done < Math.min(total, maxSteps)) {
            step.accept(done++);
            if (done >= 3 && (System.nanoTime() - t0) / 1e9 > budgetS) break;
        }
        double ms = (System.nanoTime() - t0) / 1e6 * total / done;
        System.err.printf("%s: %.0f ms (%d of %d steps run)%n", op, ms, done, total);
        return Map.of("op", op, "steps", total, "steps_run", done, "ms", ms, "images_per_s", 16e3 / ms, "extrapolated", done != total);
    }

    /** Exits 0 when the named backend can run here (bench/run.sh adds "cuda" to the JMH backends then), else 3. */
    static void probe(String name) {
        try {
            System.out.println(BenchSupport.backend(name).describe());
        } catch (RuntimeException e) {
            System.out.println(e.getMessage());
            System.exit(3);
        }
    }

    /**
     * Each workload in a fresh JVM with the launcher's flags (so VmHWM is that workload's peak alone), and the training
     * steps once more with {@value #SMALL_HEAP}.
     */
    static List<Object> peakRss(String backend, String only) throws IOException, InterruptedException {
        List<Object> rows = new ArrayList<>();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String[]> runs = new ArrayList<>();   // {workload, extra JVM flag or ""}
        for (String name : RSS_WORKLOADS) runs.add(new String[] {name, ""});
        // the training steps again with a bounded heap: tensors live off-heap, so the default heap sizing is mostly slack
        for (String name : RSS_WORKLOADS) if (name.startsWith("train")) runs.add(new String[] {name, SMALL_HEAP});
        for (String[] run : runs) {
            String name = run[0];
            if (!only.isEmpty() && !name.contains(only)) continue;
            List<String> cmd = new ArrayList<>(List.of(java));
            cmd.addAll(List.of(launcherFlags.split("\\s+")));
            if (!run[1].isEmpty()) cmd.add(run[1]);
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), EndToEnd.class.getName(), "--backend", backend,
                    "--rss-child", name));
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String text = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor() != 0) throw new IllegalStateException("EndToEnd: RSS child for " + name + " failed: " + text);
            String[] lines = text.split("\n");
            @SuppressWarnings("unchecked")
            Map<String, Object> row = new LinkedHashMap<>((Map<String, Object>) Json.parse(lines[lines.length - 1], "rss child " + name));
            row.put("jvm", (jvmLabel() + " " + run[1]).strip());
            rows.add(row);
            System.err.println("peak RSS " + name + ": " + lines[lines.length - 1]);
        }
        return rows;
    }

    /** The launcher's flags that shape memory (module and native-access flags left out), or "default". */
    private static String jvmLabel() {
        StringBuilder b = new StringBuilder();
        for (String f : launcherFlags.split("\\s+"))
            if (f.startsWith("-X")) b.append(b.isEmpty() ? "" : " ").append(f);
        return b.isEmpty() ? "default" : b.toString();
    }

    /** Two training steps (the second reuses the first one's memory) or three sampling steps, then this process's peak RSS and the backend's peak tensor bytes. */
    static void rssChild(String name, String backend) throws IOException {
        Backend be = BenchSupport.backend(backend);
        String[] parts = name.split("_");
        int batch = Integer.parseInt(parts[2].substring(1));
        try (DdpmWorkload w = new DdpmWorkload(be, parts[1], batch, parts[0].equals("train"))) {
            if (parts[0].equals("train")) for (int i = 0; i < 2; i++) w.trainStep();
            else {
                Tensor[] x = {w.noise(3)};
                for (int i = 0; i < 3; i++) advance(w, x, w.ancestralStep(x[0], i));
                x[0].close();
            }
            long hwmKb = 0;
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmHWM:")) hwmKb = Long.parseLong(line.replaceAll("[^0-9]", ""));
            System.out.println(Json.writeCompact(Map.of("workload", name, "peak_rss_mib", hwmKb / 1024.0,
                    "peak_tensor_mib", be.peakBytes() / 1048576.0, "parameters", w.parameterCount(),
                    "heap_committed_mib", Runtime.getRuntime().totalMemory() / 1048576.0)));
        }
    }

    /** Training steps run before a profile is taken. */
    static final int WARM_STEPS = 5;

    /** Wall time of {@code steps} training steps split by op family; "java" is what no backend call accounts for. */
    static Map<String, Object> profile(Backend inner, String cfg, int batch, int steps) {
        ProfilingBackend pb = new ProfilingBackend(inner, false);
        try (DdpmWorkload w = new DdpmWorkload(pb, cfg, batch, true)) {
            // warm-up to the steady state a training run is in: JIT (C2 reaches the per-parameter optimizer calls after
            // a few steps; the first step costs about 5x a warm one), pool, first touch, oneDNN primitives
            for (int i = 0; i < WARM_STEPS; i++) w.trainStep();
            pb.reset();
            long t0 = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                w.trainStep(() -> pb.phase(ProfilingBackend.Family.OPTIMIZER));   // DdpmTrainer's afterBackward hook
                pb.phase(null);
            }
            double wallMs = (System.nanoTime() - t0) / 1e6 / steps;
            Map<String, Map<String, Object>> fam = families(pb, steps, wallMs);
            System.err.printf("profile %s b%d: %.0f ms per step%n", cfg, batch, wallMs);
            return Map.of("workload", "train_" + cfg + "_b" + batch, "step_ms", wallMs, "steps", steps, "families", fam);
        } finally {
            pb.close();
        }
    }

    /**
     * Milliseconds and calls per step by op family, then "java": the wall time that no backend call accounts for.
     */
    private static Map<String, Map<String, Object>> families(ProfilingBackend pb, int steps, double wallMs) {
        Map<String, Map<String, Object>> fam = new LinkedHashMap<>();
        double accounted = 0;
        for (var e : pb.totals().entrySet()) {
            double ms = e.getValue()[0] / 1e6 / steps;
            accounted += ms;
            fam.put(e.getKey().name().toLowerCase(java.util.Locale.ROOT), Map.of("ms", ms, "calls", e.getValue()[1] / steps));
        }
        fam.put("java", Map.of("ms", Math.max(0, wallMs - accounted), "calls", 0L));
        return fam;
    }

    /**
     * The sampling step (DdpmSampler.step at batch 16) split by op family and by kind of call (op and shape), over
     * {@code steps} steps after {@link #WARM_STEPS} warm-up steps; printed as text tables on stdout.
     */
    static void profileSample(Backend inner, String cfg, int steps) {
        ProfilingBackend pb = new ProfilingBackend(inner, true);
        try (DdpmWorkload w = new DdpmWorkload(pb, cfg, 16, false)) {
            Tensor x = w.noise(5);
            for (int i = 0; i < WARM_STEPS; i++) w.ancestralStep(x, 500).close();
            pb.reset();
            long t0 = System.nanoTime();
            for (int i = 0; i < steps; i++) w.ancestralStep(x, 500).close();
            double wallMs = (System.nanoTime() - t0) / 1e6 / steps;
            System.out.printf("sample_%s_b16: %.1f ms per step (%d steps)%n%-62s %9s %6s %6s%n", cfg, wallMs, steps,
                    "family", "ms/step", "%", "calls");
            for (var e : families(pb, steps, wallMs).entrySet()) {
                double ms = (double) e.getValue().get("ms");
                System.out.printf("%-62s %9.2f %5.1f%% %6d%n", e.getKey(), ms, 100 * ms / wallMs, (long) e.getValue().get("calls"));
            }
            System.out.println();
            List<Map.Entry<String, long[]>> rows = new ArrayList<>(pb.detail().entrySet());
            rows.sort((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]));
            for (var e : rows) {
                double ms = e.getValue()[0] / 1e6 / steps;
                System.out.printf("%-62s %9.2f %5.1f%% %6d%n", e.getKey(), ms, 100 * ms / wallMs, e.getValue()[1] / steps);
            }
            x.close();
        } finally {
            pb.close();
        }
    }
}
