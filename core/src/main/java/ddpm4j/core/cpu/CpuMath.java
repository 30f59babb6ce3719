// SPDX-License-Identifier: Apache-2.0
// Vector exp for the CPU kernels (sigmoid, SiLU, softmax, attention) built only from IEEE add/mul/fma, so it gives the
// same bits interpreted and JIT-compiled. Used by CpuElementwise and CpuReduce; checked by CpuElementwiseTest.
package ddpm4j.core.cpu;

import static ddpm4j.core.cpu.CpuMem.S;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Why not {@code lanewise(VectorOperators.EXP)}: C2 computes it with the SVML stubs while the interpreter and C1 fall
 * back to {@code Math.exp} per lane; the two differ in the last bit for about 1% of inputs, so a kernel's result would
 * depend on when the JIT compiled it, and a resumed training run would not repeat an uninterrupted one bit for bit.
 */
final class CpuMath {
    private CpuMath() {}

    private static final float LOG2E = 1.44269504088896341f;
    // ln 2 split in two (Cody-Waite): n * LN2_HI is exact for |n| < 2^9.
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    // Adding and subtracting 1.5 * 2^23 rounds a float of magnitude < 2^22 to the nearest integer.
    private static final float ROUND = 12582912f;
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);

    /**
     * e^x with a relative error of about 1 ulp (Cephes expf polynomial). Overflows to +Inf above ~88.72, underflows
     * through the subnormals to 0 below ~-103.9, and keeps NaN.
     */
    static FloatVector exp(FloatVector x) {
        // 1. clamp so that n below stays a small integer; the scaling in step 4 still overflows/underflows properly.
        //    Compare and blend, not max/min: Java's max/min semantics (NaN, -0) cost C2 extra instructions on x86; a
        //    NaN fails both compares and stays NaN, as it would through max/min.
        var xc = x.blend(-104f, x.lt(-104f));
        xc = xc.blend(89f, xc.compare(VectorOperators.GT, 89f));
        // 2. x = n ln2 + r, |r| <= ln2 / 2; nr = ROUND + n exactly (|n| <= 150), so its bits are ROUND's plus n
        var nr = xc.fma(LOG2E, ROUND);
        var n = nr.sub(ROUND);
        var r = n.fma(FloatVector.broadcast(S, -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        // 3. e^r = 1 + r + r^2 p(r)
        var p = FloatVector.broadcast(S, 1.9875691500e-4f);
        p = p.fma(r, FloatVector.broadcast(S, 1.3981999507e-3f));
        p = p.fma(r, FloatVector.broadcast(S, 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(S, 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(S, 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(S, 5.0000001201e-1f));
        var y = p.mul(r.mul(r)).add(r).add(1f);
        // 4. times 2^n, as 2^(n/2) * 2^(n - n/2) so that n in [-150, 129] needs no special cases
        var ni = nr.reinterpretAsInts().sub(ROUND_BITS);  // = (int) n, without the F2I conversion's NaN fix-ups
        var n1 = ni.lanewise(VectorOperators.ASHR, 1);
        var n2 = ni.sub(n1);
        y = y.mul(pow2(n1)).mul(pow2(n2));
        // NaN in, NaN out (the clamp keeps NaN, and NaN times anything is NaN)
        return y;
    }

    // 2^k for integer k in [-126, 127], built from the exponent bits.
    private static FloatVector pow2(IntVector k) {
        return (FloatVector) k.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    }
}
