// SPDX-License-Identifier: Apache-2.0
// Base class of layers: named parameters, buffers and children with dotted names (as PyTorch's state_dict), train/eval
// mode, parameter counts and lifetime. Layers are written only against Tensor, never a backend class.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.GradMode;
import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import java.util.function.Supplier;

/**
 * A layer or a container of layers. Subclasses register their parameters and children in the constructor, in the order
 * diffusers registers them, so {@link #namedParameters()} lists {@code down_blocks.0.resnets.1.conv1.weight} and so on.
 * Parameters are leaves that require gradients and belong to no {@link ddpm4j.core.Scope}: they live until
 * {@link #close()}. New modules are in training mode.
 */
public abstract class Module implements AutoCloseable {
    private final SequencedMap<String, Tensor> params = new LinkedHashMap<>();
    private final SequencedMap<String, Tensor> buffers = new LinkedHashMap<>();
    private final SequencedMap<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;
    private boolean closed;

    /** Registers a parameter (made a gradient-requiring leaf outside every scope) under a local name. */
    protected final Tensor registerParameter(String name, Tensor t) {
        checkName(name);
        t.detachFromScope();
        t.requiresGrad(true);
        params.put(name, t);
        return t;
    }

    /** Registers a non-trained tensor that is part of the state dict. */
    protected final Tensor registerBuffer(String name, Tensor t) {
        checkName(name);
        t.detachFromScope();
        buffers.put(name, t);
        return t;
    }

    /** Registers a child module under a local name; returns it. */
    protected final <M extends Module> M registerModule(String name, M m) {
        checkName(name);
        children.put(name, m);
        m.train(training);
        return m;
    }

    private void checkName(String name) {
        if (name.isEmpty() || name.contains(".") || params.containsKey(name) || buffers.containsKey(name)
                || children.containsKey(name))
            throw new IllegalArgumentException("module name '" + name + "' is empty, dotted or already used");
    }

    /** Parameters by dotted name, this module's first, then each child's in registration order. */
    public final SequencedMap<String, Tensor> namedParameters() {
        var out = new LinkedHashMap<String, Tensor>();
        collect("", out, false);
        return Collections.unmodifiableSequencedMap(out);
    }

    /** Parameters and buffers by dotted name: what a checkpoint stores. */
    public final SequencedMap<String, Tensor> stateDict() {
        var out = new LinkedHashMap<String, Tensor>();
        collect("", out, true);
        return Collections.unmodifiableSequencedMap(out);
    }

    private void collect(String prefix, SequencedMap<String, Tensor> out, boolean withBuffers) {
        params.forEach((k, v) -> out.put(prefix + k, v));
        if (withBuffers) buffers.forEach((k, v) -> out.put(prefix + k, v));
        children.forEach((k, m) -> m.collect(prefix + k + ".", out, withBuffers));
    }

    /** All parameters, in {@link #namedParameters()} order. */
    public final List<Tensor> parameters() { return new ArrayList<>(namedParameters().values()); }

    /** Child modules by local name. */
    public final SequencedMap<String, Module> children() { return Collections.unmodifiableSequencedMap(children); }

    /** Total number of parameter elements. */
    public final long parameterCount() {
        long n = 0;
        for (Tensor t : namedParameters().values()) n += t.numel();
        return n;
    }

    /** Sets training mode (dropout active) on this module and all children; returns this. */
    public Module train(boolean on) {
        training = on;
        for (Module m : children.values()) m.train(on);
        return this;
    }

    /** Inference mode: {@code train(false)}. */
    public final Module eval() { return train(false); }

    public final boolean isTraining() { return training; }

    /** Drops every parameter's gradient buffer. */
    public final void zeroGrad() {
        for (Tensor t : namedParameters().values()) t.setGrad(null);
    }

    /** Frees every parameter and buffer of this module and its children. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        params.values().forEach(Tensor::close);
        buffers.values().forEach(Tensor::close);
        children.values().forEach(Module::close);
    }

    /**
     * Frees forward-pass temporaries as soon as they are dead when no autograd graph is being recorded ({@link GradMode}
     * off: sampling, evaluation), so an inference forward holds its live working set rather than every intermediate
     * until the enclosing Scope closes. With the graph on this does nothing: backward reads them, and the Scope frees
     * them. A forward releases only tensors it made itself, never its inputs or its result; closing drops one reference,
     * so a view of a released tensor keeps the storage alive until it is closed too. Nulls and repeats are skipped.
     */
    protected static void release(Tensor... temporaries) {
        if (GradMode.enabled()) return;
        for (Tensor t : temporaries) if (t != null) t.close();
    }

    /**
     * Runs {@code body}, a child's forward on {@code input}, in a {@link Scope} of its own when no autograd graph is
     * being recorded, and hands its result to the enclosing scope: whatever temporaries the child does not release
     * itself (a layer without {@link #release} calls, statistics or copies the ops allocate) are freed when it
     * returns rather than when the caller's scope closes. With the graph on it just runs {@code body}.
     */
    protected static Tensor scoped(Tensor input, Supplier<Tensor> body) {
        if (GradMode.enabled()) return body.get();
        try (Scope s = Scope.open()) {
            Tensor y = body.get();
            return y == input ? y : y.keep();
        }
    }

    // ---- initialisation helpers -------------------------------------------------------------------------------------

    /**
     * PyTorch's default Linear/Conv2d initialisation U(-1/sqrt(fanIn), 1/sqrt(fanIn)) from {@code gen}, or zeros when
     * {@code gen} is null (weights about to be loaded from a checkpoint).
     */
    static Tensor uniformInit(Backend be, Generator gen, long fanIn, int... shape) {
        if (gen == null) return Tensor.zeros(be, shape);
        double bound = 1.0 / Math.sqrt(fanIn);
        Tensor u = Tensor.rand(be, gen, shape);
        Tensor w = u.affine(2 * bound, -bound);
        u.close();
        return w;
    }
}
