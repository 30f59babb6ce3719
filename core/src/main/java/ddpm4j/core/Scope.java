// SPDX-License-Identifier: Apache-2.0
// Lifetime of intermediate tensors: every tensor created while a scope is open on this thread belongs to it and is
// freed when it closes, unless kept. A training step runs in one scope, so its memory goes back to the pool each step.
package ddpm4j.core;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/** {@code try (var s = Scope.open()) { ... result.keep(); }}: frees the rest at the end. Thread-local, nestable. */
public final class Scope implements AutoCloseable {
    private static final ThreadLocal<ArrayDeque<Scope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);
    private final List<Tensor> owned = new ArrayList<>();
    private final Thread thread = Thread.currentThread();
    private boolean closed;

    private Scope() {}

    public static Scope open() {
        Scope s = new Scope();
        STACK.get().push(s);
        return s;
    }

    static Scope current() { return STACK.get().peek(); }

    /** The scope enclosing this one, or null. */
    Scope parent() {
        boolean seen = false;
        for (Scope s : STACK.get()) {
            if (seen) return s;
            if (s == this) seen = true;
        }
        return null;
    }

    void adopt(Tensor t) { owned.add(t); }

    /**
     * Moves {@code t} to the enclosing scope, as {@code t.keep()} does, if it belongs to this scope; a tensor made
     * elsewhere is left where it is. Returns {@code t}.
     */
    public Tensor keep(Tensor t) {
        if (t != null && t.scope() == this) t.keep();
        return t;
    }

    @Override
    public void close() {
        if (closed) return;
        if (Thread.currentThread() != thread) throw new IllegalStateException("a Scope must be closed on its own thread");
        ArrayDeque<Scope> stack = STACK.get();
        if (stack.peek() != this) throw new IllegalStateException("scopes must be closed innermost first");
        stack.pop();
        closed = true;
        for (Tensor t : owned) if (t.scope() == this) t.close();
        owned.clear();
    }
}
