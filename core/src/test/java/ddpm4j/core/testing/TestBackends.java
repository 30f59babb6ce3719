// SPDX-License-Identifier: Apache-2.0
// Backends for parameterized tests (Jlama's TestOperations loop for JUnit 5): the reference and every fast backend
// that is available on this machine.
package ddpm4j.core.testing;

import ddpm4j.core.Backend;
import ddpm4j.core.BackendProvider;
import ddpm4j.core.Backends;
import java.util.List;
import java.util.stream.Stream;

public final class TestBackends {
    private TestBackends() {}

    public static Backend reference() { return Backends.get("reference"); }

    /** Every available backend except the reference (for "matches the reference" tests). */
    public static Stream<Backend> fast() {
        List<BackendProvider> ps = Backends.providers();
        return ps.stream().filter(p -> !p.name().equals("reference") && p.available()).map(p -> Backends.get(p.name()));
    }

    /**
     * A new instance of every available backend, for tests that count a backend's live bytes exactly: the shared
     * instances also hold tensors other tests left to the garbage collector, which a Cleaner may free mid-test.
     */
    public static Stream<Backend> isolated() {
        return Backends.providers().stream().filter(BackendProvider::available).map(BackendProvider::create);
    }

    /** Every available backend, the reference included. */
    public static Stream<Backend> all() { return Stream.concat(Stream.of(reference()), fast()); }
}
