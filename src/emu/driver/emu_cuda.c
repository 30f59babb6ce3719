// SPDX-License-Identifier: Apache-2.0
// Emulated libcuda.so.1 for tests: the driver-API subset CudaDriver.java binds, compiled against the real cuda.h.
// "Device memory" is host memory, streams run synchronously, launches go to ddpm4j_emu_launch in the kernels emu .so.
#define _GNU_SOURCE
#include <cuda.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))
#define HEADER 256                     /* bytes in front of each allocation: size + magic, keeps 256-byte alignment */
#define ALLOC_MAGIC 0xD0D0CAFEF00DULL

struct CUctx_st { int device; };
struct CUstream_st { unsigned flags; };
struct CUevent_st { double ms; int recorded; };
struct CUfunc_st { struct CUfunc_st *next; char name[256]; };
struct CUmod_st { struct CUfunc_st *functions; char kind[16]; };

static int initialized;
static struct CUctx_st primary_ctx = {0};
static __thread CUcontext current_ctx;
static atomic_size_t used_bytes;
static size_t capacity_bytes = (size_t)8 << 30;   /* 8 GiB unless ddpm4j_emu_set_device_memory says otherwise */
static char kernels_path[4096];
static void *kernels_lib;
typedef int (*emu_launch_fn)(const char *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void **);
typedef const char *(*emu_error_fn)(void);
static emu_launch_fn emu_launch;
static emu_error_fn emu_last_error;
static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread char last_error[1024];

static CUresult fail(CUresult code, const char *fmt, const char *arg) {
    snprintf(last_error, sizeof last_error, fmt, arg);
    return code;
}

/* ---- emulation-only controls (Java calls these when it finds them, which is also how it knows it is emulated) ---- */

/** Sets the path of libddpm4j_cudaemu_kernels.so (else env DDPM4J_EMU_KERNELS is used). */
EXPORT void ddpm4j_emu_set_kernels_path(const char *path) {
    pthread_mutex_lock(&lib_lock);
    snprintf(kernels_path, sizeof kernels_path, "%s", path ? path : "");
    pthread_mutex_unlock(&lib_lock);
}

/** Sets the emulated device memory size, for out-of-memory tests. */
EXPORT void ddpm4j_emu_set_device_memory(size_t bytes) { capacity_bytes = bytes; }

/** The detail behind the last error on this thread (kernel emulation message, JIT log, ...). */
EXPORT const char *ddpm4j_emu_driver_last_error(void) { return last_error; }

static CUresult load_kernels(void) {
    pthread_mutex_lock(&lib_lock);
    CUresult rc = CUDA_SUCCESS;
    if (!kernels_lib) {
        const char *path = kernels_path[0] ? kernels_path : getenv("DDPM4J_EMU_KERNELS");
        if (!path || !path[0]) {
            rc = fail(CUDA_ERROR_NOT_FOUND, "%s", "emulated driver: no kernels library (set DDPM4J_EMU_KERNELS or -Dddpm4j.emu.kernels)");
        } else if (!(kernels_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
            rc = fail(CUDA_ERROR_NOT_FOUND, "emulated driver: cannot load kernels library: %s", dlerror());
        } else {
            emu_launch = (emu_launch_fn)dlsym(kernels_lib, "ddpm4j_emu_launch");
            emu_last_error = (emu_error_fn)dlsym(kernels_lib, "ddpm4j_emu_last_error");
            if (!emu_launch) rc = fail(CUDA_ERROR_NOT_FOUND, "emulated driver: %s lacks ddpm4j_emu_launch", path);
        }
    } else if (!emu_launch) {
        rc = fail(CUDA_ERROR_NOT_FOUND, "%s", "emulated driver: kernels library lacks ddpm4j_emu_launch");
    }
    pthread_mutex_unlock(&lib_lock);
    return rc;
}

#define REQUIRE_INIT() do { if (!initialized) return CUDA_ERROR_NOT_INITIALIZED; } while (0)
#define REQUIRE_CTX() do { REQUIRE_INIT(); if (!current_ctx) return CUDA_ERROR_INVALID_CONTEXT; } while (0)

/* ---- errors ---- */

static const struct { CUresult code; const char *name, *text; } ERRORS[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_INVALID_PTX, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
};

EXPORT CUresult cuGetErrorName(CUresult error, const char **pStr) {
    for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++)
        if (ERRORS[i].code == error) { *pStr = ERRORS[i].name; return CUDA_SUCCESS; }
    *pStr = NULL;
    return CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuGetErrorString(CUresult error, const char **pStr) {
    for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++)
        if (ERRORS[i].code == error) { *pStr = ERRORS[i].text; return CUDA_SUCCESS; }
    *pStr = NULL;
    return CUDA_ERROR_INVALID_VALUE;
}

/* ---- init, device, context ---- */

EXPORT CUresult cuInit(unsigned int flags) {
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    initialized = 1;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int *v) { if (!v) return CUDA_ERROR_INVALID_VALUE; *v = CUDA_VERSION; return CUDA_SUCCESS; }
EXPORT CUresult cuDeviceGetCount(int *n) { REQUIRE_INIT(); *n = 1; return CUDA_SUCCESS; }

EXPORT CUresult cuDeviceGet(CUdevice *dev, int ordinal) {
    REQUIRE_INIT();
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *dev = 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
    REQUIRE_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    snprintf(name, (size_t)len, "%s", "ddpm4j emulated device (host CPU)");
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem(size_t *bytes, CUdevice dev) {
    REQUIRE_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    *bytes = capacity_bytes;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev) {
    REQUIRE_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    switch (attrib) {
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *pi = 8; break;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *pi = 0; break;
        case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *pi = 2; break;
        case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
        case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *pi = 32; break;
        case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *pi = 48 * 1024; break;
        default: *pi = 0; break;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev) {
    REQUIRE_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    *ctx = &primary_ctx;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice dev) { REQUIRE_INIT(); return dev == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE; }

EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
    REQUIRE_INIT();
    if (ctx && ctx != &primary_ctx) return CUDA_ERROR_INVALID_CONTEXT;
    current_ctx = ctx;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSynchronize(void) { REQUIRE_CTX(); return CUDA_SUCCESS; }

/* ---- streams and events (everything already ran when a call returns) ---- */

EXPORT CUresult cuStreamCreate(CUstream *s, unsigned int flags) {
    REQUIRE_CTX();
    *s = calloc(1, sizeof(struct CUstream_st));
    (*s)->flags = flags;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamDestroy(CUstream s) { REQUIRE_CTX(); free(s); return CUDA_SUCCESS; }
EXPORT CUresult cuStreamSynchronize(CUstream s) { (void)s; REQUIRE_CTX(); return CUDA_SUCCESS; }

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

EXPORT CUresult cuEventCreate(CUevent *e, unsigned int flags) {
    (void)flags;
    REQUIRE_CTX();
    *e = calloc(1, sizeof(struct CUevent_st));
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventRecord(CUevent e, CUstream s) {
    (void)s;
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    e->ms = now_ms();
    e->recorded = 1;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventSynchronize(CUevent e) { REQUIRE_CTX(); return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE; }

EXPORT CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent end) {
    REQUIRE_CTX();
    if (!start || !end || !start->recorded || !end->recorded) return CUDA_ERROR_INVALID_HANDLE;
    *ms = (float)(end->ms - start->ms);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventDestroy(CUevent e) { REQUIRE_CTX(); free(e); return CUDA_SUCCESS; }

/* ---- memory ---- */

EXPORT CUresult cuMemGetInfo(size_t *free_bytes, size_t *total) {
    REQUIRE_CTX();
    size_t used = atomic_load(&used_bytes);
    *free_bytes = used < capacity_bytes ? capacity_bytes - used : 0;
    *total = capacity_bytes;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAlloc(CUdeviceptr *dptr, size_t bytes) {
    REQUIRE_CTX();
    if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    size_t used = atomic_fetch_add(&used_bytes, bytes);
    if (used + bytes > capacity_bytes) { atomic_fetch_sub(&used_bytes, bytes); return CUDA_ERROR_OUT_OF_MEMORY; }
    size_t total = HEADER + ((bytes + HEADER - 1) / HEADER) * HEADER;
    unsigned char *block = aligned_alloc(HEADER, total);
    if (!block) { atomic_fetch_sub(&used_bytes, bytes); return CUDA_ERROR_OUT_OF_MEMORY; }
    ((uint64_t *)block)[0] = ALLOC_MAGIC;
    ((uint64_t *)block)[1] = bytes;
    *dptr = (CUdeviceptr)(uintptr_t)(block + HEADER);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree(CUdeviceptr dptr) {
    REQUIRE_CTX();
    if (!dptr) return CUDA_SUCCESS;
    uint64_t *block = (uint64_t *)(uintptr_t)(dptr - HEADER);
    if (block[0] != ALLOC_MAGIC) return CUDA_ERROR_INVALID_VALUE;
    block[0] = 0;
    atomic_fetch_sub(&used_bytes, (size_t)block[1]);
    free(block);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src, size_t n, CUstream s) {
    (void)s; REQUIRE_CTX(); memcpy((void *)(uintptr_t)dst, src, n); return CUDA_SUCCESS;
}
EXPORT CUresult cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t n, CUstream s) {
    (void)s; REQUIRE_CTX(); memcpy(dst, (const void *)(uintptr_t)src, n); return CUDA_SUCCESS;
}
EXPORT CUresult cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    (void)s; REQUIRE_CTX(); memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n); return CUDA_SUCCESS;
}
EXPORT CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int value, size_t n, CUstream s) {
    (void)s; REQUIRE_CTX();
    unsigned int *p = (unsigned int *)(uintptr_t)dst;
    for (size_t i = 0; i < n; i++) p[i] = value;
    return CUDA_SUCCESS;
}

/* ---- modules: fatbin / cubin / PTX / the "ddpm4j-emu-module:" marker are all accepted; kernels are looked up by name ---- */

static void write_log(unsigned n, CUjit_option *opts, void **vals, const char *msg) {
    char *buf = NULL;
    size_t size = 0;
    for (unsigned i = 0; i < n; i++) {
        if (opts[i] == CU_JIT_ERROR_LOG_BUFFER) buf = vals[i];
        if (opts[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) size = (size_t)(uintptr_t)vals[i];
    }
    if (buf && size) snprintf(buf, size, "%s", msg);
}

EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int n, CUjit_option *opts, void **vals) {
    REQUIRE_CTX();
    if (!image) return CUDA_ERROR_INVALID_VALUE;
    const unsigned char *b = image;
    const char *kind;
    if (b[0] == 0x50 && b[1] == 0xED && b[2] == 0x55 && b[3] == 0xBA) kind = "fatbin";
    else if (b[0] == 0x7F && b[1] == 'E' && b[2] == 'L' && b[3] == 'F') kind = "cubin";
    else if (strncmp(image, "ddpm4j-emu-module:", 18) == 0) kind = "marker";
    else {
        /* Text: treat as PTX and "JIT" it by checking the directives every PTX file carries. */
        const char *text = image;
        if (!strstr(text, ".version") || !strstr(text, ".target")) {
            write_log(n, opts, vals, "ptxas application ptx input, line 1; fatal   : Missing .version/.target directive "
                                     "(ddpm4j emulated JIT)");
            return fail(CUDA_ERROR_INVALID_PTX, "%s", "emulated JIT rejected the PTX: no .version/.target directive");
        }
        kind = "ptx";
    }
    struct CUmod_st *m = calloc(1, sizeof *m);
    snprintf(m->kind, sizeof m->kind, "%s", kind);
    *module = m;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleUnload(CUmodule m) {
    REQUIRE_CTX();
    if (!m) return CUDA_ERROR_INVALID_HANDLE;
    for (struct CUfunc_st *f = m->functions, *next; f; f = next) { next = f->next; free(f); }
    free(m);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleGetFunction(CUfunction *fn, CUmodule m, const char *name) {
    REQUIRE_CTX();
    if (!m || !name) return CUDA_ERROR_INVALID_VALUE;
    if (strlen(name) >= sizeof((struct CUfunc_st *)0)->name) return CUDA_ERROR_INVALID_VALUE;
    CUresult rc = load_kernels();
    if (rc != CUDA_SUCCESS) return rc;
    int (*has)(const char *) = (int (*)(const char *))dlsym(kernels_lib, "ddpm4j_emu_has_kernel");
    if (has && !has(name)) return fail(CUDA_ERROR_NOT_FOUND, "emulated driver: no kernel named '%s'", name);
    struct CUfunc_st *f = calloc(1, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->next = m->functions;
    m->functions = f;
    *fn = f;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                               unsigned smem, CUstream s, void **params, void **extra) {
    (void)s;
    REQUIRE_CTX();
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (extra) return fail(CUDA_ERROR_INVALID_VALUE, "%s", "emulated driver: 'extra' launch parameters are not supported");
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) return CUDA_ERROR_INVALID_VALUE;
    if ((unsigned long)bx * by * bz > 1024) return CUDA_ERROR_INVALID_VALUE;
    if (smem > 48 * 1024) return CUDA_ERROR_INVALID_VALUE;
    CUresult rc = load_kernels();
    if (rc != CUDA_SUCCESS) return rc;
    int code = emu_launch(f->name, gx, gy, gz, bx, by, bz, smem, params);
    if (code != 0) {
        const char *detail = emu_last_error ? emu_last_error() : NULL;
        snprintf(last_error, sizeof last_error, "kernel %s: %s", f->name, detail && detail[0] ? detail : "emulated launch failed");
        return CUDA_ERROR_LAUNCH_FAILED;
    }
    return CUDA_SUCCESS;
}
