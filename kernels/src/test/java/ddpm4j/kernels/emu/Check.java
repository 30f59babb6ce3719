// SPDX-License-Identifier: Apache-2.0
// Comparison of kernel output with a double-precision reference: |got - ref| <= atol + rtol*|ref| per element,
// failing with the first mismatches by index (llm.c's validate_result).
package ddpm4j.kernels.emu;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;

final class Check {
    private Check() {}

    static void close(String what, double[] ref, float[] got, double atol, double rtol) {
        if (ref.length != got.length) fail(what + ": length " + got.length + ", expected " + ref.length);
        StringBuilder sb = new StringBuilder();
        int bad = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = Math.abs(got[i] - ref[i]);
            if (!(d <= atol + rtol * Math.abs(ref[i]))) {
                if (bad++ < 5) sb.append(String.format("%n  [%d] got %.9g, expected %.9g (|diff| %.3g)", i, got[i], ref[i], d));
            }
        }
        if (bad > 0) fail(what + ": " + bad + " of " + ref.length + " elements off (atol " + atol + ", rtol " + rtol + ")" + sb);
    }

    static float[] normal(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            double u1 = 1.0 - r.nextDouble(), u2 = r.nextDouble();
            a[i] = (float) (Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
        }
        return a;
    }

    static float[] uniform(long seed, int n, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return a;
    }

    static int blocksFor(long n, int block) { return (int) Math.max(1, Math.min(4096, (n + block - 1) / block)); }
}
