// SPDX-License-Identifier: Apache-2.0
// Tensor.backwardReleasingGraph (activations closed during the backward pass) and Adam.releaseGrads (gradients freed
// between steps): the same gradients and updates, bit for bit, as backward() and zeroGrad(), with less memory held.
package ddpm4j.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.optim.Adam;
import ddpm4j.core.testing.TestBackends;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ReleaseGraphTest {
    static Stream<Backend> backends() { return TestBackends.isolated(); }

    /** x (1, 2, 7, 5), conv 3x3 to 6 channels, GroupNorm(3)+SiLU, a reshape (a view), softmax, square, mean. */
    private static List<Tensor> leaves(Backend be) {
        Generator gen = new Generator(11);
        List<Tensor> p = new ArrayList<>();
        p.add(Tensor.randn(be, gen, 1, 2, 7, 5).requiresGrad(true).detachFromScope());
        p.add(Tensor.randn(be, gen, 6, 2, 3, 3).requiresGrad(true).detachFromScope());
        p.add(Tensor.randn(be, gen, 6).requiresGrad(true).detachFromScope());
        p.add(Tensor.randn(be, gen, 6).requiresGrad(true).detachFromScope());
        return p;
    }

    /** The loss; {@code kept} receives the intermediates whose fate the test checks. */
    private static Tensor loss(List<Tensor> p, List<Tensor> kept) {
        Tensor h = p.get(0).conv2d(p.get(1), null, 1, 1);
        Tensor g = h.groupNorm(3, p.get(2), p.get(3), 1e-5f, true);
        Tensor v = g.reshape(6, 35);
        Tensor s = v.softmax(-1);
        kept.addAll(List.of(h, g, v, s));
        return s.square().mean();
    }

    private static void closeAll(List<Tensor> ts) {
        for (Tensor t : ts) {
            if (t.grad() != null) t.grad().close();
            t.close();
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void sameGradientsAndTheIntermediatesAreGone(Backend be) {
        List<Tensor> a = leaves(be), b = leaves(be);
        List<Tensor> keptA = new ArrayList<>(), keptB = new ArrayList<>();
        try (Scope s = Scope.open()) {
            Tensor la = loss(a, keptA);
            la.backward();
            long liveAfterPlain = be.liveBytes();
            Tensor lb = loss(b, keptB);
            long before = be.liveBytes();
            lb.backwardReleasingGraph();
            // b's activations left during its backward; a's are still held by the scope
            assertTrue(be.liveBytes() < before, "live bytes " + be.liveBytes() + " not below " + before);
            assertTrue(be.liveBytes() - liveAfterPlain < before - liveAfterPlain, "released pass holds as much as the plain one");
            assertEquals(la.item(), lb.item(), "the root stays readable");
            for (int i = 0; i < a.size(); i++) {
                assertArrayEquals(a.get(i).grad().toFloatArray(), b.get(i).grad().toFloatArray(), "gradient of leaf " + i);
                assertFalse(b.get(i).isClosed());
            }
            for (Tensor t : keptA) assertFalse(t.isClosed());
            for (Tensor t : keptB) assertTrue(t.isClosed());
            var e = assertThrows(IllegalStateException.class, () -> keptB.get(1).toFloatArray());
            assertTrue(e.getMessage().toLowerCase(java.util.Locale.ROOT).contains("closed")
                    || e.getMessage().toLowerCase(java.util.Locale.ROOT).contains("freed"), e.getMessage());
        }
        closeAll(a);
        closeAll(b);
        assertEquals(0, be.liveBytes(), "everything freed once the scope and leaves are closed");
    }

    @ParameterizedTest
    @MethodSource("backends")
    void releasedGradientsGiveTheSameAdamTrajectory(Backend be) {
        List<Tensor> a = leaves(be), b = leaves(be);
        Adam adamA = new Adam(a, s -> 1e-2, 0.9f, 0.999f, 1e-8f), adamB = new Adam(b, s -> 1e-2, 0.9f, 0.999f, 1e-8f);
        for (int step = 0; step < 3; step++) {
            try (Scope s = Scope.open()) {
                loss(a, new ArrayList<>()).backward();
                loss(b, new ArrayList<>()).backwardReleasingGraph();
                try (GradMode g = GradMode.off()) {
                    adamA.step(null);
                    adamB.step(null);
                }
            }
            adamA.zeroGrad();
            adamB.releaseGrads();
            for (Tensor p : b) assertNull(p.grad(), "a released gradient");
        }
        for (int i = 0; i < a.size(); i++)
            assertArrayEquals(a.get(i).toFloatArray(), b.get(i).toFloatArray(), "parameter " + i + " after 3 steps");
        adamA.close();
        adamB.close();
        closeAll(a);
        closeAll(b);
    }
}
