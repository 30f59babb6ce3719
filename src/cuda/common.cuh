// SPDX-License-Identifier: Apache-2.0
// Device helpers shared by the kernels in src/cuda: grid-stride loops, warp and block reductions, the by-value
// strided view of elementwise.cu. Compiled by nvcc and, through src/emu/cuda_emu.h, by g++ for the host emulation.
#pragma once

#define DDPM4J_FULL_MASK 0xffffffffu

// Linear id of the thread in its block and in the grid (x fastest, as CUDA forms warps).
__device__ __forceinline__ int block_thread_id() {
    return (int)(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z));
}
__device__ __forceinline__ int block_threads() { return (int)(blockDim.x * blockDim.y * blockDim.z); }
__device__ __forceinline__ long long grid_thread_id() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ long long grid_threads() { return (long long)gridDim.x * blockDim.x; }

// Strided / broadcast view passed by value (see README.md: 22 ints, 88 bytes).
struct Strides6 {
    int rank;
    int n;
    int shape[6];
    int stride_a[6];
    int stride_b[6];
    int offset_a;
    int offset_b;
};

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(DDPM4J_FULL_MASK, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(DDPM4J_FULL_MASK, v, o));
    return v;
}

// Sum over the whole block, returned to every thread. Needs blockDim a multiple of 32 (<= 1024) and every thread of
// the block to call it (it holds two barriers). `scratch` is 32 floats of shared memory the caller owns.
__device__ __forceinline__ float block_sum(float v, float *scratch) {
    int tid = block_thread_id(), lane = tid & 31, warp = tid >> 5, nwarps = block_threads() >> 5;
    v = warp_sum(v);
    __syncthreads();   // the previous call's readers are done with scratch
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_sum(lane < nwarps ? scratch[lane] : 0.0f);
}

__device__ __forceinline__ float block_max(float v, float *scratch) {
    int tid = block_thread_id(), lane = tid & 31, warp = tid >> 5, nwarps = block_threads() >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_max(lane < nwarps ? scratch[lane] : -INFINITY);
}

__device__ __forceinline__ float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }
