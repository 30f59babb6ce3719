// SPDX-License-Identifier: Apache-2.0
// Mean squared error of Algorithm 1 (|| eps - epsTheta ||^2, averaged), forward into a device scalar and backward
// from a device scalar, so a training step never reads the loss back to the host. Not launched by CudaBackend yet (its
// loss is composed of elementwise ops and a reduction); tested on the emulation (StepKernelsEmuTest).
#include "common.cuh"

// a, b: (n); part[blockIdx.x] = sum (a - b)^2 over this block's share; then sum_partials (reduce.cu) with scale
// 1/n gives the mean in the same bits on every run (no atomics). Block: a multiple of 32. Reads 8n bytes.
extern "C" __global__ void mse_partial(float *part, const float *a, const float *b, int n) {
    __shared__ float scratch[32];
    float acc = 0.0f;
    for (long long i = grid_thread_id(); i < n; i += grid_threads()) { float d = a[i] - b[i]; acc += d * d; }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) part[blockIdx.x] = acc;
}

// da = 2 (a - b) * dloss[0] * inv_n; a, b, da: (n); dloss: a device scalar. Reads 8n bytes, writes 4n.
extern "C" __global__ void mse_backward(float *da, const float *a, const float *b, const float *dloss, float inv_n,
                                        int n) {
    float s = 2.0f * dloss[0] * inv_n;
    for (long long i = grid_thread_id(); i < n; i += grid_threads()) da[i] = s * (a[i] - b[i]);
}
