// SPDX-License-Identifier: Apache-2.0
// Runtime of the CUDA host emulation (cuda_emu.h): kernel registry, ddpm4j_emu_launch with cuLaunchKernel's argument
// packing, blocks on worker threads, one fiber per CUDA thread, block and warp barriers, deadlock detection.
#include "cuda_emu.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

extern "C" void ddpm4j_emu_switch(void **from, void *to);

static constexpr std::size_t kMaxDynamicShared = 227 * 1024;   // the largest opt-in on sm_90
// The dynamic shared buffer (`extern __shared__ float smem[];` in the kernels): one per host thread = block in flight.
alignas(16) thread_local float smem[kMaxDynamicShared / sizeof(float)];

namespace emu {
thread_local uint3 thread_idx, block_idx;
thread_local dim3 block_dim, grid_dim;

namespace {
constexpr std::size_t kStackBytes = 64 * 1024;
constexpr std::size_t kGuardBytes = 4096;

std::unordered_map<std::string, void (*)(void **)> &registry() {
    static std::unordered_map<std::string, void (*)(void **)> r;
    return r;
}

struct Fiber {
    void *sp = nullptr;
    uint3 idx{};
    bool done = false;
    unsigned warp_ops = 0;   // parity picks the exchange buffer: one warp barrier per shuffle suffices
    int wait = 0;            // 0 runnable, 1 at the block barrier, 2 at its warp's barrier
    unsigned wait_gen = 0;   // the barrier generation it waits to see pass (the scheduler skips it until then)
};

struct Warp {
    int arrived = 0, live = 0;
    unsigned gen = 0;
    unsigned long long buf[2][32] = {};
};

// Fiber stacks of one worker, reused across blocks and launches (guard page below each stack).
struct Stacks {
    char *base = nullptr;
    std::size_t count = 0;
    char *top(std::size_t i) const { return base + (i + 1) * (kStackBytes + kGuardBytes); }
};
std::mutex stacks_mu;
std::vector<Stacks> free_stacks;

bool take_stacks(std::size_t n, Stacks &out) {
    {
        std::lock_guard<std::mutex> g(stacks_mu);
        for (std::size_t i = 0; i < free_stacks.size(); i++) {
            if (free_stacks[i].count >= n) {
                out = free_stacks[i];
                free_stacks.erase(free_stacks.begin() + (long)i);
                return true;
            }
        }
    }
    std::size_t stride = kStackBytes + kGuardBytes;
    void *p = mmap(nullptr, n * stride, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    for (std::size_t i = 0; i < n; i++) mprotect(static_cast<char *>(p) + i * stride, kGuardBytes, PROT_NONE);
    out.base = static_cast<char *>(p);
    out.count = n;
    return true;
}

void give_stacks(const Stacks &s) {
    std::lock_guard<std::mutex> g(stacks_mu);
    free_stacks.push_back(s);
}

// State of one launch, shared by its workers.
struct Launch {
    const char *name;
    void (*thunk)(void **);
    void **params;
    dim3 grid, block;
    std::atomic<long long> next_block{0};
    std::atomic<bool> failed{false};
    std::mutex err_mu;
    std::string error;
};

// One host thread running blocks of a launch, one block at a time.
struct Worker {
    Launch *launch = nullptr;
    std::vector<Fiber> fibers;
    std::vector<Warp> warps;
    Stacks stacks;
    void *sched_sp = nullptr;
    int cur = 0, nthreads = 0, live = 0;
    int bar_arrived = 0;
    unsigned bar_gen = 0;
    void *bar_site = nullptr;
    bool progress = false;
    std::string fault;   // set by a fiber that detected misuse (divergent barrier)
};
thread_local Worker *W = nullptr;

[[noreturn]] void yield_forever() {
    for (;;) ddpm4j_emu_switch(&W->fibers[W->cur].sp, W->sched_sp);
}

void yield() { ddpm4j_emu_switch(&W->fibers[W->cur].sp, W->sched_sp); }

void warp_release_if_complete(Warp &wp) {
    if (wp.arrived > 0 && wp.arrived == wp.live) {
        wp.arrived = 0;
        wp.gen++;
        W->progress = true;
    }
}

void warp_barrier() {
    Worker &w = *W;
    Warp &wp = w.warps[w.cur / 32];
    Fiber &f = w.fibers[w.cur];
    unsigned my = wp.gen;
    wp.arrived++;
    warp_release_if_complete(wp);
    if (wp.gen != my) return;
    f.wait = 2;
    f.wait_gen = my;
    yield();   // resumed only once the generation has moved on
    f.wait = 0;
}

void fiber_main() {
    Worker &w = *W;
    w.launch->thunk(w.launch->params);
    Fiber &f = w.fibers[w.cur];
    f.done = true;
    w.live--;
    w.progress = true;
    Warp &wp = w.warps[w.cur / 32];
    wp.live--;
    warp_release_if_complete(wp);   // lanes that exit no longer hold up their warp's shuffles
    yield_forever();
}

std::string describe_block(const Launch &l) {
    char b[160];
    std::snprintf(b, sizeof b, "kernel %s block (%u,%u,%u) of grid (%u,%u,%u), block (%u,%u,%u)", l.name,
                  block_idx.x, block_idx.y, block_idx.z, l.grid.x, l.grid.y, l.grid.z, l.block.x, l.block.y,
                  l.block.z);
    return b;
}

// Runs every thread of the block at blockIdx as fibers until all exit; returns false (with a message) on deadlock.
bool run_block(Worker &w, std::string &err) {
    const dim3 b = w.launch->block;
    int n = w.nthreads;
    for (int t = 0; t < n; t++) {
        Fiber &f = w.fibers[t];
        f.done = false;
        f.warp_ops = 0;
        f.wait = 0;
        f.idx = uint3{(unsigned)t % b.x, ((unsigned)t / b.x) % b.y, (unsigned)t / (b.x * b.y)};
        // A fresh stack whose first switch "returns" into fiber_main with the ABI's alignment (rsp % 16 == 8).
        // Stack tops 68 KiB apart would all map to the same L1 sets; shift each by a colour of up to 4 KiB.
        auto *top = reinterpret_cast<void **>(w.stacks.top((std::size_t)t) - (std::size_t)(t % 32) * 128);
        top[-1] = nullptr;
        top[-2] = reinterpret_cast<void *>(&fiber_main);
        for (int r = 3; r <= 8; r++) top[-r] = nullptr;
        f.sp = top - 8;
    }
    for (std::size_t i = 0; i < w.warps.size(); i++) {
        w.warps[i] = Warp{};
        w.warps[i].live = std::min(32, n - (int)i * 32);
    }
    w.live = n;
    w.bar_arrived = 0;
    w.bar_site = nullptr;
    w.fault.clear();
    while (w.live > 0) {
        w.progress = false;
        for (int t = 0; t < n && w.fault.empty(); t++) {
            const Fiber &f = w.fibers[t];
            if (f.done || (f.wait == 1 && f.wait_gen == w.bar_gen) ||
                (f.wait == 2 && f.wait_gen == w.warps[(std::size_t)t / 32].gen))
                continue;   // still blocked: no switch needed to find that out
            w.progress = true;
            w.cur = t;
            thread_idx = w.fibers[t].idx;
            ddpm4j_emu_switch(&w.sched_sp, w.fibers[t].sp);
        }
        if (!w.fault.empty()) {
            err = describe_block(*w.launch) + ": " + w.fault;
            return false;
        }
        if (!w.progress) {
            int at_warp = 0;
            for (auto &wp : w.warps) at_warp += wp.arrived;
            char m[256];
            std::snprintf(m, sizeof m,
                          ": deadlock: %d of %d threads wait at __syncthreads, %d at a warp shuffle/__syncwarp, %d "
                          "exited (a __syncthreads not reached by every thread of the block)",
                          w.bar_arrived, n, at_warp, n - w.live);
            err = describe_block(*w.launch) + m;
            return false;
        }
    }
    return true;
}

// Runs blocks of launch l on this worker until none is left. The worker's fibers and stacks outlive launches.
void run_launch(Worker &w, Launch *l) {
    W = &w;
    w.launch = l;
    w.nthreads = (int)(l->block.x * l->block.y * l->block.z);
    w.fibers.resize((std::size_t)w.nthreads);
    w.warps.resize((std::size_t)(w.nthreads + 31) / 32);
    if (w.stacks.count < (std::size_t)w.nthreads) {
        if (w.stacks.count > 0) give_stacks(w.stacks);
        w.stacks = Stacks{};
        if (!take_stacks((std::size_t)w.nthreads, w.stacks)) {
            std::lock_guard<std::mutex> g(l->err_mu);
            if (!l->failed.exchange(true)) l->error = "cannot map fiber stacks";
            return;
        }
    }
    block_dim = l->block;
    grid_dim = l->grid;
    long long total = (long long)l->grid.x * l->grid.y * l->grid.z;
    while (!l->failed.load()) {
        long long bi = l->next_block.fetch_add(1);
        if (bi >= total) break;
        block_idx = uint3{(unsigned)(bi % l->grid.x), (unsigned)((bi / l->grid.x) % l->grid.y),
                          (unsigned)(bi / ((long long)l->grid.x * l->grid.y))};
        std::string err;
        if (!run_block(w, err)) {   // the failed block's fibers are abandoned; their stacks own nothing
            std::lock_guard<std::mutex> g(l->err_mu);
            if (!l->failed.exchange(true)) l->error = err;
            break;
        }
    }
    W = nullptr;
}

// Host threads that run blocks, started on the first launch and kept (never the caller's thread: a JVM thread's
// stack and signal handling stay out of the fibers). One launch at a time; every worker joins each launch.
struct Pool {
    std::mutex launch_mu, mu;
    std::condition_variable start_cv, done_cv;
    Launch *job = nullptr;
    unsigned long long epoch = 0;
    int running = 0, size = 0;
};

Pool &pool() {
    static Pool *p = [] {
        auto *q = new Pool();   // deliberately leaked: workers block in it until the process exits
        long long n = std::thread::hardware_concurrency();
        if (const char *e = std::getenv("DDPM4J_EMU_THREADS")) n = std::atoll(e);
        q->size = (int)std::max(1LL, std::min(n, 64LL));
        for (int i = 0; i < q->size; i++)
            std::thread([q] {
                Worker w;
                unsigned long long seen = 0;
                for (;;) {
                    Launch *l;
                    {
                        std::unique_lock<std::mutex> lk(q->mu);
                        q->start_cv.wait(lk, [&] { return q->epoch != seen; });
                        seen = q->epoch;
                        l = q->job;
                    }
                    run_launch(w, l);
                    std::lock_guard<std::mutex> lk(q->mu);
                    if (--q->running == 0) q->done_cv.notify_all();
                }
            }).detach();
        return q;
    }();
    return *p;
}

void run_on_pool(Launch &l) {
    Pool &p = pool();
    std::lock_guard<std::mutex> one_launch(p.launch_mu);
    std::unique_lock<std::mutex> lk(p.mu);
    p.job = &l;
    p.running = p.size;
    p.epoch++;
    p.start_cv.notify_all();
    p.done_cv.wait(lk, [&] { return p.running == 0; });
    p.job = nullptr;
}

thread_local std::string last_error;

int fail(int code, const std::string &msg) {
    last_error = msg;
    return code;
}

}  // namespace

void register_kernel(const char *name, void (*thunk)(void **)) { registry()[name] = thunk; }

int lane_id() { return W->cur & 31; }

void syncthreads() {
    Worker &w = *W;
    void *site = __builtin_return_address(0);
    if (w.bar_arrived == 0) {
        w.bar_site = site;
    } else if (site != w.bar_site) {
        w.fault = "divergent __syncthreads: threads of one block wait at two different barriers";
        yield_forever();
    }
    unsigned my = w.bar_gen;
    if (++w.bar_arrived == w.nthreads) {   // exited threads never arrive: strict, as the CUDA guide asks
        w.bar_arrived = 0;
        w.bar_gen++;
        return;
    }
    Fiber &f = w.fibers[w.cur];
    f.wait = 1;
    f.wait_gen = my;
    yield();
    f.wait = 0;
}

void syncwarp() {
    W->fibers[W->cur].warp_ops++;
    warp_barrier();
}

unsigned long long warp_exchange(unsigned long long v, int src_lane, int) {
    Worker &w = *W;
    Fiber &f = w.fibers[w.cur];
    Warp &wp = w.warps[w.cur / 32];
    unsigned p = f.warp_ops++ & 1u;
    wp.buf[p][w.cur & 31] = v;
    warp_barrier();
    return wp.buf[p][src_lane & 31];
}

unsigned warp_ballot(bool pred) {
    Worker &w = *W;
    Fiber &f = w.fibers[w.cur];
    Warp &wp = w.warps[w.cur / 32];
    unsigned p = f.warp_ops++ & 1u;
    wp.buf[p][w.cur & 31] = pred ? 1 : 0;
    warp_barrier();
    unsigned bits = 0;
    int base = (w.cur / 32) * 32;
    for (int i = 0; i < 32 && base + i < w.nthreads; i++)
        if (!w.fibers[base + i].done && wp.buf[p][i]) bits |= 1u << i;
    return bits;
}
}  // namespace emu

extern "C" __attribute__((visibility("default"))) const char *ddpm4j_emu_last_error(void) {
    return emu::last_error.c_str();
}

// cuLaunchKernel's shape: kernel_params[i] points at the value of the kernel's i-th parameter.
// Returns 0, or 1 unknown kernel, 2 bad geometry, 3 a fault in the kernel (deadlock, divergent barrier), 4 internal.
extern "C" __attribute__((visibility("default"))) int ddpm4j_emu_launch(const char *kernel_name, unsigned gx,
                                                                        unsigned gy, unsigned gz, unsigned bx,
                                                                        unsigned by, unsigned bz,
                                                                        unsigned shared_bytes, void **kernel_params) {
    using namespace emu;
    if (kernel_name == nullptr) return fail(1, "kernel name is null");
    auto it = registry().find(kernel_name);
    if (it == registry().end())
        return fail(1, std::string("unknown kernel '") + kernel_name + "' (not in libddpm4j_cudaemu_kernels.so)");
    unsigned long long threads = (unsigned long long)bx * by * bz;
    char m[256];
    if (gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535 || gx > 0x7fffffffu || threads == 0 ||
        threads > 1024 || bx > 1024 || by > 1024 || bz > 64) {
        std::snprintf(m, sizeof m, "bad launch geometry for %s: grid (%u,%u,%u), block (%u,%u,%u)", kernel_name, gx,
                      gy, gz, bx, by, bz);
        return fail(2, m);
    }
    if (shared_bytes > kMaxDynamicShared) {
        std::snprintf(m, sizeof m, "%s asks for %u bytes of dynamic shared memory; at most %zu", kernel_name,
                      shared_bytes, kMaxDynamicShared);
        return fail(2, m);
    }
    Launch l;
    l.name = kernel_name;
    l.thunk = it->second;
    l.params = kernel_params;
    l.grid = dim3(gx, gy, gz);
    l.block = dim3(bx, by, bz);
    run_on_pool(l);
    if (l.failed) return fail(l.error.rfind("cannot map", 0) == 0 ? 4 : 3, l.error);
    last_error.clear();
    return 0;
}
