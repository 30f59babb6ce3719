// SPDX-License-Identifier: Apache-2.0
// Registers the CPU backend with ServiceLoader; above the reference backend, below CUDA. Always available: without
// OpenBLAS it falls back to the Java GEMM (and says so once).
package ddpm4j.core.cpu;

import ddpm4j.core.Backend;
import ddpm4j.core.BackendProvider;

/** ServiceLoader entry for {@link CpuBackend}. */
public final class CpuBackendProvider implements BackendProvider {
    @Override public String name() { return "cpu"; }

    @Override public int priority() { return 10; }

    @Override public boolean available() { return true; }

    @Override public Backend create() { return new CpuBackend(); }
}
