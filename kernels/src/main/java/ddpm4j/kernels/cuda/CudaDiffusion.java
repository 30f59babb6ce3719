// SPDX-License-Identifier: Apache-2.0
// Launcher for src/cuda/diffusion.cu: fused q_sample (Ho et al. eq. 4) and the ancestral step (Alg. 2, line 4).
package ddpm4j.kernels.cuda;

/** diffusion.cu kernels; per-sample coefficient arrays have length N, samples have D = C*H*W elements. */
final class CudaDiffusion {
    private CudaDiffusion() {}

    private static final String FILE = "diffusion";

    /** xt[n,:] = a[n] x0[n,:] + b[n] eps[n,:]. */
    static void qSample(CudaBackend be, long xt, long x0, long eps, long a, long b, int n, int d) {
        long total = (long) n * d;
        be.kernel(FILE, "q_sample_forward").launch(be.stream(), CudaKernel.gridFor(total), 1, 256, 1, 0, xt, x0, eps, a, b, n, d);
    }

    /**
     * With per-sample rows coef[n,:] = (c1, c2, coef1, coef2, sigma): x0 = c1 xt - c2 eps (clipped if asked);
     * out = coef1 x0 + coef2 xt + sigma z, without the noise term when z is 0 (null).
     */
    static void ancestralStep(CudaBackend be, long out, long xt, long eps, long z, long coef, boolean clip, int n, int d) {
        long total = (long) n * d;
        be.kernel(FILE, "ancestral_step_forward_coef").launch(be.stream(), CudaKernel.gridFor(total), 1, 256, 1, 0,
                out, xt, eps, z, coef, clip ? 1 : 0, n, d);
    }
}
