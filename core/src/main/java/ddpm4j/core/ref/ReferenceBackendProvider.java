// SPDX-License-Identifier: Apache-2.0
// Registers the reference backend with ServiceLoader (lowest priority: chosen by "auto" only when nothing else is).
package ddpm4j.core.ref;

import ddpm4j.core.Backend;
import ddpm4j.core.BackendProvider;

public final class ReferenceBackendProvider implements BackendProvider {
    @Override public String name() { return "reference"; }

    @Override public int priority() { return 0; }

    @Override public boolean available() { return true; }

    @Override public Backend create() { return new ReferenceBackend(); }
}
