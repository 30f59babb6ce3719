// SPDX-License-Identifier: Apache-2.0
// ProfilingBackend passes every call through unchanged (a conv net's output and gradients equal the plain cpu
// backend's bit for bit) and books each call under its op family.
package ddpm4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;
import org.junit.jupiter.api.Test;

class ProfilingBackendTest {
    /** conv -> GroupNorm+SiLU -> matmul -> sum; returns the loss, dX and dW. */
    private static float[][] run(Backend be) {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(be, new Generator(1), 2, 4, 5, 7).requiresGrad(true);
            Tensor w = Tensor.randn(be, new Generator(2), 32, 4, 3, 3).requiresGrad(true);
            Tensor m = Tensor.randn(be, new Generator(3), 7, 3);
            Tensor y = x.conv2d(w, null, 1, 1).groupNorm(8, null, null, 1e-5f, true).matmul(m).square().sum();
            y.backward();
            return new float[][] {y.toFloatArray(), x.grad().toFloatArray(), w.grad().toFloatArray()};
        }
    }

    @Test
    void passesThroughAndCountsByFamily() {
        Backend cpu = Backends.get("cpu");
        ProfilingBackend pb = new ProfilingBackend(cpu, true);
        try {
            float[][] expected = run(cpu), got = run(pb);
            for (int i = 0; i < expected.length; i++) assertArrayEquals(expected[i], got[i], "output " + i);
            var t = pb.totals();
            assertEquals(2, t.get(ProfilingBackend.Family.CONV)[1], "conv forward and one combined backward (input and weight)");
            assertEquals(2, t.get(ProfilingBackend.Family.GROUPNORM)[1], "GroupNorm forward and backward");
            assertEquals(2, t.get(ProfilingBackend.Family.GEMM)[1], "matmul forward and the product for dX (m needs no gradient)");
            assertTrue(t.get(ProfilingBackend.Family.ALLOCATION)[1] > 5, "allocations counted");
            assertTrue(t.get(ProfilingBackend.Family.CONV)[0] > 0, "time booked");
            assertEquals(1, pb.detail().entrySet().stream().filter(e -> e.getKey().startsWith("conv fwd 3x3/1"))
                    .mapToLong(e -> e.getValue()[1]).sum(), "the conv forward booked under its op and shape");
            pb.reset();
            pb.phase(ProfilingBackend.Family.OPTIMIZER);
            run(pb);
            assertEquals(0, pb.totals().get(ProfilingBackend.Family.CONV)[1], "phase takes every call");
            assertTrue(pb.detail().isEmpty(), "calls in a phase are booked to the phase only");
            assertTrue(pb.totals().get(ProfilingBackend.Family.OPTIMIZER)[1] > 10);
        } finally {
            pb.close();
        }
    }
}
