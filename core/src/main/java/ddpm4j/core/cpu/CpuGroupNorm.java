// SPDX-License-Identifier: Apache-2.0
// Fused GroupNorm(+SiLU) forward and backward on the CPU: one (sample, group) block per task, Vector API loops.
// Definition: RefLayers.groupNormForward / groupNormBackward. Test: CpuGroupNormTest.
package ddpm4j.core.cpu;

import ddpm4j.core.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import static ddpm4j.core.cpu.CpuMem.L;
import static ddpm4j.core.cpu.CpuMem.LE;
import static ddpm4j.core.cpu.CpuMem.S;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

final class CpuGroupNorm {
    private CpuGroupNorm() {}

    // x, out: (N, C, HW)  w, b: (C) or null  mean, rstd: (N, G)
    // y = (x - mean) * rstd * w + b; out = silu(y) when fused
    static void forward(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor w, Tensor b,
                        int n, int c, int hw, int groups, float eps, boolean silu) {
        MemorySegment o = CpuMem.seg(out), xs = CpuMem.seg(x), ws = CpuMem.seg(w), bs = CpuMem.seg(b);
        MemorySegment ms = CpuMem.seg(mean), rs = CpuMem.seg(rstd);
        int cg = c / groups;
        int count = cg * hw;
        Parallel.forRange(n * groups, grainFor(n * groups, count), (wk, lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                int gi = t % groups;
                long base = (long) t * count;              // (n, group) blocks are contiguous
                // 1. mean, then the variance about it (two passes: no cancellation)
                float mu = sum(xs, base, count, 0f, false) / count;
                float var = sum(xs, base, count, mu, true) / count;
                float r = (float) (1 / Math.sqrt(var + eps));
                ms.setAtIndex(JAVA_FLOAT, t, mu);
                rs.setAtIndex(JAVA_FLOAT, t, r);
                // 2. per channel y = x * scale + shift, scale = rstd * w, shift = b - mean * scale
                for (int cc = 0; cc < cg; cc++) {
                    int ch = gi * cg + cc;
                    float scale = r * (ws == null ? 1f : ws.getAtIndex(JAVA_FLOAT, ch));
                    float shift = (bs == null ? 0f : bs.getAtIndex(JAVA_FLOAT, ch)) - mu * scale;
                    normRow(o, xs, base + (long) cc * hw, hw, scale, shift, silu);
                }
            }
        });
    }

    // One channel row: out = x * scale + shift (then silu). A whole row per call keeps the vectors inside one small
    // compiled method, where C2 inlines sigmoid/exp and never boxes a FloatVector. SiLU and plain rows are separate
    // methods, not one loop with an "if (silu)": a loop first compiled with the branch never taken was recompiled
    // 3x slower once SiLU calls came (measured: plain GroupNorm then GroupNorm+SiLU in one JVM, as a U-Net runs them).
    private static void normRow(MemorySegment o, MemorySegment xs, long row, int hw, float scale, float shift,
                                boolean silu) {
        if (silu) normRowSilu(o, xs, row, hw, scale, shift);
        else normRowPlain(o, xs, row, hw, scale, shift);
    }

    private static void normRowPlain(MemorySegment o, MemorySegment xs, long row, int hw, float scale, float shift) {
        int p = 0;
        for (int bound = S.loopBound(hw); p < bound; p += L) {
            FloatVector.fromMemorySegment(S, xs, (row + p) * 4, LE).fma(scale, shift).intoMemorySegment(o, (row + p) * 4, LE);
        }
        if (p < hw) {
            VectorMask<Float> m = S.indexInRange(p, hw);
            FloatVector.fromMemorySegment(S, xs, (row + p) * 4, LE, m).fma(scale, shift).intoMemorySegment(o, (row + p) * 4, LE, m);
        }
    }

    private static void normRowSilu(MemorySegment o, MemorySegment xs, long row, int hw, float scale, float shift) {
        int p = 0;
        for (int bound = S.loopBound(hw); p < bound; p += L) {
            var y = FloatVector.fromMemorySegment(S, xs, (row + p) * 4, LE).fma(scale, shift);
            y.mul(CpuElementwise.sigmoid(y)).intoMemorySegment(o, (row + p) * 4, LE);
        }
        if (p < hw) {
            VectorMask<Float> m = S.indexInRange(p, hw);
            var y = FloatVector.fromMemorySegment(S, xs, (row + p) * 4, LE, m).fma(scale, shift);
            y.mul(CpuElementwise.sigmoid(y)).intoMemorySegment(o, (row + p) * 4, LE, m);
        }
    }

    // dx: (N, C, HW); dw, db: (C) or null. With g = dy (times silu'(y) when fused) and xhat = (x - mean) * rstd:
    // dw = sum g xhat, db = sum g, dx = rstd (w g - mean_j(w g) - xhat mean_j(w g xhat)) over each group.
    // Memory: x and dy are read once from memory; g and the group's x (count floats) come back from L1 for dx.
    static void backward(Tensor dx, Tensor dw, Tensor db, Tensor dy, Tensor x, Tensor w, Tensor b,
                         Tensor mean, Tensor rstd, int n, int c, int hw, int groups, boolean silu) {
        MemorySegment d = CpuMem.seg(dx), gy = CpuMem.seg(dy), xs = CpuMem.seg(x), ws = CpuMem.seg(w), bs = CpuMem.seg(b);
        MemorySegment ms = CpuMem.seg(mean), rs = CpuMem.seg(rstd);
        int cg = c / groups;
        int count = cg * hw;
        // per (sample, channel) sums of g * xhat and of g at [2 (ni c + ch)] and [+1], reduced over samples at the
        // end in sample order (no write races, and the same bits for any thread count); the caller's scratch
        float[] part = CpuMem.scratch(1, 2 * n * c);
        Parallel.forRange(n * groups, grainFor(n * groups, 2 * count), (wk, lo, hi) -> {
            float[] gbuf = CpuMem.scratch(0, count + 2 * L);    // g of one group, then 2 L lanes for gradRow
            for (int t = lo; t < hi; t++) {
                int ni = t / groups, gi = t % groups;
                long base = (long) t * count;
                float mu = ms.getAtIndex(JAVA_FLOAT, t), r = rs.getAtIndex(JAVA_FLOAT, t);
                float sum1 = 0f, sum2 = 0f;                 // sums over the group of w g and w g xhat
                // 1. g (silu' applied) into gbuf; per-channel sums of g and g * xhat
                for (int cc = 0; cc < cg; cc++) {
                    int ch = gi * cg + cc, at = 2 * (ni * c + ch);
                    float wv = ws == null ? 1f : ws.getAtIndex(JAVA_FLOAT, ch), bv = bs == null ? 0f : bs.getAtIndex(JAVA_FLOAT, ch);
                    gradRow(gbuf, cc * hw, count, part, at, xs, gy, base + (long) cc * hw, hw, mu, r, wv, bv, silu);
                    sum1 += wv * part[at + 1];
                    sum2 += wv * part[at];
                }
                // 2. dx = A g + B x + C, with A = rstd w, B = -rstd^2 sum2 / count, C = -rstd sum1 / count - B mean
                float bq = -r * r * sum2 / count, cq = -r * sum1 / count - bq * mu;
                for (int cc = 0; cc < cg; cc++) {
                    float a = r * (ws == null ? 1f : ws.getAtIndex(JAVA_FLOAT, gi * cg + cc));
                    dxRow(d, xs, base + (long) cc * hw, gbuf, cc * hw, hw, a, bq, cq);
                }
            }
        });
        // 3. dw, db: sums over samples
        MemorySegment dws = CpuMem.seg(dw), dbs = CpuMem.seg(db);
        for (int ch = 0; ch < c; ch++) {
            float aw = 0f, ab = 0f;
            for (int ni = 0; ni < n; ni++) { aw += part[2 * (ni * c + ch)]; ab += part[2 * (ni * c + ch) + 1]; }
            if (dws != null) dws.setAtIndex(JAVA_FLOAT, ch, aw);
            if (dbs != null) dbs.setAtIndex(JAVA_FLOAT, ch, ab);
        }
    }

    // One channel row of step 1: g = dy (times silu'(y), y = xhat w + b, when fused) into gbuf[go, go + hw);
    // part[at] = sum g xhat, part[at + 1] = sum g. Row-sized, SiLU and plain apart, for the reasons at normRow. The
    // accumulators leave through gbuf[lanes, lanes + 2 L), not CpuMem.sumLanes, which C2 may decline to inline into
    // the large SiLU method (NodeCountInliningCutoff) and then box both vectors once per row.
    private static void gradRow(float[] gbuf, int go, int lanes, float[] part, int at, MemorySegment xs, MemorySegment gy,
                                long row, int hw, float mu, float r, float wv, float bv, boolean silu) {
        if (silu) gradRowSilu(gbuf, go, lanes, part, at, xs, gy, row, hw, mu, r, wv, bv);
        else gradRowPlain(gbuf, go, lanes, part, at, xs, gy, row, hw, mu, r);
    }

    private static void gradRowPlain(float[] gbuf, int go, int lanes, float[] part, int at, MemorySegment xs,
                                     MemorySegment gy, long row, int hw, float mu, float r) {
        var accG = FloatVector.zero(S);
        var accGX = FloatVector.zero(S);
        int p = 0;
        for (int bound = S.loopBound(hw); p < bound; p += L) {
            var xh = FloatVector.fromMemorySegment(S, xs, (row + p) * 4, LE).sub(mu).mul(r);
            var g = FloatVector.fromMemorySegment(S, gy, (row + p) * 4, LE);
            g.intoArray(gbuf, go + p);
            accG = accG.add(g);
            accGX = g.fma(xh, accGX);
        }
        accG.intoArray(gbuf, lanes);
        accGX.intoArray(gbuf, lanes + L);
        sumLanePairs(gbuf, lanes);
        float sG = gbuf[lanes], sGX = gbuf[lanes + 1];
        for (; p < hw; p++) {
            float xh = (xs.getAtIndex(JAVA_FLOAT, row + p) - mu) * r;
            float g = gy.getAtIndex(JAVA_FLOAT, row + p);
            gbuf[go + p] = g;
            sG += g;
            sGX += g * xh;
        }
        part[at] = sGX;
        part[at + 1] = sG;
    }

    private static void gradRowSilu(float[] gbuf, int go, int lanes, float[] part, int at, MemorySegment xs,
                                    MemorySegment gy, long row, int hw, float mu, float r, float wv, float bv) {
        var accG = FloatVector.zero(S);
        var accGX = FloatVector.zero(S);
        int p = 0;
        for (int bound = S.loopBound(hw); p < bound; p += L) {
            var xh = FloatVector.fromMemorySegment(S, xs, (row + p) * 4, LE).sub(mu).mul(r);
            var y = xh.fma(wv, bv);
            var sg = CpuElementwise.sigmoid(y);                  // d silu(y)/dy = s (1 + y (1 - s))
            var g = FloatVector.fromMemorySegment(S, gy, (row + p) * 4, LE).mul(sg.mul(y.mul(sg.neg().add(1f)).add(1f)));
            g.intoArray(gbuf, go + p);
            accG = accG.add(g);
            accGX = g.fma(xh, accGX);
        }
        accG.intoArray(gbuf, lanes);
        accGX.intoArray(gbuf, lanes + L);
        sumLanePairs(gbuf, lanes);
        float sG = gbuf[lanes], sGX = gbuf[lanes + 1];
        for (; p < hw; p++) {
            float xh = (xs.getAtIndex(JAVA_FLOAT, row + p) - mu) * r;
            float y = xh * wv + bv, sg = (float) (1 / (1 + Math.exp(-y)));
            float g = gy.getAtIndex(JAVA_FLOAT, row + p) * (sg * (1 + y * (1 - sg)));
            gbuf[go + p] = g;
            sG += g;
            sGX += g * xh;
        }
        part[at] = sGX;
        part[at + 1] = sG;
    }

    // a[at] = sum of a[at, at + L), a[at + 1] = sum of a[at + L, at + 2 L), each in lane order (as CpuMem.sumLanes).
    private static void sumLanePairs(float[] a, int at) {
        float s0 = 0f, s1 = 0f;
        for (int i = 0; i < L; i++) {
            s0 += a[at + i];
            s1 += a[at + L + i];
        }
        a[at] = s0;
        a[at + 1] = s1;
    }

    // One channel row of step 2: dx = a g + (x bq + cq).
    private static void dxRow(MemorySegment d, MemorySegment xs, long row, float[] gbuf, int go, int hw,
                              float a, float bq, float cq) {
        int p = 0;
        for (int bound = S.loopBound(hw); p < bound; p += L) {
            var xv = FloatVector.fromMemorySegment(S, xs, (row + p) * 4, LE);
            FloatVector.fromArray(S, gbuf, go + p).mul(a).add(xv.fma(bq, cq)).intoMemorySegment(d, (row + p) * 4, LE);
        }
        for (; p < hw; p++) {
            float xv = xs.getAtIndex(JAVA_FLOAT, row + p);
            d.setAtIndex(JAVA_FLOAT, row + p, a * gbuf[go + p] + (xv * bq + cq));
        }
    }

    // Blocks per chunk so that a chunk holds at least CpuMem.GRAIN elements of work.
    private static int grainFor(int blocks, int perBlock) {
        return Math.max(1, Math.min((blocks + Parallel.threads() - 1) / Parallel.threads(),
                Math.max(1, CpuMem.GRAIN / Math.max(1, perBlock))));
    }

    // sum of x, or of (x - mu)^2 when squared, over n elements at element offset base
    private static float sum(MemorySegment a, long base, int n, float mu, boolean squared) {
        var acc0 = FloatVector.zero(S);
        var acc1 = acc0;
        int i = 0;
        for (int bound = n - 2 * L + 1; i < bound; i += 2 * L) {
            var v0 = FloatVector.fromMemorySegment(S, a, (base + i) * 4, LE);
            var v1 = FloatVector.fromMemorySegment(S, a, (base + i + L) * 4, LE);
            if (squared) {
                v0 = v0.sub(mu);
                v1 = v1.sub(mu);
                acc0 = v0.fma(v0, acc0);
                acc1 = v1.fma(v1, acc1);
            } else {
                acc0 = acc0.add(v0);
                acc1 = acc1.add(v1);
            }
        }
        float s = CpuMem.sumLanes(acc0.add(acc1));
        for (; i < n; i++) {
            float v = a.getAtIndex(JAVA_FLOAT, base + i);
            s += squared ? (v - mu) * (v - mu) : v;
        }
        return s;
    }
}
