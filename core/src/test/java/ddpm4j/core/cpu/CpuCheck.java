// SPDX-License-Identifier: Apache-2.0
// Helpers for the CPU backend tests: the same seeded input on the reference and CPU backends, empty outputs, and
// error measures.
package ddpm4j.core.cpu;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.DType;
import ddpm4j.core.Tensor;
import ddpm4j.core.testing.Rand;
import ddpm4j.core.testing.TestBackends;

final class CpuCheck {
    static final Backend REF = TestBackends.reference();
    static final Backend CPU = Backends.get("cpu");

    private CpuCheck() {}

    /** The same standard-normal values on {REF, CPU}. */
    static Tensor[] normal(long seed, int... shape) {
        return new Tensor[]{Rand.normal(REF, seed, shape), Rand.normal(CPU, seed, shape)};
    }

    /** The same uniform values in [lo, hi) on {REF, CPU}. */
    static Tensor[] uniform(long seed, double lo, double hi, int... shape) {
        return new Tensor[]{Rand.uniform(REF, seed, lo, hi, shape), Rand.uniform(CPU, seed, lo, hi, shape)};
    }

    /** Uninitialised outputs on {REF, CPU}; the CPU one is filled with NaN so unwritten elements show up. */
    static Tensor[] empty(int... shape) {
        Tensor c = Tensor.empty(CPU, DType.F32, shape);
        CPU.fill(c, Double.NaN);
        return new Tensor[]{Tensor.empty(REF, DType.F32, shape), c};
    }

    static Backend be(int i) {
        return i == 0 ? REF : CPU;
    }

    /** The largest |e - a| over the elements (any backends). */
    static double maxAbs(Tensor e, Tensor a) {
        double[] x = e.toDoubleArray(), y = a.toDoubleArray();
        double m = 0;
        for (int i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
        return m;
    }

    /** Root mean square of the elements. */
    static double rms(Tensor t) {
        double s = 0;
        for (double v : t.toDoubleArray()) s += v * v;
        return Math.sqrt(s / Math.max(1, t.numel()));
    }
}
