// SPDX-License-Identifier: Apache-2.0
// CpuMath.exp against Math.exp: ulp error over the whole float range, overflow, underflow, NaN. Pairs with CpuMath.
package ddpm4j.core.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class CpuMathTest {
    private static float[] exp(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i += CpuMem.L)
            CpuMath.exp(FloatVector.fromArray(CpuMem.S, x, i)).intoArray(y, i);
        return y;
    }

    @Test
    void expWithinTwoUlpsOfMathExp() {
        int n = CpuMem.L * 20000;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -103f + 192f * i / (n - 1);   // -103 .. 89: subnormal results to overflow
        float[] y = exp(x);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < n; i++) {
            float want = (float) Math.exp(x[i]);
            if (Float.isInfinite(want)) {
                assertEquals(Float.POSITIVE_INFINITY, y[i], "exp(" + x[i] + ") must overflow");
                continue;
            }
            double ulps = Math.abs(y[i] - want) / Math.ulp(want);
            if (ulps > worst) { worst = ulps; at = i; }
        }
        assertTrue(worst <= 2, "worst error " + worst + " ulp at x=" + (at < 0 ? 0 : x[at]));
    }

    @Test
    void specialValues() {
        float[] x = new float[CpuMem.L];
        float[] in = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 1f, -200f, 200f};
        for (int i = 0; i < x.length; i++) x[i] = in[i % in.length];
        float[] y = exp(x);
        assertTrue(Float.isNaN(y[0]), "exp(NaN)");
        assertEquals(Float.POSITIVE_INFINITY, y[1], "exp(+Inf)");
        assertEquals(0f, y[2], "exp(-Inf)");
        assertEquals(1f, y[3], "exp(0)");
        assertEquals(1f, y[4], "exp(-0)");
        assertEquals((float) Math.E, y[5], Math.ulp((float) Math.E), "exp(1)");
        assertEquals(0f, y[6], "exp(-200)");
        assertEquals(Float.POSITIVE_INFINITY, y[7], "exp(200)");
    }
}
