// SPDX-License-Identifier: Apache-2.0
// Reverse-mode differentiation: topological order of the graph below a root, then Derivatives for each node in
// reverse, summing gradients that meet; leaves accumulate into their own .grad buffers (a leaf's first gradient is
// taken over without a copy when no one else holds it). Intermediate gradients are freed once passed on, and each
// derivative's temporaries when it returns.
package ddpm4j.core.autograd;

import ddpm4j.core.GradMode;
import ddpm4j.core.Scope;
import ddpm4j.core.Shape;
import ddpm4j.core.Tensor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/** The backward pass. */
public final class Autograd {
    private Autograd() {}

    /** Back-propagates {@code seed} (ones for a scalar root when null) into every leaf that requires a gradient. */
    public static void backward(Tensor root, Tensor seed) { backward(root, seed, false); }

    /**
     * As {@link #backward(Tensor, Tensor)}; with {@code release}, every intermediate tensor below the root (each
     * non-leaf, and what its node saved) is closed as soon as its own derivative has run. Reverse topological order
     * runs every consumer's derivative first, so nothing of this graph needs it any more.
     */
    public static void backward(Tensor root, Tensor seed, boolean release) {
        root.check("backward");
        if (!root.requiresGrad())
            throw new IllegalStateException("backward: this tensor does not require a gradient (no input of it was marked requiresGrad, or it was made under GradMode.off())");
        if (seed == null && root.numel() != 1)
            throw new IllegalArgumentException("backward: called without a gradient on a tensor of shape " + Shape.str(root.shape())
                    + "; only a scalar (1 element) can be the implicit root; pass the gradient explicitly");
        if (seed != null && !Shape.same(seed.shape(), root.shape()))
            throw new IllegalArgumentException("backward: gradient shape " + Shape.str(seed.shape()) + " does not match the tensor's " + Shape.str(root.shape()));
        long mark = Tensor.creationMark();   // gradients created from here on are this pass's own temporaries
        List<Tensor> order = topo(root);
        Map<Tensor, Boolean> graph = new IdentityHashMap<>();
        if (release) for (Tensor t : order) graph.put(t, true);
        Map<Tensor, Tensor> grads = new IdentityHashMap<>();
        try (GradMode g = GradMode.off()) {
            grads.put(root, seed != null ? seed.detach() : Tensor.full(root.backend(), root.dtype(), 1, root.shape()));
            for (int i = order.size() - 1; i >= 0; i--) {
                Tensor t = order.get(i);
                Tensor gOut = grads.remove(t);
                if (gOut == null) continue;
                Node node = t.node();
                if (node == null) {
                    if (!accumulateLeaf(t, gOut, mark)) gOut.close();
                    continue;
                }
                Tensor[] in = node.inputs();
                boolean[] needs = new boolean[in.length];
                for (int j = 0; j < in.length; j++) needs[j] = in[j] != null && in[j].requiresGrad();
                Tensor[] gIn;
                // the derivative's own temporaries (products, broadcasts...) die with this node, not with the step:
                // measured on the MNIST U-Net at batch 16, 93 MiB of them outlived the backward pass otherwise
                try (Scope local = Scope.open()) {
                    gIn = Derivatives.backward(node, t, gOut, needs);
                    for (Tensor x : gIn) local.keep(x);
                } catch (Anomaly.NonFiniteException e) {
                    // a composed derivative (e.g. sqrt's g / (2 out)) failed inside: say whose backward it was
                    throw new Anomaly.NonFiniteException("anomaly: in backward of " + node.op() + ": "
                            + e.getMessage().replaceFirst("^anomaly: ", ""));
                }
                for (int j = 0; j < in.length; j++) {
                    if (!needs[j] || gIn[j] == null) continue;
                    Tensor gj = gIn[j];
                    for (int q = 0; q < j; q++) if (gIn[q] == gj) { gj = gj.detach(); break; }
                    if (gj == gOut) gj = gOut.detach();
                    if (Anomaly.enabled()) Anomaly.checkOutput("backward of " + node.op(), gj);
                    Tensor prev = grads.get(in[j]);
                    if (prev == null) grads.put(in[j], gj);
                    else {
                        grads.put(in[j], prev.add(gj));
                        prev.close();
                        gj.close();
                    }
                }
                gOut.close();
                if (release && t != root) {
                    for (Tensor s : node.saved()) if (s != null && !graph.containsKey(s)) s.close();
                    t.close();
                }
            }
        } finally {
            for (Tensor g : grads.values()) g.close();
        }
    }

    /**
     * Adds {@code g} into the leaf's .grad. The first gradient of a leaf is taken over without a copy when it is a
     * temporary of this pass nobody else holds (Tensor.adoptGrad says when): then this returns true and g now belongs
     * to the leaf; otherwise false and the caller still closes g.
     */
    private static boolean accumulateLeaf(Tensor leaf, Tensor g, long mark) {
        if (!leaf.requiresGrad()) return false;
        Tensor acc = leaf.grad();
        if (acc == null || acc.isClosed()) {
            if (leaf.adoptGrad(g, mark)) return true;
            acc = Tensor.empty(leaf.backend(), leaf.dtype(), leaf.shape()).detachFromScope();
            acc.copyFrom(g.rank() == leaf.rank() ? g : g.reshape(leaf.shape()));
            leaf.setGrad(acc);
        } else {
            acc.addInPlace(g);
        }
        return false;
    }

    /** Post-order of the nodes reachable from root through inputs that require gradients. */
    private static List<Tensor> topo(Tensor root) {
        List<Tensor> order = new ArrayList<>();
        Map<Tensor, Boolean> visited = new IdentityHashMap<>();
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        stack.push(new Object[] {root, 0});
        visited.put(root, true);
        while (!stack.isEmpty()) {
            Object[] top = stack.peek();
            Tensor t = (Tensor) top[0];
            int next = (Integer) top[1];
            Node n = t.node();
            Tensor[] in = n == null ? new Tensor[0] : n.inputs();
            while (next < in.length && (in[next] == null || !in[next].requiresGrad() || visited.containsKey(in[next]))) next++;
            if (next < in.length) {
                top[1] = next + 1;
                visited.put(in[next], true);
                in[next].check("backward (input of " + n.op() + ")");
                stack.push(new Object[] {in[next], 0});
            } else {
                stack.pop();
                order.add(t);
            }
        }
        return order;
    }
}
