// SPDX-License-Identifier: Apache-2.0
// Central finite differences in float64 against autograd (torch.autograd.gradcheck's defaults: eps 1e-6,
// atol 1e-5, rtol 1e-3). The function's output is reduced with fixed random weights so every output element counts.
package ddpm4j.core.testing;

import ddpm4j.core.DType;
import ddpm4j.core.GradMode;
import ddpm4j.core.Tensor;
import java.util.function.Function;

public final class GradCheck {
    private GradCheck() {}

    /** Checks d/d(inputs) of sum(f(inputs) * R) for F64 leaf inputs on the reference backend. */
    public static void check(String what, Function<Tensor[], Tensor> f, Tensor... inputs) {
        check(what, f, 1e-6, 1e-5, 1e-3, inputs);
    }

    public static void check(String what, Function<Tensor[], Tensor> f, double eps, double atol, double rtol, Tensor... inputs) {
        for (Tensor t : inputs)
            if (t.dtype() != DType.F64) throw new IllegalArgumentException("gradcheck needs F64 inputs");
        Tensor probe;
        try (GradMode g = GradMode.off()) { probe = f.apply(inputs); }
        Tensor weights = Rand.normal64(inputs[0].backend(), 99, probe.shape());
        for (Tensor t : inputs) { t.setGrad(null); t.requiresGrad(true); }
        Tensor loss = f.apply(inputs).mul(weights).sum();
        loss.backward();
        for (int k = 0; k < inputs.length; k++) {
            Tensor x = inputs[k];
            double[] v = x.toDoubleArray();
            double[] numeric = new double[v.length];
            for (int i = 0; i < v.length; i++) {
                double keep = v[i];
                v[i] = keep + eps;
                double up = eval(f, inputs, k, v, weights);
                v[i] = keep - eps;
                double down = eval(f, inputs, k, v, weights);
                v[i] = keep;
                numeric[i] = (up - down) / (2 * eps);
            }
            x.backend().copyFromHost(x, v, 0);
            if (x.grad() == null) throw new AssertionError(what + ": input " + k + " got no gradient");
            Close.assertClose(what + " d/dinput" + k, numeric, x.grad().toDoubleArray(), atol, rtol);
        }
    }

    private static double eval(Function<Tensor[], Tensor> f, Tensor[] inputs, int k, double[] v, Tensor weights) {
        try (GradMode g = GradMode.off()) {
            inputs[k].backend().copyFromHost(inputs[k], v, 0);
            Tensor out = f.apply(inputs);
            return out.mul(weights).sum().item();
        }
    }
}
