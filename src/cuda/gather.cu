// SPDX-License-Identifier: Apache-2.0
// Row gather by int32 index (embedding lookup, per-sample schedule coefficients) and its scatter-add backward.
// Launcher: kernels/.../cuda/CudaGather.java.
#include "common.cuh"

// table: (rows, dim), idx: (n) int32 in [0, rows), out: (n, dim). Reads and writes 4*n*dim bytes.
extern "C" __global__ void gather_forward(float *out, const float *table, const int *idx, int n, int dim) {
    long long total = (long long)n * dim;
    for (long long i = grid_thread_id(); i < total; i += grid_threads()) {
        long long r = i / dim;
        out[i] = table[(long long)idx[r] * dim + (i - r * dim)];
    }
}

// dout: (n, dim); dtable: (rows, dim) += scattered rows (atomicAdd: repeated indices accumulate; zero it first).
extern "C" __global__ void gather_backward(float *dtable, const float *dout, const int *idx, int n, int dim) {
    long long total = (long long)n * dim;
    for (long long i = grid_thread_id(); i < total; i += grid_threads()) {
        long long r = i / dim;
        atomicAdd(&dtable[(long long)idx[r] * dim + (i - r * dim)], dout[i]);
    }
}
