// SPDX-License-Identifier: Apache-2.0
// DDPM (Ho et al. 2020) fused steps: q_sample, eq. (4) x_t = sqrt(alphaBar_t) x0 + sqrt(1 - alphaBar_t) eps, and the
// ancestral step of Algorithm 2 through the posterior of eq. (6)-(7). Launcher: kernels/.../cuda/CudaDiffusion.java.
#include "common.cuh"

// xt, x0, eps: (N, D) with D = C*H*W; a, b: (N) per-sample coefficients (a = sqrt(alphaBar_t[n]),
// b = sqrt(1 - alphaBar_t[n])) already on the device, so a batch with per-sample t needs no host round-trip.
// Reads 8*N*D bytes, writes 4*N*D.
extern "C" __global__ void q_sample_forward(float *xt, const float *x0, const float *eps, const float *a,
                                            const float *b, int N, int D) {
    long long total = (long long)N * D;
    for (long long i = grid_thread_id(); i < total; i += grid_threads()) {
        int n = (int)(i / D);
        xt[i] = a[n] * x0[i] + b[n] * eps[i];
    }
}

// out, xt, eps, z: (N, D); c1, c2, coef1, coef2, sigma: (N).
// 1. x0 = c1 * x_t - c2 * epsTheta          (c1 = 1/sqrt(alphaBar_t), c2 = sqrt(1/alphaBar_t - 1), eq. (15))
// 2. x0 = clamp(x0, -1, 1) when clip != 0
// 3. mean = coef1 * x0 + coef2 * x_t        (posterior mean, eq. (7))
// 4. x_{t-1} = mean + sigma * z             (Alg. 2 line 4; sigma = 0 at t = 1, then z is not read)
// Reads 16*N*D bytes (12 when sigma = 0), writes 4*N*D.
extern "C" __global__ void ancestral_step_forward(float *out, const float *xt, const float *eps, const float *z,
                                                  const float *c1, const float *c2, const float *coef1,
                                                  const float *coef2, const float *sigma, int clip, int N, int D) {
    long long total = (long long)N * D;
    for (long long i = grid_thread_id(); i < total; i += grid_threads()) {
        int n = (int)(i / D);
        float x = xt[i];
        float x0 = c1[n] * x - c2[n] * eps[i];
        if (clip) x0 = fminf(fmaxf(x0, -1.0f), 1.0f);
        float mean = coef1[n] * x0 + coef2[n] * x;
        float s = sigma[n];
        out[i] = s != 0.0f ? mean + s * z[i] : mean;
    }
}

// As ancestral_step_forward with the coefficients as Backend.ancestralStep holds them: coef (N, 5) row-major, rows
// (c1, c2, coef1, coef2, sigma); z may be null (no noise). Same traffic as ancestral_step_forward.
extern "C" __global__ void ancestral_step_forward_coef(float *out, const float *xt, const float *eps, const float *z,
                                                       const float *coef, int clip, int N, int D) {
    long long total = (long long)N * D;
    for (long long i = grid_thread_id(); i < total; i += grid_threads()) {
        const float *c = coef + 5LL * (i / D);
        float x = xt[i];
        float x0 = c[0] * x - c[1] * eps[i];
        if (clip) x0 = fminf(fmaxf(x0, -1.0f), 1.0f);
        float mean = c[2] * x0 + c[3] * x;
        out[i] = (c[4] != 0.0f && z != nullptr) ? mean + c[4] * z[i] : mean;
    }
}
