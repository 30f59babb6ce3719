// SPDX-License-Identifier: Apache-2.0
// Launcher for src/cuda/optim.cu: fused Adam step and EMA of the weights.
package ddpm4j.kernels.cuda;

/** optim.cu kernels, grid-stride. */
final class CudaOptim {
    private CudaOptim() {}

    private static final String FILE = "optim";

    /** Adam in place: g' = g * gradScale + weightDecay * p; m, v updated; p -= lr (m / bc1) / (sqrt(v / bc2) + eps). */
    static void adam(CudaBackend be, long p, long g, long m, long v, float lr, float beta1, float beta2, float eps,
                     float bc1, float bc2, float gradScale, float weightDecay, int n) {
        be.kernel(FILE, "adam_update").launch(be.stream(), CudaKernel.gridFor(n), 1, 256, 1, 0,
                p, g, m, v, lr, beta1, beta2, eps, bc1, bc2, gradScale, weightDecay, n);
    }

    /** As {@link #adam} with the clip scale read on the device from gradScale[0] (no weight decay). */
    static void adamScaled(CudaBackend be, long p, long g, long m, long v, long gradScale, float lr, float beta1, float beta2,
                           float eps, float bc1, float bc2, int n) {
        be.kernel(FILE, "adam_update_scaled").launch(be.stream(), CudaKernel.gridFor(n), 1, 256, 1, 0,
                p, g, m, v, gradScale, lr, beta1, beta2, eps, bc1, bc2, 0f, n);
    }

    /** shadow = decay * shadow + (1 - decay) * p. */
    static void ema(CudaBackend be, long shadow, long p, float decay, int n) {
        be.kernel(FILE, "ema_update").launch(be.stream(), CudaKernel.gridFor(n), 1, 256, 1, 0, shadow, p, decay, n);
    }
}
