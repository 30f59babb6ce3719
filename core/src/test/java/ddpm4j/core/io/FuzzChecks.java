// SPDX-License-Identifier: Apache-2.0
// Shared assertion for fuzz targets: a rejection must name its source and a problem.
package ddpm4j.core.io;

/** Helpers for fuzz targets (also used by the diffusion module's fuzz tests through the core test-jar). */
public final class FuzzChecks {
    private FuzzChecks() {
    }

    /** Fails unless the exception's message starts with {@code source: } and says something after it. */
    public static void namesSource(FormatException e, String source) {
        String m = e.getMessage();
        if (m == null || !m.startsWith(source + ": ") || m.length() <= source.length() + 3) {
            throw new AssertionError("rejection does not name the source and a problem: " + m, e);
        }
    }
}
