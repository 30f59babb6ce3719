// SPDX-License-Identifier: Apache-2.0
// Nearest-neighbour 2x upsampling of the U-Net decoder, and its backward (sum over each 2x2 block).
// Launcher: kernels/.../cuda/CudaUpsample.java.
#include "common.cuh"

// x: (NC, H, W), y: (NC, 2H, 2W); one thread per output element (coalesced writes). Reads 4*NC*H*W bytes
// (each input read 4 times, from cache), writes 16*NC*H*W.
extern "C" __global__ void upsample_forward(float *y, const float *x, int NC, int H, int W) {
    long long total = (long long)NC * 4 * H * W;
    int W2 = 2 * W, H2 = 2 * H;
    for (long long i = grid_thread_id(); i < total; i += grid_threads()) {
        int ox = (int)(i % W2);
        long long r = i / W2;
        int oy = (int)(r % H2);
        long long nc = r / H2;
        y[i] = x[(nc * H + oy / 2) * W + ox / 2];
    }
}

// dy: (NC, 2H, 2W), dx: (NC, H, W); dx = sum of the 2x2 block of dy. Reads 16*NC*H*W bytes, writes 4*NC*H*W.
extern "C" __global__ void upsample_backward(float *dx, const float *dy, int NC, int H, int W) {
    long long total = (long long)NC * H * W;
    for (long long i = grid_thread_id(); i < total; i += grid_threads()) {
        int ix = (int)(i % W);
        long long r = i / W;
        int iy = (int)(r % H);
        long long nc = r / H;
        const float *d = dy + (nc * 2 * H + 2 * iy) * (2LL * W) + 2 * ix;
        dx[i] = (d[0] + d[1]) + (d[2 * W] + d[2 * W + 1]);
    }
}
