// SPDX-License-Identifier: Apache-2.0
// AttentionBlock's single-head path (transposed views, b_k and b_v folded away) against diffusers' formula written out
// op by op with every bias in place: output with and without a recorded graph, and the gradient of x and every parameter.
package ddpm4j.nn;

import static ddpm4j.core.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.GradMode;
import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;
import ddpm4j.core.testing.Rand;
import ddpm4j.core.testing.TestBackends;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class AttentionBlockTest {
    static final int N = 2, C = 64, H = 5, W = 7, GROUPS = 8;

    static Stream<Backend> cpuBackends() {
        return TestBackends.all().filter(b -> b.name().equals("reference") || b.name().equals("cpu"));
    }

    // y = GN(x) as (N, L, C); out = (softmax(q k^T / sqrt(C)) v W_o^T + b_o)^T + x, q = y W_q^T + b_q, and so on
    static Tensor literal(AttentionBlock blk, Tensor x) {
        Map<String, Tensor> p = blk.namedParameters();
        Tensor y = x.groupNorm(GROUPS, p.get("group_norm.weight"), p.get("group_norm.bias"), 1e-6f, false)
                .reshape(N, C, H * W).transpose(1, 2);
        Tensor q = linear(y, p, "to_q"), k = linear(y, p, "to_k"), v = linear(y, p, "to_v");
        Tensor probs = q.matmul(k.transpose(1, 2)).mul(1 / Math.sqrt(C)).softmax(-1);
        Tensor o = linear(probs.matmul(v), p, "to_out.0");
        return o.transpose(1, 2).reshape(N, C, H, W).add(x);
    }

    static Tensor linear(Tensor y, Map<String, Tensor> p, String name) {
        return y.matmul(p.get(name + ".weight").transpose(0, 1)).add(p.get(name + ".bias"));
    }

    @ParameterizedTest
    @MethodSource("cpuBackends")
    void matchesTheFormulaWithEveryBias(Backend be) {
        try (Scope s = Scope.open(); AttentionBlock blk = new AttentionBlock(be, new Generator(5), C, C, GROUPS, 1e-6, 1.0)) {
            int seed = 100;
            for (Tensor t : blk.namedParameters().values()) {   // biases of the size of the weights, GroupNorm affine too
                try (GradMode g = GradMode.off()) { t.copyFrom(Rand.uniform(be, seed++, -0.3, 0.3, t.shape())); }
            }
            Tensor x = Rand.normal(be, 1, N, C, H, W).requiresGrad(true), r = Rand.normal(be, 2, N, C, H, W);

            // 1. the formula, and its gradients
            Tensor want = literal(blk, x);
            want.mul(r).sum().backward();
            Map<String, float[]> wantGrad = new LinkedHashMap<>();
            wantGrad.put("x", x.grad().toFloatArray());
            blk.namedParameters().forEach((k, t) -> wantGrad.put(k, t.grad().toFloatArray()));
            x.setGrad(null);
            blk.zeroGrad();

            // 2. the block, recording a graph (contiguous tokens) and not (transposed views): same values
            Tensor got = blk.forward(x);
            assertClose("forward", want, got, 1e-5, 1e-4);
            try (GradMode g = GradMode.off()) { assertClose("forward without grad", want, blk.forward(x), 1e-5, 1e-4); }

            // 3. gradients; to_k.bias's is exactly zero (softmax ignores a per-row shift), the formula's nearly so
            got.mul(r).sum().backward();
            Map<String, float[]> gotGrad = new LinkedHashMap<>();
            gotGrad.put("x", x.grad().toFloatArray());
            blk.namedParameters().forEach((k, t) -> {
                assertNotNull(t.grad(), "no gradient for " + k);
                gotGrad.put(k, t.grad().toFloatArray());
            });
            assertEquals(wantGrad.keySet(), gotGrad.keySet());
            for (String k : wantGrad.keySet()) {
                float[] a = wantGrad.get(k);
                double scale = 0;
                for (float v : a) scale = Math.max(scale, Math.abs(v));
                assertClose("d/d" + k, a, gotGrad.get(k), 1e-4 * Math.max(1, scale), 1e-3);
            }
            for (float v : gotGrad.get("to_k.bias")) assertEquals(0f, v);
        }
    }
}
