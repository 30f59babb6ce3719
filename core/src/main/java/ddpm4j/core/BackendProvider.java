// SPDX-License-Identifier: Apache-2.0
// Service interface through which backend modules register (META-INF/services/ddpm4j.core.BackendProvider).
package ddpm4j.core;

/** Creates a backend. Higher {@link #priority()} wins for "auto". */
public interface BackendProvider {
    String name();

    int priority();

    /** Whether this backend can run here; if not, {@link #unavailableReason()} says why in one sentence. */
    boolean available();

    default String unavailableReason() { return ""; }

    Backend create();
}
