// SPDX-License-Identifier: Apache-2.0
// Fused optimizer updates: Adam (Kingma & Ba 2015, with bias correction; DDPM trains with Adam lr 2e-4) and the EMA
// of the weights used for sampling (decay 0.9999 in the paper). Launcher: kernels/.../cuda/CudaOptim.java.
#include "common.cuh"

// p, g, m, v: (n). grad_scale folds global-norm clipping (min(1, maxNorm/norm)) into the update; weight_decay is
// the L2 term added to the gradient (0 for DDPM). bc1 = 1 - beta1^t, bc2 = 1 - beta2^t.
// 1. g' = g * grad_scale + weight_decay * p
// 2. m = beta1 m + (1 - beta1) g';  v = beta2 v + (1 - beta2) g'^2
// 3. p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)
// Reads 16n bytes, writes 12n.
extern "C" __global__ void adam_update(float *p, const float *g, float *m, float *v, float lr, float beta1,
                                       float beta2, float eps, float bc1, float bc2, float grad_scale,
                                       float weight_decay, int n) {
    for (long long i = grid_thread_id(); i < n; i += grid_threads()) {
        float pi = p[i];
        float gi = g[i] * grad_scale + weight_decay * pi;
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
}

// As adam_update, with the clipping scale read from the device (grad_scale[0], written by the global-norm kernels),
// so clipping needs neither a host round-trip nor a pre-scaled copy of the gradient. Same traffic as adam_update.
extern "C" __global__ void adam_update_scaled(float *p, const float *g, float *m, float *v, const float *grad_scale,
                                              float lr, float beta1, float beta2, float eps, float bc1, float bc2,
                                              float weight_decay, int n) {
    float gs = grad_scale[0];
    for (long long i = grid_thread_id(); i < n; i += grid_threads()) {
        float pi = p[i];
        float gi = g[i] * gs + weight_decay * pi;
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
}

// shadow, p: (n). shadow = decay * shadow + (1 - decay) * p. Reads 8n bytes, writes 4n.
extern "C" __global__ void ema_update(float *shadow, const float *p, float decay, int n) {
    for (long long i = grid_thread_id(); i < n; i += grid_threads()) shadow[i] = decay * shadow[i] + (1.0f - decay) * p[i];
}
