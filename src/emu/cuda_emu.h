// SPDX-License-Identifier: Apache-2.0
// Host emulation of the CUDA C++ kernel language: g++ -std=c++20 -x c++ -include cuda_emu.h compiles src/cuda/*.cu
// unchanged. Each CUDA thread is a fiber (cuda_emu.cpp + switch_x86_64.S); blocks run on their own host threads.
#pragma once
#ifndef DDPM4J_EMU
#define DDPM4J_EMU 1
#endif

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <math.h>
#include <type_traits>
#include <utility>

// ---- qualifiers -------------------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __constant__ const
// `__shared__ float t[256];` becomes a block-scope thread_local (implicitly static): one copy per host thread, and a
// host thread runs one block at a time, so one copy per block in flight. `extern __shared__ float smem[];` declares
// the dynamic shared buffer defined in cuda_emu.cpp (the kernels always name it `smem`; size = shared_bytes).
#define __shared__ thread_local

struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace emu {
// Indices of the fiber now running on this host thread; set by the scheduler before each switch into a fiber.
extern thread_local uint3 thread_idx, block_idx;
extern thread_local dim3 block_dim, grid_dim;
void syncthreads();                               // block barrier
void syncwarp();                                  // warp barrier
unsigned long long warp_exchange(unsigned long long v, int src_lane, int op);   // op 0: read src lane's value
unsigned warp_ballot(bool pred);
int lane_id();
void register_kernel(const char *name, void (*thunk)(void **));

template <typename T>
__forceinline__ unsigned long long to_bits(T v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of an unsupported type");
    unsigned long long b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <typename T>
__forceinline__ T from_bits(unsigned long long b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}

// Unpacks cuLaunchKernel's void** (params[i] points at argument i) by the kernel's own parameter types.
template <auto F> struct Thunk;
template <typename... A, void (*F)(A...)> struct Thunk<F> {
    template <std::size_t... I> static void call(void **p, std::index_sequence<I...>) {
        F(*static_cast<std::remove_cv_t<std::remove_reference_t<A>> *>(p[I])...);
    }
    static void run(void **p) { call(p, std::index_sequence_for<A...>{}); }
};
struct Registrar {
    Registrar(const char *name, void (*thunk)(void **)) { register_kernel(name, thunk); }
};
}  // namespace emu

// Registration of one kernel by name (the build generates one line per `extern "C" __global__` of each .cu).
#define DDPM4J_EMU_REGISTER(fn) static ::emu::Registrar ddpm4j_emu_reg_##fn(#fn, &::emu::Thunk<&fn>::run);

#define threadIdx (::emu::thread_idx)
#define blockIdx (::emu::block_idx)
#define blockDim (::emu::block_dim)
#define gridDim (::emu::grid_dim)
static constexpr int warpSize = 32;

// ---- synchronisation and warp functions ---------------------------------------------------------------------------
#define __syncthreads() ::emu::syncthreads()
inline void __syncwarp(unsigned = 0xffffffffu) { emu::syncwarp(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() {}

// Partial masks are not modelled: every live lane of the warp must take part (as in all of this project's kernels).
template <typename T> inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
    int lane = emu::lane_id();
    int s = (lane & ~(width - 1)) + (src & (width - 1));
    return emu::from_bits<T>(emu::warp_exchange(emu::to_bits(v), s, 0));
}
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
    int lane = emu::lane_id();
    int s = lane ^ mask;
    if ((s & ~(width - 1)) != (lane & ~(width - 1))) s = lane;
    return emu::from_bits<T>(emu::warp_exchange(emu::to_bits(v), s, 0));
}
template <typename T> inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
    int lane = emu::lane_id();
    int s = lane + (int)delta;
    if ((s & ~(width - 1)) != (lane & ~(width - 1))) s = lane;
    return emu::from_bits<T>(emu::warp_exchange(emu::to_bits(v), s, 0));
}
template <typename T> inline T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
    int lane = emu::lane_id();
    int s = lane - (int)delta;
    if (s < (lane & ~(width - 1))) s = lane;
    return emu::from_bits<T>(emu::warp_exchange(emu::to_bits(v), s, 0));
}
inline unsigned __ballot_sync(unsigned, int pred) { return emu::warp_ballot(pred != 0); }
inline int __any_sync(unsigned, int pred) { return emu::warp_ballot(pred != 0) != 0; }
inline int __all_sync(unsigned m, int pred) { return __any_sync(m, !pred) == 0; }

// ---- atomics (blocks run on different host threads) ---------------------------------------------------------------
template <typename T> inline T atomicAdd(T *p, T v) { return std::atomic_ref<T>(*p).fetch_add(v); }
inline float atomicAdd(float *p, float v) {
    std::atomic_ref<float> r(*p);
    float old = r.load();
    while (!r.compare_exchange_weak(old, old + v)) {}
    return old;
}
template <typename T> inline T atomicExch(T *p, T v) { return std::atomic_ref<T>(*p).exchange(v); }
template <typename T> inline T atomicCAS(T *p, T cmp, T v) {
    std::atomic_ref<T>(*p).compare_exchange_strong(cmp, v);
    return cmp;
}
template <typename T> inline T atomicMax(T *p, T v) {
    std::atomic_ref<T> r(*p);
    T old = r.load();
    while (old < v && !r.compare_exchange_weak(old, v)) {}
    return old;
}
template <typename T> inline T atomicMin(T *p, T v) {
    std::atomic_ref<T> r(*p);
    T old = r.load();
    while (v < old && !r.compare_exchange_weak(old, v)) {}
    return old;
}
template <typename T> inline T atomicAnd(T *p, T v) { return std::atomic_ref<T>(*p).fetch_and(v); }
template <typename T> inline T atomicOr(T *p, T v) { return std::atomic_ref<T>(*p).fetch_or(v); }

// ---- math: IEEE single precision, correctly rounded basic ops (g++ -ffp-contract=off never fuses) -----------------
template <typename T> inline T __ldg(const T *p) { return *p; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned i; std::memcpy(&i, &f, 4); return i; }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
using std::isfinite;
using std::isinf;
using std::isnan;
