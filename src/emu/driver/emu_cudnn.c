// SPDX-License-Identifier: Apache-2.0
// Emulated libcudnn (cuDNN 9 legacy convolution API subset) for tests: the calls Cudnn.java binds, declared here from
// the cuDNN documentation (no cudnn.h on this machine). Convolutions are plain loops honouring NCHW, pads, strides, dilation.
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef enum {
    CUDNN_STATUS_SUCCESS = 0, CUDNN_STATUS_NOT_INITIALIZED = 1001, CUDNN_STATUS_BAD_PARAM = 2000,
    CUDNN_STATUS_NOT_SUPPORTED = 3000, CUDNN_STATUS_INTERNAL_ERROR = 4000, CUDNN_STATUS_EXECUTION_FAILED = 5000
} cudnnStatus_t;
enum { CUDNN_DATA_FLOAT = 0, CUDNN_TENSOR_NCHW = 0, CUDNN_CONVOLUTION = 0, CUDNN_CROSS_CORRELATION = 1 };
/* cuDNN's numbering. Backward ALGO_0 sums with atomics on a GPU (cuDNN reports it CUDNN_NON_DETERMINISTIC); ALGO_1 is
 * deterministic. The emulation runs both as the same loops but lists them as cuDNN does, ALGO_0 first. */
enum { FWD_IMPLICIT_GEMM = 0, FWD_GEMM = 2, BWD_DATA_ALGO_0 = 0, BWD_DATA_ALGO_1 = 1, BWD_FILTER_ALGO_0 = 0, BWD_FILTER_ALGO_1 = 1 };

typedef struct cudnnContext { void *stream; } *cudnnHandle_t;
typedef struct cudnnTensorStruct { int n, c, h, w, set; } *cudnnTensorDescriptor_t;
typedef struct cudnnFilterStruct { int k, c, h, w, set; } *cudnnFilterDescriptor_t;
typedef struct cudnnConvolutionStruct { int pad_h, pad_w, u, v, dil_h, dil_w, mode, math, set; } *cudnnConvolutionDescriptor_t;
/* Same layout as cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t: 48 bytes. */
typedef struct { int algo; int status; float time; size_t memory; int determinism; int mathType; int reserved[3]; } AlgoPerf;

static __thread char last_error[512];

static cudnnStatus_t bad(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return CUDNN_STATUS_BAD_PARAM;
}

EXPORT size_t cudnnGetVersion(void) { return 90100; }

EXPORT const char *cudnnGetErrorString(cudnnStatus_t s) {
    switch (s) {
        case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
        case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
        case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
        case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
        case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
        case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
        default: return "CUDNN_STATUS_UNKNOWN";
    }
}

EXPORT void cudnnGetLastErrorString(char *message, size_t max) {
    if (message && max) snprintf(message, max, "%s", last_error);
    last_error[0] = 0;
}

EXPORT cudnnStatus_t cudnnCreate(cudnnHandle_t *h) { *h = calloc(1, sizeof **h); return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnDestroy(cudnnHandle_t h) { if (!h) return CUDNN_STATUS_NOT_INITIALIZED; free(h); return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnSetStream(cudnnHandle_t h, void *s) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    h->stream = s;
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d) { *d = calloc(1, sizeof **d); return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) { free(d); return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, int format, int type, int n, int c, int h, int w) {
    if (format != CUDNN_TENSOR_NCHW || type != CUDNN_DATA_FLOAT) return bad("tensor: only NCHW float is emulated");
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0) return bad("tensor: dims must be positive, got %d,%d,%d,%d", n, c, h, w);
    *d = (struct cudnnTensorStruct){n, c, h, w, 1};
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d) { *d = calloc(1, sizeof **d); return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) { free(d); return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, int type, int format, int k, int c, int h, int w) {
    if (format != CUDNN_TENSOR_NCHW || type != CUDNN_DATA_FLOAT) return bad("filter: only NCHW float is emulated");
    if (k <= 0 || c <= 0 || h <= 0 || w <= 0) return bad("filter: dims must be positive, got %d,%d,%d,%d", k, c, h, w);
    *d = (struct cudnnFilterStruct){k, c, h, w, 1};
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d) { *d = calloc(1, sizeof **d); return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) { free(d); return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v,
                                                     int dil_h, int dil_w, int mode, int computeType) {
    if (computeType != CUDNN_DATA_FLOAT) return bad("convolution: only float compute is emulated");
    if (pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dil_h <= 0 || dil_w <= 0) return bad("convolution: bad pad/stride/dilation");
    if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION) return bad("convolution: bad mode %d", mode);
    *d = (struct cudnnConvolutionStruct){pad_h, pad_w, u, v, dil_h, dil_w, mode, 0, 1};
    return CUDNN_STATUS_SUCCESS;
}
EXPORT cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, int math) {
    // cudnnMathType_t: DEFAULT 0, TENSOR_OP 1, TENSOR_OP_ALLOW_CONVERSION 2, FMA 3 (all compute FP32 here)
    if (math < 0 || math > 3) return bad("convolution: bad math type %d", math);
    d->math = math;
    return CUDNN_STATUS_SUCCESS;
}

static int out_dim(int in, int pad, int f, int dil, int stride) { return 1 + (in + 2 * pad - ((f - 1) * dil + 1)) / stride; }

EXPORT cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t x,
                                                           cudnnFilterDescriptor_t w, int *n, int *k, int *h, int *wd) {
    if (!c->set || !x->set || !w->set) return bad("output dim: descriptor not set");
    if (x->c != w->c) return bad("output dim: input has %d channels, filter expects %d", x->c, w->c);
    *n = x->n; *k = w->k;
    *h = out_dim(x->h, c->pad_h, w->h, c->dil_h, c->u);
    *wd = out_dim(x->w, c->pad_w, w->w, c->dil_w, c->v);
    if (*h <= 0 || *wd <= 0) return bad("output dim: empty output %dx%d", *h, *wd);
    return CUDNN_STATUS_SUCCESS;
}

/* Checks x (N,C,H,W), w (K,C,R,S), y (N,K,OH,OW) agree with the convolution descriptor. */
static cudnnStatus_t check_shapes(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                  cudnnTensorDescriptor_t y) {
    int n, k, h, wd;
    cudnnStatus_t s = cudnnGetConvolution2dForwardOutputDim(c, x, w, &n, &k, &h, &wd);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (!y->set || y->n != n || y->c != k || y->h != h || y->w != wd)
        return bad("output tensor is (%d,%d,%d,%d), convolution gives (%d,%d,%d,%d)", y->n, y->c, y->h, y->w, n, k, h, wd);
    return CUDNN_STATUS_SUCCESS;
}

static size_t im2col_bytes(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t y) {
    return (size_t)x->c * w->h * w->w * y->h * y->w * sizeof(float);
}

static void perf(AlgoPerf *p, int algo, size_t memory, int deterministic) {
    memset(p, 0, sizeof *p);
    p->algo = algo; p->status = CUDNN_STATUS_SUCCESS; p->time = -1; p->memory = memory; p->determinism = deterministic;
}

EXPORT cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                                            cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y,
                                                            int requested, int *returned, AlgoPerf *results) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    cudnnStatus_t s = check_shapes(x, w, c, y);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    /* GEMM (im2col in the workspace) first, then the workspace-free implicit GEMM, as a real heuristic list looks. */
    int count = 0;
    if (count < requested) perf(&results[count++], FWD_GEMM, im2col_bytes(x, w, y), 1);
    if (count < requested) perf(&results[count++], FWD_IMPLICIT_GEMM, 0, 1);
    *returned = count;
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                                            cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y,
                                                            int algo, size_t *bytes) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    cudnnStatus_t s = check_shapes(x, w, c, y);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (algo == FWD_GEMM) *bytes = im2col_bytes(x, w, y);
    else if (algo == FWD_IMPLICIT_GEMM) *bytes = 0;
    else return CUDNN_STATUS_NOT_SUPPORTED;
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t h, cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t dy,
                                                                 cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t dx,
                                                                 int requested, int *returned, AlgoPerf *results) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    cudnnStatus_t s = check_shapes(dx, w, c, dy);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    int count = 0;
    if (count < requested) perf(&results[count++], BWD_DATA_ALGO_0, 0, 0);
    if (count < requested) perf(&results[count++], BWD_DATA_ALGO_1, 0, 1);
    *returned = count;
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t dy,
                                                                   cudnnConvolutionDescriptor_t c, cudnnFilterDescriptor_t dw,
                                                                   int requested, int *returned, AlgoPerf *results) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    cudnnStatus_t s = check_shapes(x, dw, c, dy);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    int count = 0;
    if (count < requested) perf(&results[count++], BWD_FILTER_ALGO_0, 0, 0);
    if (count < requested) perf(&results[count++], BWD_FILTER_ALGO_1, 0, 1);
    *returned = count;
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t h, cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t dy,
                                                                 cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t dx,
                                                                 int algo, size_t *bytes) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    cudnnStatus_t s = check_shapes(dx, w, c, dy);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (algo != BWD_DATA_ALGO_0 && algo != BWD_DATA_ALGO_1) return CUDNN_STATUS_NOT_SUPPORTED;
    *bytes = 0;
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t dy,
                                                                   cudnnConvolutionDescriptor_t c, cudnnFilterDescriptor_t dw,
                                                                   int algo, size_t *bytes) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    cudnnStatus_t s = check_shapes(x, dw, c, dy);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (algo != BWD_FILTER_ALGO_0 && algo != BWD_FILTER_ALGO_1) return CUDNN_STATUS_NOT_SUPPORTED;
    *bytes = 0;
    return CUDNN_STATUS_SUCCESS;
}

/* Input row/col of output position (o) and filter tap (r), or -1 when it falls in the padding. */
static int in_pos(int o, int r, int stride, int pad, int dil, int extent) {
    int i = o * stride - pad + r * dil;
    return i >= 0 && i < extent ? i : -1;
}

/* Filter index of tap (r, s): cross-correlation uses it as is, true convolution flips the filter. */
static size_t w_index(cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c, int k, int ch, int r, int s) {
    if (c->mode == CUDNN_CONVOLUTION) { r = w->h - 1 - r; s = w->w - 1 - s; }
    return (((size_t)k * w->c + ch) * w->h + r) * w->w + s;
}

/* dst = alpha * acc + beta * dst, where beta == 0 means dst is not read (cuDNN's blending rule). */
static void blend(float *dst, const double *acc, size_t n, float alpha, float beta) {
    for (size_t i = 0; i < n; i++) dst[i] = beta == 0.0f ? (float)(alpha * acc[i]) : (float)(alpha * acc[i] + beta * dst[i]);
}

EXPORT cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const float *alpha, cudnnTensorDescriptor_t xd, const float *x,
                                             cudnnFilterDescriptor_t wd, const float *w, cudnnConvolutionDescriptor_t c,
                                             int algo, void *ws, size_t ws_bytes, const float *beta,
                                             cudnnTensorDescriptor_t yd, float *y) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    cudnnStatus_t s = check_shapes(xd, wd, c, yd);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (algo != FWD_GEMM && algo != FWD_IMPLICIT_GEMM) return CUDNN_STATUS_NOT_SUPPORTED;
    size_t need = algo == FWD_GEMM ? im2col_bytes(xd, wd, yd) : 0;
    if (ws_bytes < need || (need && !ws)) return bad("forward GEMM: workspace of %zu bytes given, %zu needed", ws_bytes, need);
    int C = xd->c, H = xd->h, W = xd->w, K = wd->k, R = wd->h, S = wd->w, OH = yd->h, OW = yd->w;
    size_t plane = (size_t)OH * OW, cols = (size_t)C * R * S;
    double *acc = malloc(sizeof(double) * K * plane);
    float *col = algo == FWD_GEMM ? ws : malloc(sizeof(float) * cols * plane);
    for (int n = 0; n < xd->n; n++) {
        /* 1. im2col: col[(ch,r,s), (oh,ow)] (in the workspace for the GEMM algorithm) */
        for (int ch = 0; ch < C; ch++) for (int r = 0; r < R; r++) for (int q = 0; q < S; q++) {
            float *row = col + (((size_t)ch * R + r) * S + q) * plane;
            for (int oh = 0; oh < OH; oh++) {
                int ih = in_pos(oh, r, c->u, c->pad_h, c->dil_h, H);
                for (int ow = 0; ow < OW; ow++) {
                    int iw = in_pos(ow, q, c->v, c->pad_w, c->dil_w, W);
                    row[oh * OW + ow] = ih < 0 || iw < 0 ? 0.0f : x[(((size_t)n * C + ch) * H + ih) * W + iw];
                }
            }
        }
        /* 2. y[k, p] = sum_j w[k, j] * col[j, p] */
        for (int k = 0; k < K; k++) {
            double *a = acc + (size_t)k * plane;
            for (size_t p = 0; p < plane; p++) a[p] = 0;
            for (int ch = 0; ch < C; ch++) for (int r = 0; r < R; r++) for (int q = 0; q < S; q++) {
                double wv = w[w_index(wd, c, k, ch, r, q)];
                const float *row = col + (((size_t)ch * R + r) * S + q) * plane;
                for (size_t p = 0; p < plane; p++) a[p] += wv * row[p];
            }
        }
        blend(y + (size_t)n * K * plane, acc, (size_t)K * plane, *alpha, *beta);
    }
    if (algo != FWD_GEMM) free(col);
    free(acc);
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const float *alpha, cudnnFilterDescriptor_t wd, const float *w,
                                                  cudnnTensorDescriptor_t dyd, const float *dy, cudnnConvolutionDescriptor_t c,
                                                  int algo, void *ws, size_t ws_bytes, const float *beta,
                                                  cudnnTensorDescriptor_t dxd, float *dx) {
    (void)ws; (void)ws_bytes;
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    cudnnStatus_t s = check_shapes(dxd, wd, c, dyd);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (algo != BWD_DATA_ALGO_0 && algo != BWD_DATA_ALGO_1) return CUDNN_STATUS_NOT_SUPPORTED;
    int N = dxd->n, C = dxd->c, H = dxd->h, W = dxd->w, K = wd->k, R = wd->h, S = wd->w, OH = dyd->h, OW = dyd->w;
    size_t total = (size_t)N * C * H * W;
    double *acc = calloc(total, sizeof(double));
    /* dx[n, ch, ih, iw] += dy[n, k, oh, ow] * w[k, ch, r, s] for every (oh, r) with ih = oh*u - pad + r*dil */
    for (int n = 0; n < N; n++) for (int k = 0; k < K; k++) for (int ch = 0; ch < C; ch++)
        for (int r = 0; r < R; r++) for (int q = 0; q < S; q++) {
            double wv = w[w_index(wd, c, k, ch, r, q)];
            const float *g = dy + ((size_t)n * K + k) * OH * OW;
            double *d = acc + ((size_t)n * C + ch) * H * W;
            for (int oh = 0; oh < OH; oh++) {
                int ih = in_pos(oh, r, c->u, c->pad_h, c->dil_h, H);
                if (ih < 0) continue;
                for (int ow = 0; ow < OW; ow++) {
                    int iw = in_pos(ow, q, c->v, c->pad_w, c->dil_w, W);
                    if (iw >= 0) d[ih * W + iw] += wv * g[oh * OW + ow];
                }
            }
        }
    blend(dx, acc, total, *alpha, *beta);
    free(acc);
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const float *alpha, cudnnTensorDescriptor_t xd, const float *x,
                                                    cudnnTensorDescriptor_t dyd, const float *dy, cudnnConvolutionDescriptor_t c,
                                                    int algo, void *ws, size_t ws_bytes, const float *beta,
                                                    cudnnFilterDescriptor_t dwd, float *dw) {
    (void)ws; (void)ws_bytes;
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    cudnnStatus_t s = check_shapes(xd, dwd, c, dyd);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (algo != BWD_FILTER_ALGO_0 && algo != BWD_FILTER_ALGO_1) return CUDNN_STATUS_NOT_SUPPORTED;
    int N = xd->n, C = xd->c, H = xd->h, W = xd->w, K = dwd->k, R = dwd->h, S = dwd->w, OH = dyd->h, OW = dyd->w;
    size_t total = (size_t)K * C * R * S;
    double *acc = calloc(total, sizeof(double));
    /* dw[k, ch, r, s] = sum over n, oh, ow of dy[n, k, oh, ow] * x[n, ch, ih, iw] */
    for (int k = 0; k < K; k++) for (int ch = 0; ch < C; ch++) for (int r = 0; r < R; r++) for (int q = 0; q < S; q++) {
        double sum = 0;
        for (int n = 0; n < N; n++) {
            const float *g = dy + ((size_t)n * K + k) * OH * OW;
            const float *xi = x + ((size_t)n * C + ch) * H * W;
            for (int oh = 0; oh < OH; oh++) {
                int ih = in_pos(oh, r, c->u, c->pad_h, c->dil_h, H);
                if (ih < 0) continue;
                for (int ow = 0; ow < OW; ow++) {
                    int iw = in_pos(ow, q, c->v, c->pad_w, c->dil_w, W);
                    if (iw >= 0) sum += (double)g[oh * OW + ow] * xi[ih * W + iw];
                }
            }
        }
        acc[w_index(dwd, c, k, ch, r, q)] = sum;
    }
    blend(dw, acc, total, *alpha, *beta);
    free(acc);
    return CUDNN_STATUS_SUCCESS;
}
