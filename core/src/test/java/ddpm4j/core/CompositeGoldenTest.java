// SPDX-License-Identifier: Apache-2.0
// A small conv net (conv, GroupNorm+SiLU, TF-style stride-2 conv, attention-style softmax, tanh, MSE) against
// float64 PyTorch: value and every gradient. Golden file made by scripts/golden/composite_golden.py.
package ddpm4j.core;

import ddpm4j.core.io.SafeTensors;
import ddpm4j.core.testing.Close;
import ddpm4j.core.testing.TestBackends;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class CompositeGoldenTest {
    static final String[] PARAMS = {"x", "w1", "b1", "gw", "gb", "w2", "b2", "wq", "target"};
    static SafeTensors golden;

    @BeforeAll
    static void load() throws Exception {
        golden = SafeTensors.open(Path.of(CompositeGoldenTest.class.getResource("/golden/composite.safetensors").toURI()));
    }

    @AfterAll
    static void close() { golden.close(); }

    static double[] f64(String name) {
        MemorySegment s = golden.segment(name);
        double[] v = new double[(int) (s.byteSize() / 8)];
        for (int i = 0; i < v.length; i++) v[i] = s.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i);
        return v;
    }

    static int[] shape(String name) {
        long[] s = golden.shape(name);
        int[] r = new int[s.length];
        for (int i = 0; i < s.length; i++) r[i] = (int) s[i];
        return r;
    }

    static Tensor net(Map<String, Tensor> p) {
        Tensor h = p.get("x").conv2d(p.get("w1"), p.get("b1"), 1, 1);
        h = h.groupNorm(3, p.get("gw"), p.get("gb"), 1e-5f, true);
        h = h.conv2d(p.get("w2"), p.get("b2"), 2, 0, 0, 1, 1);
        Tensor s = h.reshape(2, 6, 9).transpose(1, 2);
        Tensor att = s.matmul(p.get("wq")).matmul(s.transpose(1, 2)).mul(1 / Math.sqrt(6)).softmax(-1);
        return att.matmul(s).add(s).tanh().mean(new int[] {1}, false);
    }

    void run(Backend be, DType dtype, double atol, double rtol) {
        try (Scope scope = Scope.open()) {
            Map<String, Tensor> p = new HashMap<>();
            for (String k : PARAMS) {
                double[] v = f64(k);
                Tensor t;
                if (dtype == DType.F64) t = Tensor.of(be, v, shape(k));
                else {
                    float[] f = new float[v.length];
                    for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
                    t = Tensor.of(be, f, shape(k));
                }
                p.put(k, t.requiresGrad(true));
            }
            Tensor y = net(p);
            Tensor loss = y.mseLoss(p.get("target"));
            loss.backward();
            Close.assertClose(be.name() + " y", f64("y"), y.toDoubleArray(), atol, rtol);
            Close.assertClose(be.name() + " loss", f64("loss"), loss.reshape(1).toDoubleArray(), atol, rtol);
            for (String k : PARAMS)
                Close.assertClose(be.name() + " grad " + k, f64("grad." + k), p.get(k).grad().toDoubleArray(), atol, rtol);
        }
    }

    @Test
    void referenceF64MatchesPyTorchTightly() { run(TestBackends.reference(), DType.F64, 1e-10, 1e-8); }

    static Stream<Backend> backends() { return TestBackends.all(); }

    @ParameterizedTest
    @MethodSource("backends")
    void f32MatchesPyTorch(Backend be) { run(be, DType.F32, 2e-5, 1e-3); }
}
