// SPDX-License-Identifier: Apache-2.0
// Philox4x32-10 (Salmon et al. 2011, the generator cuRAND uses): counter-based, so element i of a stream is a pure
// function of (seed, offset + i) and any thread count, CPU or GPU, yields the same numbers. Mirrored by src/cuda/philox.cu.
package ddpm4j.core;

/**
 * The project's random numbers. Element {@code i} of the stream {@code (seed, offset)} depends only on
 * {@code seed} and {@code offset + i}:
 * <ul>
 *   <li>block {@code k = (offset + i) >>> 2} gives four 32-bit words {@code w = philox(counter = (k lo, k hi, 0, 0),
 *       key = (seed lo, seed hi))}, and lane {@code (offset + i) & 3} picks one of them;</li>
 *   <li>uniform: {@code (w >>> 8) * 2^-24}, in [0, 1);</li>
 *   <li>normal: Box-Muller on lane pairs (0,1) and (2,3) of the block: {@code u1 = ((w0 >>> 8) + 1) * 2^-24} in (0, 1],
 *       {@code u2 = (w1 >>> 8) * 2^-24}, {@code r = sqrt(-2 ln u1)}, lanes {@code r cos(2 pi u2)}, {@code r sin(2 pi u2)}.</li>
 * </ul>
 * {@code ln}, {@code sin} and {@code cos} are computed here with IEEE-754 single-precision {@code + - * /} and
 * {@code sqrt} only, in a fixed order and without fused multiply-add, so a CUDA kernel compiled with
 * {@code -fmad=false} reproduces the normals bit for bit. Accuracy: about 2 ulp against the true functions.
 */
public final class Philox {
    private static final int M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;
    private static final float TWO_M24 = 0x1p-24f;

    private Philox() {}

    /** Ten Philox rounds on counter (c0, c1, c2, c3) with key (k0, k1); writes four words into {@code out[0..3]}. */
    public static void block(int c0, int c1, int c2, int c3, int k0, int k1, int[] out) {
        for (int round = 0; round < 10; round++) {
            long p0 = (c0 & 0xFFFFFFFFL) * (M0 & 0xFFFFFFFFL);
            long p1 = (c2 & 0xFFFFFFFFL) * (M1 & 0xFFFFFFFFL);
            int hi0 = (int) (p0 >>> 32), lo0 = (int) p0;
            int hi1 = (int) (p1 >>> 32), lo1 = (int) p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
            k0 += W0;
            k1 += W1;
        }
        out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
    }

    /** Words of block {@code k} of the stream {@code seed}. */
    public static void block(long seed, long k, int[] out) {
        block((int) k, (int) (k >>> 32), 0, 0, (int) seed, (int) (seed >>> 32), out);
    }

    /** A uniform float in [0, 1) from a 32-bit word. */
    public static float uniform(int word) { return (word >>> 8) * TWO_M24; }

    /** Fills {@code out[0..n)} with elements {@code offset .. offset+n} of the uniform stream. */
    public static void uniform(long seed, long offset, float[] out, int outOff, int n) {
        int[] w = new int[4];
        long k = -1;
        for (int i = 0; i < n; i++) {
            long idx = offset + i;
            if ((idx >>> 2) != k) { k = idx >>> 2; block(seed, k, w); }
            out[outOff + i] = uniform(w[(int) (idx & 3)]);
        }
    }

    /** Fills {@code out[0..n)} with elements {@code offset .. offset+n} of the normal stream. */
    public static void normal(long seed, long offset, float[] out, int outOff, int n) {
        int[] w = new int[4];
        float[] z = new float[4];
        long k = -1;
        for (int i = 0; i < n; i++) {
            long idx = offset + i;
            if ((idx >>> 2) != k) { k = idx >>> 2; block(seed, k, w); normals(w, z); }
            out[outOff + i] = z[(int) (idx & 3)];
        }
    }

    /** The four normals of one block's words. */
    public static void normals(int[] w, float[] z) {
        boxMuller(w[0], w[1], z, 0);
        boxMuller(w[2], w[3], z, 2);
    }

    private static void boxMuller(int wa, int wb, float[] z, int at) {
        float u1 = ((wa >>> 8) + 1) * TWO_M24;          // (0, 1]: log never sees 0
        float u2 = (wb >>> 8) * TWO_M24;                // [0, 1)
        float r = (float) Math.sqrt(-2.0f * log(u1));   // float sqrt is correctly rounded, as CUDA's sqrtf
        z[at] = r * cos2pi(u2);
        z[at + 1] = r * sin2pi(u2);
    }

    // ln(x) for finite x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s), s = (m - 1) / (m + 1).
    static float log(float x) {
        int bits = Float.floatToRawIntBits(x);
        int e = ((bits >>> 23) & 0xFF) - 127;
        float m = Float.intBitsToFloat((bits & 0x007FFFFF) | 0x3F800000);   // [1, 2)
        if (m > 1.41421356f) { m = m * 0.5f; e = e + 1; }
        float s = (m - 1.0f) / (m + 1.0f);
        float s2 = s * s;
        float p = 0.11111111f;                          // 1/9
        p = p * s2 + 0.14285715f;                       // 1/7
        p = p * s2 + 0.2f;
        p = p * s2 + 0.33333334f;
        p = p * s2 + 1.0f;
        float lnM = 2.0f * s * p;
        float fe = (float) e;
        return fe * 0.69314575f + (fe * 1.4286068e-6f + lnM);   // ln 2 split in a high part exact in 16 bits and a low part
    }

    // sin and cos of 2 pi u for u in [0, 1): u = q/4 + f with |f| <= 1/8 (exact), then Taylor series on |theta| <= pi/4.
    static float sin2pi(float u) { return sinCos2pi(u, true); }

    static float cos2pi(float u) { return sinCos2pi(u, false); }

    private static float sinCos2pi(float u, boolean wantSin) {
        int q = (int) (u * 4.0f + 0.5f);                // 0..4, exact
        float f = u - q * 0.25f;                        // exact: both are multiples of 2^-24 below 2
        float t = f * 6.2831855f;                       // theta in [-pi/4, pi/4]
        float t2 = t * t;
        float s = -2.5052108e-8f;                       // -1/11!... series for sin t / t
        s = s * t2 + 2.7557319e-6f;
        s = s * t2 - 1.9841270e-4f;
        s = s * t2 + 8.3333333e-3f;
        s = s * t2 - 0.16666667f;
        s = s * t2 + 1.0f;
        float sin = s * t;
        float c = 2.0876757e-9f;                        // series for cos t
        c = c * t2 - 2.7557319e-7f;
        c = c * t2 + 2.4801587e-5f;
        c = c * t2 - 1.3888889e-3f;
        c = c * t2 + 4.1666667e-2f;
        c = c * t2 - 0.5f;
        c = c * t2 + 1.0f;
        switch (q & 3) {
            case 0: return wantSin ? sin : c;
            case 1: return wantSin ? c : -sin;
            case 2: return wantSin ? -sin : -c;
            default: return wantSin ? -c : sin;
        }
    }
}
