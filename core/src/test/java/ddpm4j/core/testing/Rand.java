// SPDX-License-Identifier: Apache-2.0
// Seeded test inputs, made on the host (java.util.SplittableRandom) so they do not depend on the code under test.
package ddpm4j.core.testing;

import ddpm4j.core.Backend;
import ddpm4j.core.Shape;
import ddpm4j.core.Tensor;
import java.util.SplittableRandom;

public final class Rand {
    private Rand() {}

    public static float[] normalArray(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) gauss(r);
        return v;
    }

    /** Standard normal F32 tensor. */
    public static Tensor normal(Backend be, long seed, int... shape) {
        return Tensor.of(be, normalArray(seed, (int) Shape.numel(shape)), shape);
    }

    /** Uniform F32 tensor in [lo, hi). */
    public static Tensor uniform(Backend be, long seed, double lo, double hi, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[(int) Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return Tensor.of(be, v, shape);
    }

    /** Standard normal F64 tensor (reference backend gradient checks). */
    public static Tensor normal64(Backend be, long seed, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] v = new double[(int) Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = gauss(r);
        return Tensor.of(be, v, shape);
    }

    /** Uniform F64 tensor in [lo, hi). */
    public static Tensor uniform64(Backend be, long seed, double lo, double hi, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] v = new double[(int) Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * r.nextDouble();
        return Tensor.of(be, v, shape);
    }

    private static double gauss(SplittableRandom r) {
        double u1 = 1 - r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
