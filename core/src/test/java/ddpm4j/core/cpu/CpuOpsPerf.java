// SPDX-License-Identifier: Apache-2.0
// Quick timing of the issue-2 op shapes on a backend through the Tensor API (not a test, not JMH): the same work as
// bench/pytorch/peer_ops.py, printed as "op min median" lines. Run with the test class path:
//   java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp ... ddpm4j.core.cpu.CpuOpsPerf [backend] [filter]
package ddpm4j.core.cpu;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.GradMode;
import ddpm4j.core.Ops;
import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;
import ddpm4j.core.testing.Rand;
import java.util.Arrays;

public final class CpuOpsPerf {
    private CpuOpsPerf() {}

    public static void main(String[] args) {
        Backend be = Backends.get(args.length > 0 ? args[0] : "cpu");
        String only = args.length > 1 ? args[1] : "";
        System.out.println(be.describe());
        for (int[] s : new int[][]{{16, 64, 32}, {16, 128, 16}}) {
            int n = s[0], c = s[1], hw = s[2];
            Tensor x = Rand.normal(be, 1, n, c, hw, hw), w = Rand.normal(be, 2, c, c, 3, 3).mul(1 / Math.sqrt(9.0 * c));
            Tensor b = Rand.normal(be, 3, c), g = Rand.normal(be, 4, n, c, hw, hw);
            String tag = "n" + n + "_c" + c + "_" + hw + "x" + hw;
            time("conv3x3_" + tag + "_fwd", only, () -> { try (GradMode m = GradMode.off()) { x.conv2d(w, b, 1, 1); } });
            time("conv3x3_" + tag + "_fwdbwd", only, () -> {
                Tensor xr = x.detach().requiresGrad(true), wr = w.detach().requiresGrad(true), br = b.detach().requiresGrad(true);
                xr.conv2d(wr, br, 1, 1).backward(g);
                closeGrads(xr, wr, br);
            });
        }
        for (int[] s : new int[][]{{16, 128, 16}, {16, 64, 32}}) {
            int n = s[0], c = s[1], hw = s[2];
            Tensor x = Rand.normal(be, 5, n, c, hw, hw), gw = Rand.normal(be, 6, c), gb = Rand.normal(be, 7, c);
            Tensor g = Rand.normal(be, 8, n, c, hw, hw);
            for (boolean silu : new boolean[]{false, true}) {
                String tag = "groupnorm32" + (silu ? "_silu" : "") + "_n" + n + "_c" + c + "_" + hw + "x" + hw;
                time(tag + "_fwd", only, () -> { try (GradMode m = GradMode.off()) { x.groupNorm(32, gw, gb, 1e-5f, silu); } });
                time(tag + "_fwdbwd", only, () -> {
                    Tensor xr = x.detach().requiresGrad(true), wr = gw.detach().requiresGrad(true), br = gb.detach().requiresGrad(true);
                    xr.groupNorm(32, wr, br, 1e-5f, silu).backward(g);
                    closeGrads(xr, wr, br);
                });
            }
        }
        int n = 8, c = 256, hw = 16;
        Tensor x = Rand.normal(be, 9, n, c, hw, hw), g = Rand.normal(be, 10, n, c, hw, hw);
        Tensor nw = Rand.normal(be, 11, c), nb = Rand.normal(be, 12, c);
        Tensor qkvW = Rand.normal(be, 13, 3 * c, c, 1, 1).mul(1 / Math.sqrt(c)), qkvB = Rand.normal(be, 14, 3 * c);
        Tensor projW = Rand.normal(be, 15, c, c, 1, 1).mul(1 / Math.sqrt(c)), projB = Rand.normal(be, 16, c);
        time("attention_n8_c256_16x16_fwd", only, () -> {
            try (GradMode m = GradMode.off()) { attnBlock(x, nw, nb, qkvW, qkvB, projW, projB); }
        });
        time("attention_n8_c256_16x16_fwdbwd", only, () -> {
            Tensor[] p = {x, nw, nb, qkvW, qkvB, projW, projB};
            for (int i = 0; i < p.length; i++) p[i] = p[i].detach().requiresGrad(true);
            attnBlock(p[0], p[1], p[2], p[3], p[4], p[5], p[6]).backward(g);
            closeGrads(p);
        });
    }

    // Gradients outlive scopes (they are read after backward); free them here so the pool reuses their memory.
    private static void closeGrads(Tensor... ts) {
        for (Tensor t : ts) if (t.grad() != null) t.grad().close();
    }

    // The DDPM attention block: GroupNorm(32), 1x1 q/k/v, softmax(q k^T / sqrt(C)) v over positions, 1x1 proj, residual.
    static Tensor attnBlock(Tensor x, Tensor nw, Tensor nb, Tensor qkvW, Tensor qkvB, Tensor projW, Tensor projB) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        Tensor qkv = x.groupNorm(32, nw, nb, 1e-6f, false).conv2d(qkvW, qkvB, 1, 0).reshape(n, 3, c, h * w);
        // (n, 1, c, hw) slice -> (n, 1, hw, c): one transposing copy each, then free reshapes
        Tensor q = qkv.slice(1, 0, 1).transpose(2, 3).contiguous().reshape(n, h * w, c);
        Tensor k = qkv.slice(1, 1, 2).transpose(2, 3).contiguous().reshape(n, h * w, c);
        Tensor v = qkv.slice(1, 2, 3).transpose(2, 3).contiguous().reshape(n, h * w, c);
        Tensor a = Ops.attention(q, k, v, (float) (1 / Math.sqrt(c))).transpose(1, 2).reshape(n, c, h, w);
        return x.add(a.conv2d(projW, projB, 1, 0));
    }

    // -Dcputime=true: thread CPU time instead of wall time (with -Dddpm4j.threads=1 on a shared, loaded machine,
    // the closer measure of the work itself; compare with bench/pytorch/peer_ops.py --cputime).
    private static final boolean CPU_TIME = Boolean.getBoolean("cputime");
    private static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();

    private static long now() {
        return CPU_TIME ? MX.getCurrentThreadCpuTime() : System.nanoTime();
    }

    private static void time(String name, String only, Runnable r) {
        if (!name.contains(only)) return;
        // warm-up until the JIT has compiled the hot paths: at least 5 runs and 2 s (or -Dwarmup=N runs)
        long warmEnd = System.nanoTime() + 2_000_000_000L;
        for (int i = 0; i < Integer.getInteger("warmup", 5) || (System.getProperty("warmup") == null
                && System.nanoTime() < warmEnd && i < 2000); i++) {
            try (Scope s = Scope.open()) { r.run(); }
        }
        double[] ms = new double[30];
        long budget = System.nanoTime() + 3_000_000_000L;
        int reps = 0;
        while (reps < ms.length && (reps < 5 || System.nanoTime() < budget)) {
            long t0 = now();
            try (Scope s = Scope.open()) { r.run(); }
            ms[reps++] = (now() - t0) / 1e6;
        }
        double[] t = Arrays.copyOf(ms, reps);
        Arrays.sort(t);
        System.out.printf("%-44s min %9.3f ms  median %9.3f ms%n", name, t[0], t[reps / 2]);
    }
}
