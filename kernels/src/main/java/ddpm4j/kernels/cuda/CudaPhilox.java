// SPDX-License-Identifier: Apache-2.0
// Launcher for src/cuda/philox.cu: Philox4x32-10 uniform and normal fills, bit-exact with ddpm4j.core.Philox.
package ddpm4j.kernels.cuda;

/** philox.cu kernels: element offset+i of the (seed) stream into out[i]; grid-stride over Philox blocks of 4. */
final class CudaPhilox {
    private CudaPhilox() {}

    private static final String FILE = "philox";

    static void uniform(CudaBackend be, long out, long seed, long offset, int n) {
        be.kernel(FILE, "philox_uniform_forward").launch(be.stream(), CudaKernel.gridFor((n + 3L) / 4), 1, 256, 1, 0, out, seed, offset, n);
    }

    static void normal(CudaBackend be, long out, long seed, long offset, int n) {
        be.kernel(FILE, "philox_normal_forward").launch(be.stream(), CudaKernel.gridFor((n + 3L) / 4), 1, 256, 1, 0, out, seed, offset, n);
    }
}
