// SPDX-License-Identifier: Apache-2.0
// Row softmax forward/backward over the last axis (the unfused attention path and tests).
// Launcher: kernels/.../cuda/CudaSoftmax.java. One block per row (grid-stride over rows), blockDim a multiple of 32.
#include "common.cuh"

// x, y: (rows, cols). y = exp(x - max) / sum exp(x - max) (max subtracted for stability).
// Reads 12*rows*cols bytes (three passes, the row stays in L1/L2), writes 4*rows*cols.
extern "C" __global__ void softmax_forward(float *y, const float *x, int rows, int cols) {
    __shared__ float scratch[32];
    for (int row = blockIdx.x; row < rows; row += gridDim.x) {
        const float *xr = x + (long long)row * cols;
        float *yr = y + (long long)row * cols;
        float m = -INFINITY;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, xr[j]);
        m = block_max(m, scratch);
        float s = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) s += expf(xr[j] - m);
        s = block_sum(s, scratch);
        float inv = 1.0f / s;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = expf(xr[j] - m) * inv;
    }
}

// dy, y, dx: (rows, cols). dx = y * (dy - sum_j dy_j y_j). Reads 16*rows*cols bytes, writes 4*rows*cols.
extern "C" __global__ void softmax_backward(float *dx, const float *dy, const float *y, int rows, int cols) {
    __shared__ float scratch[32];
    for (int row = blockIdx.x; row < rows; row += gridDim.x) {
        const float *dyr = dy + (long long)row * cols;
        const float *yr = y + (long long)row * cols;
        float *dxr = dx + (long long)row * cols;
        float dot = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) dot += dyr[j] * yr[j];
        dot = block_sum(dot, scratch);
        for (int j = threadIdx.x; j < cols; j += blockDim.x) dxr[j] = yr[j] * (dyr[j] - dot);
    }
}
