// SPDX-License-Identifier: Apache-2.0
// Fused single-head self-attention O = softmax(Q K^T * scale) V (flash-attention style: online softmax over tiles of
// 8 keys, never more than a tile of the L x L scores), and its backward. Launcher: kernels/.../cuda/CudaAttention.java.
#include "common.cuh"

// One warp per row (query row for forward/dq, key row for dkv), 8 rows per block of 256 threads; lane l owns the
// channels c = l + 32 j, j < C/32 <= 16, kept in registers. Tiles of 8 rows of the other operand sit in dynamic
// shared memory (2 * 8 * C floats = 64*C bytes: 32 KiB at C = 512) and are shared by the block's 8 warps.
#define ATT_ROWS 8
#define ATT_TILE 8
#define ATT_MAXJ 16

// v[k]: this lane's partial dot products for the 8 rows of a tile. Returns the full dot (summed over the 32 lanes)
// of row (lane >> 2) & 7: a reduce-scatter in 9 shuffles instead of 8 separate 5-shuffle reductions.
__device__ __forceinline__ float warp_reduce8(float *v, int lane) {
    bool up = (lane & 16) != 0;
#pragma unroll
    for (int j = 0; j < 4; j++) {
        float send = up ? v[j] : v[j + 4], keep = up ? v[j + 4] : v[j];
        v[j] = keep + __shfl_xor_sync(DDPM4J_FULL_MASK, send, 16);
    }
    up = (lane & 8) != 0;
#pragma unroll
    for (int j = 0; j < 2; j++) {
        float send = up ? v[j] : v[j + 2], keep = up ? v[j + 2] : v[j];
        v[j] = keep + __shfl_xor_sync(DDPM4J_FULL_MASK, send, 8);
    }
    up = (lane & 4) != 0;
    float send = up ? v[0] : v[1], keep = up ? v[1] : v[0];
    float r = keep + __shfl_xor_sync(DDPM4J_FULL_MASK, send, 4);
    r += __shfl_xor_sync(DDPM4J_FULL_MASK, r, 2);
    r += __shfl_xor_sync(DDPM4J_FULL_MASK, r, 1);
    return r;
}

// Over the 8 lanes that hold the 8 different tile rows (the ones sharing lane bits 0-1).
__device__ __forceinline__ float tile_max(float v) {
    v = fmaxf(v, __shfl_xor_sync(DDPM4J_FULL_MASK, v, 4));
    v = fmaxf(v, __shfl_xor_sync(DDPM4J_FULL_MASK, v, 8));
    return fmaxf(v, __shfl_xor_sync(DDPM4J_FULL_MASK, v, 16));
}
__device__ __forceinline__ float tile_sum(float v) {
    v += __shfl_xor_sync(DDPM4J_FULL_MASK, v, 4);
    v += __shfl_xor_sync(DDPM4J_FULL_MASK, v, 8);
    return v + __shfl_xor_sync(DDPM4J_FULL_MASK, v, 16);
}

// Rows r0 .. r0+7 of two (L, C) matrices of batch offset `off` into shared a_s, b_s (zeros past L), coalesced.
__device__ __forceinline__ void load_tile2(float *a_s, float *b_s, const float *a, const float *b, long long off,
                                           int r0, int L, int C) {
    int nt = min(ATT_TILE, L - r0);
    for (int i = threadIdx.x; i < ATT_TILE * C; i += blockDim.x) {
        int t = i / C;
        long long g = off + (long long)(r0 + t) * C + (i - t * C);
        a_s[i] = t < nt ? a[g] : 0.0f;
        b_s[i] = t < nt ? b[g] : 0.0f;
    }
}

__device__ __forceinline__ void load_row(float *dst, const float *src, bool valid, int lane, int C) {
#pragma unroll
    for (int j = 0; j < ATT_MAXJ; j++) {
        int c = lane + 32 * j;
        dst[j] = (valid && c < C) ? src[c] : 0.0f;
    }
}

// q, k, v, o: (B, L, C); lse: (B, L) = logsumexp_j(q_i . k_j * scale), kept for the backward.
// Block 256, grid (ceil(L/8), B), dynamic shared 64*C bytes. FLOPs: 4*B*L*L*C; bytes: 4*B*L*C*(2 + 2*L/8) (K, V
// re-read once per block, from L2).
extern "C" __global__ void __launch_bounds__(256) attention_forward(float *o, float *lse, const float *q,
                                                                    const float *k, const float *v, int B, int L,
                                                                    int C, float scale) {
    extern __shared__ float smem[];
    float *ks = smem, *vs = smem + ATT_TILE * C;
    int lane = threadIdx.x & 31, row = blockIdx.x * ATT_ROWS + (threadIdx.x >> 5), mykey = (lane >> 2) & 7;
    bool valid = row < L;
    long long off = (long long)blockIdx.y * L * C;
    float qr[ATT_MAXJ], acc[ATT_MAXJ];
    load_row(qr, q + off + (long long)row * C, valid, lane, C);
#pragma unroll
    for (int j = 0; j < ATT_MAXJ; j++) acc[j] = 0.0f;
    float m = -INFINITY, l = 0.0f;   // running max and sum of exp(s - m)
    for (int t0 = 0; t0 < L; t0 += ATT_TILE) {
        __syncthreads();   // the previous tile is consumed
        load_tile2(ks, vs, k, v, off, t0, L, C);
        __syncthreads();
        // 1. s_j = q . k_j * scale for the tile's 8 keys
        float part[ATT_TILE];
#pragma unroll
        for (int t = 0; t < ATT_TILE; t++) {
            part[t] = 0.0f;
#pragma unroll
            for (int j = 0; j < ATT_MAXJ; j++)
                if (lane + 32 * j < C) part[t] += qr[j] * ks[t * C + lane + 32 * j];
        }
        float s = warp_reduce8(part, lane) * scale;
        if (t0 + mykey >= L) s = -INFINITY;
        // 2. online softmax: rescale the running sums to the new max
        float mnew = fmaxf(m, tile_max(s));
        float p = expf(s - mnew), corr = expf(m - mnew);
        l = l * corr + tile_sum(p);
        m = mnew;
        // 3. acc = acc * corr + sum_j p_j v_j
#pragma unroll
        for (int j = 0; j < ATT_MAXJ; j++) acc[j] *= corr;
#pragma unroll
        for (int t = 0; t < ATT_TILE; t++) {
            float pt = __shfl_sync(DDPM4J_FULL_MASK, p, 4 * t);
#pragma unroll
            for (int j = 0; j < ATT_MAXJ; j++)
                if (lane + 32 * j < C) acc[j] += pt * vs[t * C + lane + 32 * j];
        }
    }
    if (valid) {
        float inv = 1.0f / l;
#pragma unroll
        for (int j = 0; j < ATT_MAXJ; j++)
            if (lane + 32 * j < C) o[off + (long long)row * C + lane + 32 * j] = acc[j] * inv;
        if (lane == 0) lse[(long long)blockIdx.y * L + row] = m + logf(l);
    }
}

// d: (B, L) = rowsum(dout * o), the softmax-backward term shared by dq and dkv. Block 256 (a warp per row),
// grid (ceil(L/8), B). Reads 8*B*L*C bytes.
extern "C" __global__ void attention_backward_preprocess(float *d, const float *dout, const float *o, int B, int L,
                                                         int C) {
    int lane = threadIdx.x & 31, row = blockIdx.x * ATT_ROWS + (threadIdx.x >> 5);
    long long r = ((long long)blockIdx.y * L + row) * C;
    float s = 0.0f;
    if (row < L)
        for (int c = lane; c < C; c += 32) s += dout[r + c] * o[r + c];
    s = warp_sum(s);
    if (row < L && lane == 0) d[(long long)blockIdx.y * L + row] = s;
}

// dq_i = scale * sum_j p_ij (dout_i . v_j - d_i) k_j with p_ij = exp(q_i . k_j * scale - lse_i).
// All (B, L, C) but lse, d: (B, L). Block 256, grid (ceil(L/8), B), dynamic shared 64*C bytes. FLOPs 6*B*L*L*C.
extern "C" __global__ void __launch_bounds__(256) attention_backward_dq(float *dq, const float *dout, const float *q,
                                                                        const float *k, const float *v,
                                                                        const float *lse, const float *d, int B,
                                                                        int L, int C, float scale) {
    extern __shared__ float smem[];
    float *ks = smem, *vs = smem + ATT_TILE * C;
    int lane = threadIdx.x & 31, row = blockIdx.x * ATT_ROWS + (threadIdx.x >> 5), mykey = (lane >> 2) & 7;
    bool valid = row < L;
    long long off = (long long)blockIdx.y * L * C;
    float qr[ATT_MAXJ], dor[ATT_MAXJ], acc[ATT_MAXJ];
    load_row(qr, q + off + (long long)row * C, valid, lane, C);
    load_row(dor, dout + off + (long long)row * C, valid, lane, C);
#pragma unroll
    for (int j = 0; j < ATT_MAXJ; j++) acc[j] = 0.0f;
    float lse_i = valid ? lse[(long long)blockIdx.y * L + row] : 0.0f;
    float d_i = valid ? d[(long long)blockIdx.y * L + row] : 0.0f;
    for (int t0 = 0; t0 < L; t0 += ATT_TILE) {
        __syncthreads();
        load_tile2(ks, vs, k, v, off, t0, L, C);
        __syncthreads();
        float ps[ATT_TILE], pd[ATT_TILE];
#pragma unroll
        for (int t = 0; t < ATT_TILE; t++) {
            ps[t] = 0.0f;
            pd[t] = 0.0f;
#pragma unroll
            for (int j = 0; j < ATT_MAXJ; j++)
                if (lane + 32 * j < C) {
                    ps[t] += qr[j] * ks[t * C + lane + 32 * j];
                    pd[t] += dor[j] * vs[t * C + lane + 32 * j];
                }
        }
        float s = warp_reduce8(ps, lane) * scale, dp = warp_reduce8(pd, lane);
        float p = t0 + mykey < L ? expf(s - lse_i) : 0.0f;
        float ds = p * (dp - d_i);
#pragma unroll
        for (int t = 0; t < ATT_TILE; t++) {
            float dst = __shfl_sync(DDPM4J_FULL_MASK, ds, 4 * t);
#pragma unroll
            for (int j = 0; j < ATT_MAXJ; j++)
                if (lane + 32 * j < C) acc[j] += dst * ks[t * C + lane + 32 * j];
        }
    }
    if (valid)
#pragma unroll
        for (int j = 0; j < ATT_MAXJ; j++)
            if (lane + 32 * j < C) dq[off + (long long)row * C + lane + 32 * j] = acc[j] * scale;
}

// dv_j = sum_i p_ij dout_i;  dk_j = scale * sum_i p_ij (dout_i . v_j - d_i) q_i. A warp per key row j, tiles of 8
// query rows (q, dout) in shared memory. Block 256, grid (ceil(L/8), B), dynamic shared 64*C bytes. FLOPs 8*B*L*L*C.
extern "C" __global__ void __launch_bounds__(256) attention_backward_dkv(float *dk, float *dv, const float *dout,
                                                                         const float *q, const float *k,
                                                                         const float *v, const float *lse,
                                                                         const float *d, int B, int L, int C,
                                                                         float scale) {
    extern __shared__ float smem[];
    __shared__ float lse_s[ATT_TILE], d_s[ATT_TILE];
    float *qs = smem, *dos = smem + ATT_TILE * C;
    int lane = threadIdx.x & 31, row = blockIdx.x * ATT_ROWS + (threadIdx.x >> 5), myq = (lane >> 2) & 7;
    bool valid = row < L;
    long long off = (long long)blockIdx.y * L * C;
    float kr[ATT_MAXJ], vr[ATT_MAXJ], dka[ATT_MAXJ], dva[ATT_MAXJ];
    load_row(kr, k + off + (long long)row * C, valid, lane, C);
    load_row(vr, v + off + (long long)row * C, valid, lane, C);
#pragma unroll
    for (int j = 0; j < ATT_MAXJ; j++) { dka[j] = 0.0f; dva[j] = 0.0f; }
    for (int t0 = 0; t0 < L; t0 += ATT_TILE) {
        __syncthreads();
        load_tile2(qs, dos, q, dout, off, t0, L, C);
        if (threadIdx.x < ATT_TILE) {
            bool in = t0 + (int)threadIdx.x < L;
            lse_s[threadIdx.x] = in ? lse[(long long)blockIdx.y * L + t0 + threadIdx.x] : 0.0f;
            d_s[threadIdx.x] = in ? d[(long long)blockIdx.y * L + t0 + threadIdx.x] : 0.0f;
        }
        __syncthreads();
        float ps[ATT_TILE], pd[ATT_TILE];
#pragma unroll
        for (int t = 0; t < ATT_TILE; t++) {
            ps[t] = 0.0f;
            pd[t] = 0.0f;
#pragma unroll
            for (int j = 0; j < ATT_MAXJ; j++)
                if (lane + 32 * j < C) {
                    ps[t] += kr[j] * qs[t * C + lane + 32 * j];
                    pd[t] += vr[j] * dos[t * C + lane + 32 * j];
                }
        }
        float s = warp_reduce8(ps, lane) * scale, dp = warp_reduce8(pd, lane);
        float p = t0 + myq < L ? expf(s - lse_s[myq]) : 0.0f;
        float ds = p * (dp - d_s[myq]);
#pragma unroll
        for (int t = 0; t < ATT_TILE; t++) {
            float pt = __shfl_sync(DDPM4J_FULL_MASK, p, 4 * t), dst = __shfl_sync(DDPM4J_FULL_MASK, ds, 4 * t);
#pragma unroll
            for (int j = 0; j < ATT_MAXJ; j++)
                if (lane + 32 * j < C) {
                    dva[j] += pt * dos[t * C + lane + 32 * j];
                    dka[j] += dst * qs[t * C + lane + 32 * j];
                }
        }
    }
    if (valid)
#pragma unroll
        for (int j = 0; j < ATT_MAXJ; j++)
            if (lane + 32 * j < C) {
                dk[off + (long long)row * C + lane + 32 * j] = dka[j] * scale;
                dv[off + (long long)row * C + lane + 32 * j] = dva[j];
            }
}
