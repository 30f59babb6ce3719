// SPDX-License-Identifier: Apache-2.0
// Anomaly mode (like torch.autograd.detect_anomaly): checks every op's output and names the first non-finite one.
package ddpm4j.core.autograd;

import ddpm4j.core.Op;
import ddpm4j.core.Shape;
import ddpm4j.core.Tensor;

/** Off by default (it reads every output back); turn on with {@code -Dddpm4j.anomaly=true} or {@link #set}. */
public final class Anomaly {
    private static volatile boolean enabled = Boolean.getBoolean("ddpm4j.anomaly");

    private Anomaly() {}

    public static boolean enabled() { return enabled; }

    public static void set(boolean on) { enabled = on; }

    /** Thrown by anomaly mode at the first op whose output holds NaN or infinity. */
    public static final class NonFiniteException extends ArithmeticException {
        public NonFiniteException(String msg) { super(msg); }
    }

    /** Throws {@link NonFiniteException} naming the op if {@code out} holds a NaN or an infinity. */
    public static void checkOutput(Object op, Tensor out) {
        double[] v = out.toDoubleArray();
        for (int i = 0; i < v.length; i++)
            if (!Double.isFinite(v[i]))
                throw new NonFiniteException("anomaly: " + describe(op) + " produced " + v[i] + " at flat index " + i
                        + " of its output " + Shape.str(out.shape()));
    }

    private static String describe(Object op) {
        return op instanceof Op o ? o.toString() : String.valueOf(op);
    }
}
