// SPDX-License-Identifier: Apache-2.0
// Fused memory-bound kernels on the CPU: Philox fills (identical to ddpm4j.core.Philox), q_sample (Eq. 4 of Ho et
// al.), the ancestral step (Alg. 2, line 4), Adam with a clipping scale, and the parameter EMA. Definitions: RefFused.
package ddpm4j.core.cpu;

import ddpm4j.core.Philox;
import ddpm4j.core.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

import static ddpm4j.core.cpu.CpuMem.L;
import static ddpm4j.core.cpu.CpuMem.LE;
import static ddpm4j.core.cpu.CpuMem.S;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

final class CpuFused {
    /** Philox chunk: a multiple of 4 (one block gives four values), so chunks never split a block's work. */
    private static final int RNG_CHUNK = 4096;

    private CpuFused() {}

    // element i of out is element offset + i of the stream (seed): any chunking gives the same numbers
    static void fillRandom(Tensor out, long seed, long offset, boolean normal) {
        MemorySegment o = CpuMem.seg(out);
        long n = out.numel();
        int chunks = Math.toIntExact((n + RNG_CHUNK - 1) / RNG_CHUNK);
        Parallel.forRange(chunks, Math.max(1, CpuMem.GRAIN / RNG_CHUNK), (wk, lo, hi) -> {
            float[] buf = CpuMem.scratch(1, RNG_CHUNK);
            for (int c = lo; c < hi; c++) {
                long start = (long) c * RNG_CHUNK;
                int len = (int) Math.min(RNG_CHUNK, n - start);
                if (normal) Philox.normal(seed, offset + start, buf, 0, len);
                else Philox.uniform(seed, offset + start, buf, 0, len);
                MemorySegment.copy(buf, 0, o, JAVA_FLOAT, start * 4, len);
            }
        });
    }

    // x0, eps, out: (n, d)  a, b: (n);  x_t = a_i x0 + b_i eps  (a = sqrt(alphaBar_t), b = sqrt(1 - alphaBar_t))
    static void qSample(Tensor out, Tensor x0, Tensor eps, Tensor a, Tensor b, int n, int d) {
        MemorySegment o = CpuMem.seg(out), xs = CpuMem.seg(x0), es = CpuMem.seg(eps), as = CpuMem.seg(a), bs = CpuMem.seg(b);
        rows(n, d, (i, base) -> {
            float ai = as.getAtIndex(JAVA_FLOAT, i), bi = bs.getAtIndex(JAVA_FLOAT, i);
            int j = 0;
            for (int bound = S.loopBound(d); j < bound; j += L) {
                long at = (base + j) * 4;
                FloatVector.fromMemorySegment(S, es, at, LE).mul(bi)
                        .add(FloatVector.fromMemorySegment(S, xs, at, LE).mul(ai)).intoMemorySegment(o, at, LE);
            }
            for (; j < d; j++) {
                long at = base + j;
                o.setAtIndex(JAVA_FLOAT, at, ai * xs.getAtIndex(JAVA_FLOAT, at) + bi * es.getAtIndex(JAVA_FLOAT, at));
            }
        });
    }

    // xt, eps, z, out: (n, d)  coef: (n, 5) = c0, c1, mu0, muT, sigma
    // 1. x0 = c0 x_t - c1 eps, clipped to [-1, 1];  2. x_{t-1} = mu0 x0 + muT x_t + sigma z
    static void ancestralStep(Tensor out, Tensor xt, Tensor eps, Tensor z, Tensor coef, int n, int d, boolean clip) {
        MemorySegment o = CpuMem.seg(out), xs = CpuMem.seg(xt), es = CpuMem.seg(eps), zs = CpuMem.seg(z), cs = CpuMem.seg(coef);
        rows(n, d, (i, base) -> {
            float c0 = cs.getAtIndex(JAVA_FLOAT, 5L * i), c1 = cs.getAtIndex(JAVA_FLOAT, 5L * i + 1);
            float mu0 = cs.getAtIndex(JAVA_FLOAT, 5L * i + 2), muT = cs.getAtIndex(JAVA_FLOAT, 5L * i + 3);
            float sigma = cs.getAtIndex(JAVA_FLOAT, 5L * i + 4);
            float lo = clip ? -1f : Float.NEGATIVE_INFINITY, hi = clip ? 1f : Float.POSITIVE_INFINITY;
            int j = 0;
            for (int bound = S.loopBound(d); j < bound; j += L) {
                long at = (base + j) * 4;
                var x = FloatVector.fromMemorySegment(S, xs, at, LE);
                var x0 = x.mul(c0).sub(FloatVector.fromMemorySegment(S, es, at, LE).mul(c1)).max(lo).min(hi);
                x0.mul(mu0).add(x.mul(muT)).add(FloatVector.fromMemorySegment(S, zs, at, LE).mul(sigma))
                        .intoMemorySegment(o, at, LE);
            }
            for (; j < d; j++) {
                long at = base + j;
                float x = xs.getAtIndex(JAVA_FLOAT, at);
                float x0 = Math.min(hi, Math.max(lo, c0 * x - c1 * es.getAtIndex(JAVA_FLOAT, at)));
                o.setAtIndex(JAVA_FLOAT, at, mu0 * x0 + muT * x + sigma * zs.getAtIndex(JAVA_FLOAT, at));
            }
        });
    }

    // m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr (m / bc1) / (sqrt(v / bc2) + eps), g = grad * scale
    static void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor gradScale,
                           float lr, float beta1, float beta2, float eps, float bc1, float bc2) {
        MemorySegment p = CpuMem.seg(param), g = CpuMem.seg(grad), ms = CpuMem.seg(m), vs = CpuMem.seg(v);
        float scale = gradScale == null ? 1f : CpuMem.seg(gradScale).getAtIndex(JAVA_FLOAT, 0);
        float ib1 = 1 - beta1, ib2 = 1 - beta2, rbc1 = 1 / bc1, rbc2 = 1 / bc2;
        long n = param.numel();
        Parallel.forRange(Math.toIntExact(n), CpuMem.grain(n), (wk, lo, hi) -> {
            int i = lo;
            for (int bound = lo + S.loopBound(hi - lo); i < bound; i += L) {
                long at = 4L * i;
                var gi = FloatVector.fromMemorySegment(S, g, at, LE).mul(scale);
                var mi = FloatVector.fromMemorySegment(S, ms, at, LE).mul(beta1).add(gi.mul(ib1));
                var vi = FloatVector.fromMemorySegment(S, vs, at, LE).mul(beta2).add(gi.mul(gi).mul(ib2));
                mi.intoMemorySegment(ms, at, LE);
                vi.intoMemorySegment(vs, at, LE);
                var step = mi.mul(rbc1 * lr).div(vi.mul(rbc2).sqrt().add(eps));
                FloatVector.fromMemorySegment(S, p, at, LE).sub(step).intoMemorySegment(p, at, LE);
            }
            for (; i < hi; i++) {
                float gi = g.getAtIndex(JAVA_FLOAT, i) * scale;
                float mi = beta1 * ms.getAtIndex(JAVA_FLOAT, i) + ib1 * gi;
                float vi = beta2 * vs.getAtIndex(JAVA_FLOAT, i) + ib2 * gi * gi;
                ms.setAtIndex(JAVA_FLOAT, i, mi);
                vs.setAtIndex(JAVA_FLOAT, i, vi);
                p.setAtIndex(JAVA_FLOAT, i, p.getAtIndex(JAVA_FLOAT, i) - mi * (rbc1 * lr) / ((float) Math.sqrt(vi * rbc2) + eps));
            }
        });
    }

    // shadow = decay shadow + (1 - decay) param
    static void emaUpdate(Tensor shadow, Tensor param, float decay) {
        MemorySegment s = CpuMem.seg(shadow), p = CpuMem.seg(param);
        float id = 1 - decay;
        long n = shadow.numel();
        Parallel.forRange(Math.toIntExact(n), CpuMem.grain(n), (wk, lo, hi) -> {
            int i = lo;
            for (int bound = lo + S.loopBound(hi - lo); i < bound; i += L) {
                long at = 4L * i;
                FloatVector.fromMemorySegment(S, s, at, LE).mul(decay)
                        .add(FloatVector.fromMemorySegment(S, p, at, LE).mul(id)).intoMemorySegment(s, at, LE);
            }
            for (; i < hi; i++) s.setAtIndex(JAVA_FLOAT, i, decay * s.getAtIndex(JAVA_FLOAT, i) + id * p.getAtIndex(JAVA_FLOAT, i));
        });
    }

    @FunctionalInterface
    private interface RowBody { void run(int i, long base); }

    // rows of length d spread over the pool
    private static void rows(int n, int d, RowBody body) {
        Parallel.forRange(n, Math.max(1, CpuMem.grain((long) n * d) / Math.max(1, d)), (wk, lo, hi) -> {
            for (int i = lo; i < hi; i++) body.run(i, (long) i * d);
        });
    }
}
