// SPDX-License-Identifier: Apache-2.0
// Registers the CUDA backend with ServiceLoader (META-INF/services/ddpm4j.core.BackendProvider); highest priority, so
// "auto" picks it where a GPU is usable and falls back to the CPU otherwise. The emulated driver (a test vehicle, far
// slower than the CPU backend) ranks below cpu: it runs only when asked for by name.
package ddpm4j.kernels.cuda;

import ddpm4j.core.Backend;
import ddpm4j.core.BackendProvider;

/** ServiceLoader entry for {@link CudaBackend} on device 0 (or {@code -Dddpm4j.cuda.device=N}). */
public final class CudaBackendProvider implements BackendProvider {
    @Override public String name() { return "cuda"; }

    /** 100 on NVIDIA's driver; 5 (below cpu's 10, above reference's 0) on the emulated driver. */
    @Override public int priority() { return CudaDriver.emulated() ? 5 : 100; }

    @Override public boolean available() { return Cuda.available(); }

    @Override public String unavailableReason() { return Cuda.unavailableReason(); }

    @Override public Backend create() { return new CudaBackend(Integer.getInteger("ddpm4j.cuda.device", 0)); }
}
