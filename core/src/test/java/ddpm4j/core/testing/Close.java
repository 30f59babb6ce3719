// SPDX-License-Identifier: Apache-2.0
// assertClose: |actual - expected| <= atol + rtol |expected| elementwise, printing the first mismatches by index
// (llm.c's validate_result).
package ddpm4j.core.testing;

import static org.junit.jupiter.api.Assertions.fail;

import ddpm4j.core.Shape;
import ddpm4j.core.Tensor;

public final class Close {
    private Close() {}

    public static void assertClose(Tensor expected, Tensor actual, double atol, double rtol) {
        assertClose("", expected, actual, atol, rtol);
    }

    public static void assertClose(String what, Tensor expected, Tensor actual, double atol, double rtol) {
        if (!Shape.same(expected.shape(), actual.shape()))
            fail(what + ": shape " + Shape.str(actual.shape()) + ", expected " + Shape.str(expected.shape()));
        assertClose(what, expected.toDoubleArray(), actual.toDoubleArray(), atol, rtol);
    }

    public static void assertClose(String what, double[] expected, double[] actual, double atol, double rtol) {
        if (expected.length != actual.length) fail(what + ": " + actual.length + " values, expected " + expected.length);
        StringBuilder msg = new StringBuilder();
        int bad = 0;
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i], tol = atol + rtol * Math.abs(e);
            boolean ok = Math.abs(a - e) <= tol || (Double.isNaN(e) && Double.isNaN(a));
            if (!ok) {
                if (bad < 8) msg.append(String.format("%n  [%d] expected %.9g, got %.9g (|diff| %.3g > tol %.3g)", i, e, a, Math.abs(a - e), tol));
                bad++;
                worst = Math.max(worst, Math.abs(a - e));
            }
        }
        if (bad > 0) fail(what + ": " + bad + " of " + expected.length + " values differ (worst |diff| " + worst + ")" + msg);
    }

    public static void assertClose(String what, float[] expected, float[] actual, double atol, double rtol) {
        double[] e = new double[expected.length], a = new double[actual.length];
        for (int i = 0; i < e.length; i++) e[i] = expected[i];
        for (int i = 0; i < a.length; i++) a[i] = actual[i];
        assertClose(what, e, a, atol, rtol);
    }
}
