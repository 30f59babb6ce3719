// SPDX-License-Identifier: Apache-2.0
// Wall-clock timings of a few kernels on the host emulation (not a GPU benchmark: it shows what test sizes cost).
// Build and run: g++ -O2 -std=c++20 src/emu/emu_bench.cpp -o /tmp/emu_bench -ldl && /tmp/emu_bench kernels/target/emu/libddpm4j_cudaemu_kernels.so
#include <dlfcn.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <vector>

using Launch = int (*)(const char *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void **);
static Launch launch;

static double cpu_ms() {   // CPU time of the whole process (all emulation workers)
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void timed(const char *what, const char *kernel, unsigned gx, unsigned gy, unsigned bx, unsigned by,
                  unsigned smem, void **args) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_ms();
    int rc = launch(kernel, gx, gy, 1, bx, by, 1, smem, args);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-40s %-28s grid (%u,%u) block (%u,%u): wall %8.1f ms, cpu %8.1f ms%s\n", what, kernel, gx, gy, bx,
                by, ms, cpu_ms() - c0, rc ? "  FAILED" : "");
}

int main(int argc, char **argv) {
    void *h = dlopen(argc > 1 ? argv[1] : "kernels/target/emu/libddpm4j_cudaemu_kernels.so", RTLD_NOW);
    if (!h) { std::fprintf(stderr, "%s\n", dlerror()); return 1; }
    launch = reinterpret_cast<Launch>(dlsym(h, "ddpm4j_emu_launch"));
    int n = 1 << 20;
    std::vector<float> a(n, 0.5f), b(n, 0.25f), c(n), d(n), e(n);
    float *pa = a.data(), *pb = b.data(), *pc = c.data(), *pd = d.data(), *pe = e.data();
    float s = 2.0f, t = 1.0f;
    void *aff[] = {&pc, &pa, &s, &t, &n};
    timed("affine, 2^20 floats", "affine_forward", 4096, 1, 256, 1, 0, aff);
    unsigned long long seed = 1, off = 0;
    void *phx[] = {&pc, &seed, &off, &n};
    timed("Philox normals, 2^20", "philox_normal_forward", 1024, 1, 256, 1, 0, phx);
    int outer = 1024, r = 1024, inner = 1;
    void *sum[] = {&pc, &pa, &outer, &r, &inner};
    timed("sum over rows, (1024, 1024, 1)", "sum_forward", 1, 1024, 32, 8, 0, sum);
    int rows = 1024, cols = 1024;
    void *sm[] = {&pc, &pa, &rows, &cols};
    timed("softmax, 1024 x 1024", "softmax_forward", 1024, 1, 256, 1, 0, sm);
    int N = 4, C = 128, HW = 256, G = 32, silu = 1;
    float eps = 1e-5f;
    void *gn[] = {&pc, &pd, &pe, &pa, &pb, &pb, &N, &C, &HW, &G, &eps, &silu};
    timed("GroupNorm+SiLU, N4 C128 16x16 G32", "groupnorm_forward", (unsigned)(N * G), 1, 256, 1, 0, gn);
    int B = 1, L = 256, Ch = 64;
    float scale = 0.125f;
    void *att[] = {&pc, &pd, &pa, &pa, &pb, &B, &L, &Ch, &scale};
    timed("attention fwd, B1 L256 C64", "attention_forward", (unsigned)(L + 7) / 8, (unsigned)B, 256, 1,
          (unsigned)(64 * Ch), att);
    void *dq[] = {&pe, &pb, &pa, &pa, &pb, &pd, &pd, &B, &L, &Ch, &scale};
    timed("attention dq, B1 L256 C64", "attention_backward_dq", (unsigned)(L + 7) / 8, (unsigned)B, 256, 1,
          (unsigned)(64 * Ch), dq);
    int one = 32;
    float v = 1.0f;
    void *fill[] = {&pc, &v, &one};
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; i++) launch("fill_forward", 1, 1, 1, 32, 1, 1, 0, fill);
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 1000;
    std::printf("%-44s %-30s grid (1,1) block (32,1): %9.1f us per launch\n", "launch overhead (1000 tiny launches)",
                "fill_forward", us);
    return 0;
}
