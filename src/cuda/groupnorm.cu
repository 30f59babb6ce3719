// SPDX-License-Identifier: Apache-2.0
// GroupNorm (Wu & He 2018) forward/backward with an optional fused SiLU after the affine, as the DDPM U-Net uses it.
// One block per (n, group); the group's Cg*HW elements are contiguous. Launcher: kernels/.../cuda/CudaGroupNorm.java.
#include "common.cuh"

// x, out: (N, C, HW); w, b: (C); mean, rstd: (N, G). Biased variance over Cg*HW elements (as PyTorch).
// out = y or silu(y), y = (x - mean) * rstd * w[c] + b[c]. Two-pass statistics (mean, then centred squares) for
// accuracy; reads 12*N*C*HW bytes (the group is re-read from L2), writes 4*N*C*HW.
extern "C" __global__ void groupnorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                                             const float *b, int N, int C, int HW, int G, float eps, int silu) {
    __shared__ float scratch[32];
    int ng = blockIdx.x, n = ng / G, g = ng % G, cg = C / G;
    int m = cg * HW;
    long long base = ((long long)n * C + (long long)g * cg) * HW;
    const float *xg = x + base;
    float s = 0.0f;
    for (int i = threadIdx.x; i < m; i += blockDim.x) s += xg[i];
    float mu = block_sum(s, scratch) / (float)m;
    float q = 0.0f;
    for (int i = threadIdx.x; i < m; i += blockDim.x) { float d = xg[i] - mu; q += d * d; }
    float rs = rsqrtf(block_sum(q, scratch) / (float)m + eps);
    if (threadIdx.x == 0) { mean[ng] = mu; rstd[ng] = rs; }
    for (int i = threadIdx.x; i < m; i += blockDim.x) {
        int c = g * cg + i / HW;
        float y = (xg[i] - mu) * rs * w[c] + b[c];
        out[base + i] = silu ? y * sigmoidf_(y) : y;
    }
}

// dy, x, dx: (N, C, HW); w, b: (C); mean, rstd: (N, G); pdw, pdb: (N, C), this sample's share of dw and db, written
// (groupnorm_param_grad then sums them over N in order: no atomics, the same bits on every run). With
// yhat = (x - mean) * rstd and dpre the gradient at the affine output (times silu'(pre) when fused):
// pdb[n, c] = sum dpre, pdw[n, c] = sum dpre*yhat,
// dx = rstd * (dpre*w - mean_group(dpre*w) - yhat * mean_group(dpre*w*yhat)).
// Reads 16*N*C*HW bytes, writes 4*N*C*HW.
__device__ __forceinline__ float groupnorm_dpre(float dy, float yhat, float wc, float bc, int silu) {
    if (!silu) return dy;
    float pre = yhat * wc + bc, sg = sigmoidf_(pre);
    return dy * sg * (1.0f + pre * (1.0f - sg));
}

extern "C" __global__ void groupnorm_backward(float *dx, float *pdw, float *pdb, const float *dy, const float *x,
                                              const float *w, const float *b, const float *mean, const float *rstd,
                                              int N, int C, int HW, int G, int silu) {
    __shared__ float scratch[32];
    int ng = blockIdx.x, n = ng / G, g = ng % G, cg = C / G;
    long long base = ((long long)n * C + (long long)g * cg) * HW;
    float mu = mean[ng], rs = rstd[ng];
    float s1 = 0.0f, s2 = 0.0f;   // sum dpre*w and sum dpre*w*yhat over the group
    for (int cc = 0; cc < cg; cc++) {
        int c = g * cg + cc;
        float wc = w[c], bc = b[c];
        const float *xc = x + base + (long long)cc * HW, *dyc = dy + base + (long long)cc * HW;
        float sb = 0.0f, sw = 0.0f;
        for (int i = threadIdx.x; i < HW; i += blockDim.x) {
            float yhat = (xc[i] - mu) * rs;
            float dp = groupnorm_dpre(dyc[i], yhat, wc, bc, silu);
            sb += dp;
            sw += dp * yhat;
        }
        sb = block_sum(sb, scratch);
        sw = block_sum(sw, scratch);
        if (threadIdx.x == 0) { pdb[(long long)n * C + c] = sb; pdw[(long long)n * C + c] = sw; }
        s1 += sb * wc;
        s2 += sw * wc;
    }
    float inv_m = 1.0f / (float)(cg * HW);
    s1 *= inv_m;
    s2 *= inv_m;
    for (int i = threadIdx.x; i < cg * HW; i += blockDim.x) {
        int c = g * cg + i / HW;
        float yhat = (x[base + i] - mu) * rs;
        float dp = groupnorm_dpre(dy[base + i], yhat, w[c], b[c], silu);
        dx[base + i] = rs * (dp * w[c] - s1 - yhat * s2);
    }
}

// dw[c] += sum over n of pdw[n, c], db[c] likewise (pdw, pdb: (N, C) from groupnorm_backward), n in order: the same
// bits on every run. One thread per channel. Reads 8*N*C bytes.
extern "C" __global__ void groupnorm_param_grad(float *dw, float *db, const float *pdw, const float *pdb, int N, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float sw = 0.0f, sb = 0.0f;
    for (int n = 0; n < N; n++) { sw += pdw[(long long)n * C + c]; sb += pdb[(long long)n * C + c]; }
    dw[c] += sw;
    db[c] += sb;
}
