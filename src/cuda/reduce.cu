// SPDX-License-Identifier: Apache-2.0
// Reductions: sum / max over the middle axis of an (outer, r, inner) view, global sum of squares (gradient norm for
// clipping) and an all-finite check (loss-scale overflow). Launcher: kernels/.../cuda/CudaReduce.java.
#include "common.cuh"

// x: (outer, r, inner), out: (outer, inner); OP 0 sum, 1 max, 2 sum of squares. Block (32, 8): for inner > 1,
// threadIdx.x walks 32 adjacent columns (coalesced 128-byte rows) and threadIdx.y splits r in 8; for inner == 1 all
// 256 threads split r and reduce in shuffles. Reads 4*outer*r*inner bytes, writes 4*outer*inner.
template <int OP>
__device__ __forceinline__ void reduce_mid(float *out, const float *x, int outer, int r, int inner) {
    constexpr bool MAX = OP == 1, SQ = OP == 2;
    __shared__ float part[8][33];
    __shared__ float scratch[32];
    const float init = MAX ? -INFINITY : 0.0f;
    int tid = block_thread_id(), nthreads = block_threads();
    for (int o = blockIdx.y; o < outer; o += gridDim.y) {
        const float *xo = x + (long long)o * r * inner;
        if (inner == 1) {
            float acc = init;
            for (int j = tid; j < r; j += nthreads) {
                float v = xo[j];
                acc = MAX ? fmaxf(acc, v) : acc + (SQ ? v * v : v);
            }
            acc = MAX ? block_max(acc, scratch) : block_sum(acc, scratch);
            if (tid == 0) out[o] = acc;
        } else {
            int col = blockIdx.x * 32 + threadIdx.x;
            float acc = init;
            if (col < inner)
                for (int j = threadIdx.y; j < r; j += blockDim.y) {
                    float v = xo[(long long)j * inner + col];
                    acc = MAX ? fmaxf(acc, v) : acc + (SQ ? v * v : v);
                }
            part[threadIdx.y][threadIdx.x] = acc;
            __syncthreads();
            if (threadIdx.y == 0 && col < inner) {
                for (int k = 1; k < (int)blockDim.y; k++)
                    acc = MAX ? fmaxf(acc, part[k][threadIdx.x]) : acc + part[k][threadIdx.x];
                out[(long long)o * inner + col] = acc;
            }
            __syncthreads();   // part is reused by the next o
        }
    }
}

extern "C" __global__ void sum_forward(float *out, const float *x, int outer, int r, int inner) {
    reduce_mid<0>(out, x, outer, r, inner);
}

extern "C" __global__ void max_forward(float *out, const float *x, int outer, int r, int inner) {
    reduce_mid<1>(out, x, outer, r, inner);
}

// out (outer, inner) = sum over r of x^2, x: (outer, r, inner); same geometry and traffic as sum_forward. For one
// global sum (outer = inner = 1) sumsq_forward below spreads the work over many blocks instead of one.
extern "C" __global__ void sumsq_forward_axis(float *out, const float *x, int outer, int r, int inner) {
    reduce_mid<2>(out, x, outer, r, inner);
}

// part[blockIdx.x] = sum of x^2 over this block's grid-stride share of x: (n); sum_partials then adds the blocks up.
// No atomics: for a given grid the bits are the same on every run. Reads 4n bytes. Block: multiple of 32.
extern "C" __global__ void sumsq_partial(float *part, const float *x, int n) {
    __shared__ float scratch[32];
    float acc = 0.0f;
    for (long long i = grid_thread_id(); i < n; i += grid_threads()) acc += x[i] * x[i];
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) part[blockIdx.x] = acc;
}

// out[0] += scale * sum of part: (m), one block, always in the same order (the second pass of sumsq_partial and
// mse_partial, instead of one atomicAdd per block, whose order changes from run to run). Block: multiple of 32.
extern "C" __global__ void sum_partials(float *out, const float *part, int m, float scale) {
    __shared__ float scratch[32];
    float acc = 0.0f;
    for (int i = threadIdx.x; i < m; i += blockDim.x) acc += part[i];
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) out[0] += scale * acc;
}

// flag[0] = 0 if any element of x: (n) is NaN or infinite; the caller sets flag[0] = 1 first. Reads 4n bytes.
extern "C" __global__ void allfinite_forward(int *flag, const float *x, int n) {
    bool ok = true;
    for (long long i = grid_thread_id(); i < n; i += grid_threads()) ok = ok && isfinite(x[i]);
    if (!ok) flag[0] = 0;   // benign race: every writer stores the same value
}
