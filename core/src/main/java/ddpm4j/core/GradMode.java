// SPDX-License-Identifier: Apache-2.0
// Thread-local switch for recording the autograd graph (torch.no_grad()).
package ddpm4j.core;

/** {@code try (var g = GradMode.off()) { ... }} runs without recording gradients on this thread. */
public final class GradMode implements AutoCloseable {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[] {true});
    private final boolean previous;

    private GradMode(boolean enabled) {
        boolean[] flag = ENABLED.get();
        previous = flag[0];
        flag[0] = enabled;
    }

    public static boolean enabled() { return ENABLED.get()[0]; }

    /** Disables recording until closed. */
    public static GradMode off() { return new GradMode(false); }

    /** Enables recording until closed. */
    public static GradMode on() { return new GradMode(true); }

    @Override
    public void close() { ENABLED.get()[0] = previous; }
}
