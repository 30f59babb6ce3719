// SPDX-License-Identifier: Apache-2.0
// Kernels that exercise the emulation itself (barriers, deadlock detection, warp shuffles, dynamic shared memory,
// atomics across blocks); compiled only into the emulation library. Test: kernels/.../emu/EmuRuntimeTest.java.
#include "common.cuh"

// Threads 0..15 wait at a barrier the others never reach: the emulation must report a deadlock, not hang.
extern "C" __global__ void emu_selftest_exit_before_barrier(int *out) {
    if (threadIdx.x < 16) __syncthreads();
    out[threadIdx.x] = 1;
}

// Odd and even threads wait at two different barriers (undefined on a GPU): reported as divergent.
extern "C" __global__ void emu_selftest_divergent_barrier(int *out) {
    if (threadIdx.x & 1) {
        __syncthreads();
        out[threadIdx.x] = 1;
    } else {
        __syncthreads();
        out[threadIdx.x] = 2;
    }
}

// out: (blockDim.x, 7) per thread: shfl from (lane+3)%32, xor 5, down 4, up 2, ballot(lane % 3 == 0),
// warp_sum(lane), block_sum(tid) (blockDim.x a multiple of 32).
extern "C" __global__ void emu_selftest_warp(int *out) {
    __shared__ float scratch[32];
    int tid = threadIdx.x, lane = tid & 31;
    int *o = out + tid * 7;
    o[0] = __shfl_sync(DDPM4J_FULL_MASK, lane * 10, (lane + 3) % 32);
    o[1] = __shfl_xor_sync(DDPM4J_FULL_MASK, lane, 5);
    o[2] = __shfl_down_sync(DDPM4J_FULL_MASK, lane, 4);
    o[3] = __shfl_up_sync(DDPM4J_FULL_MASK, lane, 2);
    o[4] = (int)__ballot_sync(DDPM4J_FULL_MASK, lane % 3 == 0);
    o[5] = (int)warp_sum((float)lane);
    o[6] = (int)block_sum((float)tid, scratch);
}

// Each block reverses its slice of `in` through dynamic shared memory (blockDim.x floats) and counts itself in
// `count` with float and int atomics. in, out: (gridDim.x, blockDim.x).
extern "C" __global__ void emu_selftest_shared(float *out, const float *in, float *fcount, int *icount) {
    extern __shared__ float smem[];
    int n = blockDim.x, t = threadIdx.x;
    long long base = (long long)blockIdx.x * n;
    smem[t] = in[base + t];
    __syncthreads();
    out[base + t] = smem[n - 1 - t];
    if (t == 0) {
        atomicAdd(fcount, 1.0f);
        atomicAdd(icount, 1);
    }
}
