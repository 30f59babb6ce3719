// SPDX-License-Identifier: Apache-2.0
// Tensor semantics on every backend: views, broadcasting, autograd bookkeeping, scopes and memory, and the errors
// that bad input must produce (naming the op, the shapes and what was expected).
package ddpm4j.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.testing.TestBackends;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class TensorTest {
    static Stream<Backend> backends() { return TestBackends.all(); }

    static float[] range(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = i;
        return v;
    }

    @ParameterizedTest
    @MethodSource("backends")
    void viewsShareStorageAndCopyWhenNeeded(Backend be) {
        Tensor x = Tensor.of(be, range(24), 2, 3, 4);
        Tensor t = x.transpose(0, 2);                                   // (4, 3, 2), a view
        assertFalse(t.isContiguous());
        assertArrayEquals(new float[] {0, 12, 4, 16, 8, 20}, t.slice(0, 0, 1).reshape(6).toFloatArray());
        Tensor s = x.slice(1, 1, 3).slice(2, 2, 4);                     // (2, 2, 2)
        assertArrayEquals(new float[] {6, 7, 10, 11, 18, 19, 22, 23}, s.toFloatArray());
        Tensor e = Tensor.of(be, new float[] {1, 2, 3}, 3, 1).expand(2, 3, 4);
        assertEquals(0, e.strides()[0]);
        assertEquals(3 * 4 * 2 * 2 * 1.0 * 0 + (1 + 2 + 3) * 4 * 2, e.sum().item(), 0);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void broadcastingArithmetic(Backend be) {
        Tensor a = Tensor.of(be, range(6), 2, 3), b = Tensor.of(be, new float[] {10, 20, 30}, 3);
        assertArrayEquals(new float[] {10, 21, 32, 13, 24, 35}, a.add(b).toFloatArray());
        assertArrayEquals(new float[] {0, 20, 60, 30, 80, 150}, a.mul(b).toFloatArray());
        assertArrayEquals(new float[] {10, 19, 28, 7, 16, 25}, b.sub(a).toFloatArray());
        assertArrayEquals(new float[] {0, 0, 0, 1, 1, 1}, a.gt(Tensor.scalar(be, DType.F32, 2.5)).toFloatArray());
        assertArrayEquals(new float[] {0, 0.05f, 2f / 30, 0.3f, 0.2f, 5f / 30}, a.div(b).toFloatArray(), 1e-7f);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void gradientsAccumulateAcrossBackwardCalls(Backend be) {
        Tensor w = Tensor.of(be, new float[] {1, 2, 3}, 3).requiresGrad(true);
        w.mul(w).sum().backward();
        w.mul(w).sum().backward();
        assertArrayEquals(new float[] {4, 8, 12}, w.grad().toFloatArray());
        w.grad().fill(0);
        try (GradMode g = GradMode.off()) {
            Tensor y = w.mul(w).sum();
            assertFalse(y.requiresGrad());
            assertThrows(IllegalStateException.class, y::backward);
        }
        Tensor d = w.detach();
        assertFalse(d.requiresGrad());
        assertNull(d.mul(2.0).node());
    }

    @Test
    void backwardOnNonScalarNeedsAGradient() {
        Backend be = TestBackends.reference();
        Tensor w = Tensor.of(be, new float[] {1, 2, 3}, 3).requiresGrad(true);
        var ex = assertThrows(IllegalArgumentException.class, () -> w.mul(2.0).backward());
        assertTrue(ex.getMessage().contains("(3,)") && ex.getMessage().contains("scalar"), ex.getMessage());
        w.mul(2.0).backward(Tensor.of(be, new float[] {1, 1, 2}, 3));
        assertArrayEquals(new float[] {2, 2, 4}, w.grad().toFloatArray());
    }

    @Test
    void badShapesNameTheOpAndTheShapes() {
        Backend be = TestBackends.reference();
        Tensor a = Tensor.zeros(be, 2, 3), b = Tensor.zeros(be, 4, 3);
        String m = assertThrows(IllegalArgumentException.class, () -> a.add(b)).getMessage();
        assertTrue(m.contains("add") && m.contains("(2, 3)") && m.contains("(4, 3)"), m);
        m = assertThrows(IllegalArgumentException.class, () -> a.matmul(b)).getMessage();
        assertTrue(m.contains("matmul") && m.contains("3 vs 4"), m);
        m = assertThrows(IllegalArgumentException.class, () -> a.sum(2, false)).getMessage();
        assertTrue(m.contains("axis 2") && m.contains("rank 2"), m);
        m = assertThrows(IllegalArgumentException.class, () -> a.reshape(5, -1)).getMessage();
        assertTrue(m.contains("reshape") && m.contains("(2, 3)"), m);
        Tensor x = Tensor.zeros(be, 1, 4, 5, 5), w = Tensor.zeros(be, 8, 3, 3, 3);
        m = assertThrows(IllegalArgumentException.class, () -> x.conv2d(w, null, 1, 1)).getMessage();
        assertTrue(m.contains("conv2d") && m.contains("4 channels"), m);
        m = assertThrows(IllegalArgumentException.class, () -> x.groupNorm(3, null, null, 1e-5f, false)).getMessage();
        assertTrue(m.contains("4 channels") && m.contains("3 groups"), m);
        m = assertThrows(IllegalArgumentException.class, () -> a.gather(new int[] {0, 2})).getMessage();
        assertTrue(m.contains("index 2") && m.contains("[0, 2)"), m);
        Tensor d = Tensor.of(be, new double[] {1, 2, 3}, 3);
        m = assertThrows(IllegalArgumentException.class, () -> d.add(Tensor.zeros(be, 3))).getMessage();
        assertTrue(m.contains("F64") && m.contains("F32"), m);
    }

    @Test
    void mixedBackendsAreRejected() {
        Backend other = TestBackends.fast().findFirst().orElse(null);
        org.junit.jupiter.api.Assumptions.assumeTrue(other != null, "needs a second backend");
        Tensor a = Tensor.zeros(TestBackends.reference(), 3), b = Tensor.zeros(other, 3);
        String m = assertThrows(IllegalArgumentException.class, () -> a.add(b)).getMessage();
        assertTrue(m.contains("different backends") && m.contains(other.name()), m);
        assertArrayEquals(new float[] {0, 0, 0}, a.add(b.to(TestBackends.reference())).toFloatArray());
    }

    @ParameterizedTest
    @MethodSource("backends")
    void useAfterCloseIsAnErrorNotACrash(Backend be) {
        Tensor a = Tensor.ones(be, 4);
        Tensor view = a.reshape(2, 2);
        a.close();
        assertArrayEquals(new float[] {1, 1, 1, 1}, view.toFloatArray());   // a view keeps its storage alive
        String m = assertThrows(IllegalStateException.class, () -> a.add(a)).getMessage();
        assertTrue(m.contains("add") && m.contains("closed"), m);
        view.close();
        assertThrows(IllegalStateException.class, view::toFloatArray);
    }

    static Stream<Backend> isolatedBackends() { return TestBackends.isolated(); }

    @ParameterizedTest
    @MethodSource("isolatedBackends")
    void backwardLeavesOnlyTheLeafGradientsBehind(Backend be) {
        assumeTrue(be.liveBytes() >= 0, "backend does not count its memory");
        Tensor w = Tensor.randn(be, new ddpm4j.core.Generator(3), 32, 48).requiresGrad(true).detachFromScope();
        Tensor b = Tensor.randn(be, new ddpm4j.core.Generator(4), 48).requiresGrad(true).detachFromScope();
        try (Scope s = Scope.open()) {
            // products, broadcasts and nonlinearities whose derivatives make temporaries of their own
            Tensor y = w.matmul(w.transpose(0, 1)).silu().matmul(w).add(b).sigmoid().mul(w).square().mean();
            long before = be.liveBytes();
            y.backward();
            assertEquals(before + 4L * (32 * 48 + 48), be.liveBytes(),
                    "after backward only w.grad and b.grad may be new; the derivatives' temporaries must be freed");
        }
        w.close();
        b.close();
    }

    @ParameterizedTest
    @MethodSource("isolatedBackends")
    void scopesReturnMemoryAndKeepWhatIsKept(Backend be) {
        Tensor w = Tensor.ones(be, 64, 64).requiresGrad(true);
        Tensor kept;
        long before;
        try (Scope outer = Scope.open()) {
            for (int step = 0; step < 3; step++) {
                try (Scope s = Scope.open()) {
                    w.matmul(w).silu().sum().backward();
                }
                if (step == 0) { before = be.liveBytes(); assertTrue(before > 0 || before == -1); }
            }
            long live = be.liveBytes();
            try (Scope s = Scope.open()) {
                kept = w.mul(2.0).keep();
                w.add(1.0);
            }
            assertFalse(kept.isClosed());
            if (live >= 0) assertEquals(live + 64 * 64 * 4, be.liveBytes(), "one kept tensor of 16 KiB");
        }
        assertTrue(kept.isClosed(), "kept tensors belong to the enclosing scope");
        long base = be.liveBytes();
        w.close();
        if (base >= 0) assertEquals(base - 2 * 64 * 64 * 4, be.liveBytes(), "parameter and its gradient freed");
    }
}
