// SPDX-License-Identifier: Apache-2.0
// Elementwise kernels: unary ops by code, broadcasting binary ops, affine, axpy, fill, strided copy.
// Launcher: kernels/.../cuda/CudaElementwise.java. All are memory bound; bytes per call are given per kernel.
#include "common.cuh"

// Unary op codes (README.md): 0 NEG,1 EXP,2 LOG,3 SQRT,4 RSQRT,5 SQUARE,6 TANH,7 SIGMOID,8 SILU,9 SIN,10 COS,11 RELU,12 ABS
__device__ __forceinline__ float unary_op(float x, int op) {
    switch (op) {
        case 0: return -x;
        case 1: return expf(x);
        case 2: return logf(x);
        case 3: return sqrtf(x);
        case 4: return rsqrtf(x);
        case 5: return x * x;
        case 6: return tanhf(x);
        case 7: return sigmoidf_(x);
        case 8: return x * sigmoidf_(x);
        case 9: return sinf(x);
        case 10: return cosf(x);
        case 11: return x > 0.0f ? x : 0.0f;
        case 12: return fabsf(x);
        default: return NAN;
    }
}

// f'(x) for the same codes.
__device__ __forceinline__ float unary_grad(float x, int op) {
    switch (op) {
        case 0: return -1.0f;
        case 1: return expf(x);
        case 2: return 1.0f / x;
        case 3: return 0.5f / sqrtf(x);
        case 4: return -0.5f / (x * sqrtf(x));
        case 5: return 2.0f * x;
        case 6: { float t = tanhf(x); return 1.0f - t * t; }
        case 7: { float s = sigmoidf_(x); return s * (1.0f - s); }
        case 8: { float s = sigmoidf_(x); return s * (1.0f + x * (1.0f - s)); }
        case 9: return cosf(x);
        case 10: return -sinf(x);
        case 11: return x > 0.0f ? 1.0f : 0.0f;
        case 12: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
        default: return NAN;
    }
}

// x, y: (n). 8n bytes.
extern "C" __global__ void unary_forward(float *y, const float *x, int n, int op) {
    for (long long i = grid_thread_id(); i < n; i += grid_threads()) y[i] = unary_op(x[i], op);
}

// dx, dy, x: (n). dx = dy * f'(x). 12n bytes.
extern "C" __global__ void unary_backward(float *dx, const float *dy, const float *x, int n, int op) {
    for (long long i = grid_thread_id(); i < n; i += grid_threads()) dx[i] = dy[i] * unary_grad(x[i], op);
}

// Binary op codes (README.md, = Backend.BinaryOp ordinals): 0 ADD,1 SUB,2 MUL,3 DIV,4 EQ,5 MAX,6 GT,7 MIN.
// MAX and MIN are fmaxf/fminf: a NaN operand yields the other operand.
__device__ __forceinline__ float binary_op(float a, float b, int op) {
    switch (op) {
        case 0: return a + b;
        case 1: return a - b;
        case 2: return a * b;
        case 3: return a / b;
        case 4: return a == b ? 1.0f : 0.0f;
        case 5: return fmaxf(a, b);
        case 6: return a > b ? 1.0f : 0.0f;
        case 7: return fminf(a, b);
        default: return NAN;
    }
}

// out: s.shape, contiguous. a, b: element strides s.stride_a / s.stride_b (0 on broadcast dims). <= 12 s.n bytes.
extern "C" __global__ void binary_forward(float *out, const float *a, const float *b, Strides6 s, int op) {
    for (long long i = grid_thread_id(); i < s.n; i += grid_threads()) {
        int rem = (int)i; long long ia = s.offset_a, ib = s.offset_b;
        // Innermost first: peel coordinates off the linear index. Fully unrolled over the 6 slots so the by-value
        // struct is indexed statically and stays in the parameter bank (no local-memory copy).
#pragma unroll
        for (int d = 5; d >= 0; d--) {
            if (d < s.rank) {
                int c = rem % s.shape[d];
                rem /= s.shape[d];
                ia += c * s.stride_a[d];
                ib += c * s.stride_b[d];
            }
        }
        out[i] = binary_op(a[ia], b[ib], op);
    }
}

// y, x: (n), y = a*x + b; y may alias x. 8n bytes.
extern "C" __global__ void affine_forward(float *y, const float *x, float a, float b, int n) {
    for (long long i = grid_thread_id(); i < n; i += grid_threads()) y[i] = a * x[i] + b;
}

// y += a*x, y, x: (n). 12n bytes.
extern "C" __global__ void axpy_forward(float *y, const float *x, float a, int n) {
    for (long long i = grid_thread_id(); i < n; i += grid_threads()) y[i] += a * x[i];
}

// y: (n). 4n bytes.
extern "C" __global__ void fill_forward(float *y, float v, int n) {
    for (long long i = grid_thread_id(); i < n; i += grid_threads()) y[i] = v;
}

// dst[offset_b + sum c_d stride_b[d]] = src[offset_a + sum c_d stride_a[d]] over the coordinates c of s.shape. 8 s.n bytes.
extern "C" __global__ void copy_forward(float *dst, const float *src, Strides6 s) {
    for (long long i = grid_thread_id(); i < s.n; i += grid_threads()) {
        int rem = (int)i; long long is = s.offset_a, id = s.offset_b;
#pragma unroll
        for (int d = 5; d >= 0; d--) {
            if (d < s.rank) {
                int c = rem % s.shape[d];
                rem /= s.shape[d];
                is += c * s.stride_a[d];
                id += c * s.stride_b[d];
            }
        }
        dst[id] = src[is];
    }
}
