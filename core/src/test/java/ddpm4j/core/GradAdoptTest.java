// SPDX-License-Identifier: Apache-2.0
// A leaf's first gradient is taken over without a copy (Tensor.adoptGrad, Autograd.accumulateLeaf): these tests try
// to make that alias a tensor someone else still holds, or free a buffer the leaf keeps (use after free).
package ddpm4j.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.testing.TestBackends;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class GradAdoptTest {
    static Stream<Backend> backends() { return TestBackends.all(); }

    static Stream<Backend> isolatedBackends() { return TestBackends.isolated(); }

    private static float[] ramp(int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (i - n / 2f) * scale;
        return v;
    }

    private static float[] filled(int n, float value) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, value);
        return v;
    }

    /** Allocates and fills same-size tensors, so a pooled buffer freed too early would be overwritten. */
    private static void churn(Backend be, int... shape) {
        try (Scope s = Scope.open()) {
            for (int i = 0; i < 8; i++) Tensor.full(be, DType.F32, 99, shape);
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void xPlusX(Backend be) {
        Tensor x = Tensor.of(be, ramp(6, 1), 2, 3).requiresGrad(true);
        try (Scope s = Scope.open()) {
            x.add(x).backward(Tensor.of(be, ramp(6, 0.5f), 2, 3));
        }
        churn(be, 2, 3);
        assertArrayEquals(ramp(6, 1), x.grad().toFloatArray(), "d(x + x) = 2 g");
        x.close();
    }

    /** Both inputs of an add get the same gradient: one may take it over, the other must own a separate buffer. */
    @ParameterizedTest
    @MethodSource("backends")
    void twoLeavesSharingOneGradientDoNotAlias(Backend be) {
        Tensor a = Tensor.of(be, ramp(5, 1), 5).requiresGrad(true), b = Tensor.of(be, ramp(5, 2), 5).requiresGrad(true);
        a.add(b).backward(Tensor.of(be, ramp(5, 3), 5));
        assertNotSame(a.grad().storage(), b.grad().storage());
        a.grad().fill(-1);
        assertArrayEquals(ramp(5, 3), b.grad().toFloatArray());
        a.close();
        churn(be, 5);
        assertArrayEquals(ramp(5, 3), b.grad().toFloatArray());
        b.close();
    }

    /** Identity-like ops pass the caller's seed through: the leaf must get a copy, never the seed's storage. */
    @ParameterizedTest
    @MethodSource("backends")
    void seedPassedThroughIdentityViewReshapeIsCopied(Backend be) {
        for (int variant = 0; variant < 5; variant++) {
            Tensor x = Tensor.of(be, ramp(12, 1), 3, 4).requiresGrad(true);
            Tensor seed = Tensor.of(be, ramp(12, 0.25f), 3, 4);
            Tensor y = switch (variant) {
                case 0 -> x.copy();
                case 1 -> x.reshape(3, 4);
                case 2 -> x.reshape(4, 3).reshape(3, 4);
                case 3 -> x.transpose(0, 1).transpose(0, 1);
                default -> x;                                          // the root is the leaf itself
            };
            y.backward(seed);
            assertNotSame(seed.storage(), x.grad().storage(), "variant " + variant);
            seed.fill(7);
            seed.close();
            churn(be, 3, 4);
            assertArrayEquals(ramp(12, 0.25f), x.grad().toFloatArray(), "variant " + variant);
            x.close();
        }
    }

    /** A gradient made inside a scope that closes, flowing through a reshape view, lives on as the leaf's .grad. */
    @ParameterizedTest
    @MethodSource("backends")
    void gradientOutlivesTheScopeOfItsBackward(Backend be) {
        Tensor x = Tensor.of(be, ramp(24, 1), 2, 3, 4).requiresGrad(true);
        try (Scope s = Scope.open()) {
            x.reshape(6, 4).mul(3.0).sum().backward();
        }
        churn(be, 2, 3, 4);
        churn(be, 6, 4);
        assertFalse(x.grad().isClosed());
        assertArrayEquals(filled(24, 3), x.grad().toFloatArray());
        // a second backward adds into the (taken-over) buffer
        try (Scope s = Scope.open()) {
            x.square().sum().backward();
        }
        churn(be, 2, 3, 4);
        float[] expect = ramp(24, 2);
        for (int i = 0; i < expect.length; i++) expect[i] += 3;
        assertArrayEquals(expect, x.grad().toFloatArray(), 1e-6f);
        x.close();
    }

    /** Closing the leaf frees its gradient exactly once; nothing stays live (no leak, no double free). */
    @ParameterizedTest
    @MethodSource("isolatedBackends")
    void leafAndGradientFreeTheirMemory(Backend be) {
        long base = be.liveBytes();
        Tensor w = Tensor.ones(be, 32, 32).requiresGrad(true);
        for (int step = 0; step < 3; step++) {
            if (step == 2) w.setGrad(null);                             // zeroGrad: the next one is taken over again
            try (Scope s = Scope.open()) {
                w.matmul(w).silu().sum().backward();
            }
        }
        Tensor g = w.grad();
        if (base >= 0) assertEquals(base + 2L * 32 * 32 * 4, be.liveBytes(), "parameter and its gradient");
        w.close();
        assertTrue(g.isClosed());
        if (base >= 0) assertEquals(base, be.liveBytes(), "all freed");
    }

    @ParameterizedTest
    @MethodSource("backends")
    void adoptGradOnlyTakesUnsharedTemporaries(Backend be) {
        Tensor leaf = Tensor.zeros(be, 2, 3).requiresGrad(true);
        Tensor old = Tensor.ones(be, 2, 3);
        long mark = Tensor.creationMark();
        assertFalse(leaf.adoptGrad(old, mark), "created before the pass: may be the caller's");
        Tensor shared = Tensor.ones(be, 2, 3);
        Tensor view = shared.reshape(6);
        assertFalse(leaf.adoptGrad(shared, mark), "a view shares its storage");
        view.close();
        Tensor part = Tensor.ones(be, 4, 3).slice(0, 0, 2);
        assertFalse(leaf.adoptGrad(part, mark), "covers only part of its storage");
        Tensor wrongShape = Tensor.ones(be, 3, 2), strided = Tensor.ones(be, 3, 2).transpose(0, 1).contiguous();
        assertFalse(leaf.adoptGrad(wrongShape, mark));
        assertFalse(leaf.adoptGrad(Tensor.ones(be, 3, 2).transpose(0, 1), mark), "not contiguous");
        assertFalse(leaf.adoptGrad(leaf, mark));
        Tensor closed = Tensor.ones(be, 2, 3);
        closed.close();
        assertFalse(leaf.adoptGrad(closed, mark));
        Tensor inGraph = Tensor.ones(be, 2, 3).requiresGrad(true).mul(2.0);
        assertFalse(leaf.adoptGrad(inGraph, mark), "a graph node");
        Tensor fresh;
        try (Scope s = Scope.open()) {
            fresh = Tensor.full(be, DType.F32, 5, 2, 3);
            assertTrue(leaf.adoptGrad(shared, mark), "view closed: sole owner");
            assertSame(shared, leaf.grad());
            assertFalse(leaf.adoptGrad(fresh, mark), "the leaf has an open gradient already");
        }
        assertTrue(fresh.isClosed());
        assertFalse(leaf.grad().isClosed(), "the scope no longer owns the adopted gradient");
        assertArrayEquals(filled(6, 1), leaf.grad().toFloatArray());
        assertTrue(strided.isContiguous());
        leaf.close();
        assertTrue(shared.isClosed());
    }
}
