// SPDX-License-Identifier: Apache-2.0
// Philox4x32-10 uniform and normal fills reproducing core/src/main/java/ddpm4j/core/Philox.java bit for bit: the same
// counter layout, and its log / sin / cos polynomials with every + - * / spelled as a round-to-nearest intrinsic, so
// no multiply-add is ever fused whatever nvcc's -fmad setting. Launcher: kernels/.../cuda/CudaPhilox.java.
#include "common.cuh"

struct Words4 { unsigned w[4]; };

// Ten rounds on counter (k lo, k hi, 0, 0) with key (seed lo, seed hi), as Philox.block(seed, k, out).
__device__ __forceinline__ Words4 philox_block(unsigned long long seed, unsigned long long k) {
    unsigned c0 = (unsigned)k, c1 = (unsigned)(k >> 32), c2 = 0u, c3 = 0u;
    unsigned k0 = (unsigned)seed, k1 = (unsigned)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        unsigned hi0 = __umulhi(c0, 0xD2511F53u), lo0 = c0 * 0xD2511F53u;
        unsigned hi1 = __umulhi(c2, 0xCD9E8D57u), lo1 = c2 * 0xCD9E8D57u;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    Words4 r;
    r.w[0] = c0; r.w[1] = c1; r.w[2] = c2; r.w[3] = c3;
    return r;
}

#define FMUL(a, b) __fmul_rn((a), (b))
#define FADD(a, b) __fadd_rn((a), (b))
#define FSUB(a, b) __fsub_rn((a), (b))

// Philox.log: x = m 2^e, m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m-1)/(m+1)) as an odd series.
__device__ __forceinline__ float philox_log(float x) {
    int bits = __float_as_int(x);
    int e = (int)(((unsigned)bits >> 23) & 0xFFu) - 127;
    float m = __int_as_float((bits & 0x007FFFFF) | 0x3F800000);
    if (m > 1.41421356f) { m = FMUL(m, 0.5f); e = e + 1; }
    float s = __fdiv_rn(FSUB(m, 1.0f), FADD(m, 1.0f));
    float s2 = FMUL(s, s);
    float p = 0.11111111f;
    p = FADD(FMUL(p, s2), 0.14285715f);
    p = FADD(FMUL(p, s2), 0.2f);
    p = FADD(FMUL(p, s2), 0.33333334f);
    p = FADD(FMUL(p, s2), 1.0f);
    float lnm = FMUL(FMUL(2.0f, s), p);
    float fe = (float)e;
    return FADD(FMUL(fe, 0.69314575f), FADD(FMUL(fe, 1.4286068e-6f), lnm));
}

// Philox.sinCos2pi: u = q/4 + f with |f| <= 1/8, Taylor series on theta = 2 pi f.
__device__ __forceinline__ float philox_sincos2pi(float u, bool want_sin) {
    int q = (int)FADD(FMUL(u, 4.0f), 0.5f);
    float f = FSUB(u, FMUL((float)q, 0.25f));
    float t = FMUL(f, 6.2831855f);
    float t2 = FMUL(t, t);
    float s = -2.5052108e-8f;
    s = FADD(FMUL(s, t2), 2.7557319e-6f);
    s = FSUB(FMUL(s, t2), 1.9841270e-4f);
    s = FADD(FMUL(s, t2), 8.3333333e-3f);
    s = FSUB(FMUL(s, t2), 0.16666667f);
    s = FADD(FMUL(s, t2), 1.0f);
    float sn = FMUL(s, t);
    float c = 2.0876757e-9f;
    c = FSUB(FMUL(c, t2), 2.7557319e-7f);
    c = FADD(FMUL(c, t2), 2.4801587e-5f);
    c = FSUB(FMUL(c, t2), 1.3888889e-3f);
    c = FADD(FMUL(c, t2), 4.1666667e-2f);
    c = FSUB(FMUL(c, t2), 0.5f);
    c = FADD(FMUL(c, t2), 1.0f);
    switch (q & 3) {
        case 0: return want_sin ? sn : c;
        case 1: return want_sin ? c : -sn;
        case 2: return want_sin ? -sn : -c;
        default: return want_sin ? -c : sn;
    }
}

// Box-Muller on a word pair: u1 in (0, 1] (log never sees 0), u2 in [0, 1); z = r cos(2 pi u2), r sin(2 pi u2).
__device__ __forceinline__ void philox_box_muller(unsigned wa, unsigned wb, float *z) {
    float u1 = FMUL((float)((wa >> 8) + 1u), 0x1p-24f);
    float u2 = FMUL((float)(wb >> 8), 0x1p-24f);
    float r = __fsqrt_rn(FMUL(-2.0f, philox_log(u1)));
    z[0] = FMUL(r, philox_sincos2pi(u2, false));
    z[1] = FMUL(r, philox_sincos2pi(u2, true));
}

// Element offset+i of the stream lies in Philox block (offset+i) >> 2, lane (offset+i) & 3; one thread per block
// writes its up to four elements. out: (n). Writes 4n bytes; ~10 integer multiplies per 4 elements.
template <bool NORMAL>
__device__ __forceinline__ void philox_fill(float *out, unsigned long long seed, unsigned long long offset, int n) {
    if (n <= 0) return;
    unsigned long long first = offset >> 2, last = (offset + (unsigned long long)n - 1) >> 2;
    for (unsigned long long k = first + (unsigned long long)grid_thread_id(); k <= last;
         k += (unsigned long long)grid_threads()) {
        Words4 w = philox_block(seed, k);
        float z[4];
        if (NORMAL) {
            philox_box_muller(w.w[0], w.w[1], z);
            philox_box_muller(w.w[2], w.w[3], z + 2);
        } else {
            for (int j = 0; j < 4; j++) z[j] = FMUL((float)(w.w[j] >> 8), 0x1p-24f);
        }
        for (int j = 0; j < 4; j++) {
            unsigned long long idx = 4 * k + (unsigned long long)j;
            if (idx >= offset && idx - offset < (unsigned long long)n) out[idx - offset] = z[j];
        }
    }
}

extern "C" __global__ void philox_uniform_forward(float *out, unsigned long long seed, unsigned long long offset,
                                                  int n) {
    philox_fill<false>(out, seed, offset, n);
}

extern "C" __global__ void philox_normal_forward(float *out, unsigned long long seed, unsigned long long offset,
                                                 int n) {
    philox_fill<true>(out, seed, offset, n);
}
