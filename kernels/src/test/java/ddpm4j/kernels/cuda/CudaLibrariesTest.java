// SPDX-License-Identifier: Apache-2.0
// The FFM bindings (CudaDriver, Cublas, Cudnn) against plain Java loops, run on the emulated libraries of src/emu/driver
// (or the real ones when -Dddpm4j.cuda.*Path are empty on a GPU machine). Skips where the libraries are missing.
package ddpm4j.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class CudaLibrariesTest {
    static MemorySegment stream;
    static int device;

    @BeforeAll
    static void init() {
        assumeTrue(CudaDriver.loaded() && Cublas.loaded() && Cudnn.loaded(),
                () -> "CUDA libraries not present: " + CudaDriver.loadFailure() + " / " + Cublas.loadFailure() + " / " + Cudnn.loadFailure());
        CudaDriver.cuInit();
        device = CudaDriver.cuDeviceGet(0);
        CudaDriver.cuCtxSetCurrent(CudaDriver.cuDevicePrimaryCtxRetain(device));
        stream = CudaDriver.cuStreamCreate(0);
    }

    @AfterAll
    static void done() {
        if (stream != null) CudaDriver.cuStreamDestroy(stream);
    }

    static long upload(float[] host) {
        long d = CudaDriver.cuMemAlloc(host.length * 4L);
        try (Arena a = Arena.ofConfined()) {
            CudaDriver.cuMemcpyHtoDAsync(d, a.allocateFrom(ValueLayout.JAVA_FLOAT, host), host.length * 4L, stream);
            CudaDriver.cuStreamSynchronize(stream);
        }
        return d;
    }

    static float[] download(long d, int n) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(n * 4L);
            CudaDriver.cuMemcpyDtoHAsync(h, d, n * 4L, stream);
            CudaDriver.cuStreamSynchronize(stream);
            return h.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    static float[] random(long seed, int n) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    static void assertClose(double[] expected, float[] actual, double atol, double rtol) {
        assertEquals(expected.length, actual.length, "length");
        for (int i = 0; i < expected.length; i++) {
            double tol = atol + rtol * Math.abs(expected[i]);
            int at = i;
            assertTrue(Math.abs(expected[i] - actual[i]) <= tol,
                    () -> "index " + at + ": expected " + expected[at] + ", found " + actual[at] + " (tolerance " + tol + ")");
        }
    }

    @Test
    void deviceDescribesItselfAndCopiesRoundTrip() {
        assertTrue(CudaDriver.cuDeviceGetCount() >= 1);
        assertTrue(CudaDriver.cuDriverGetVersion() >= 11000);
        assertTrue(CudaDriver.cuDeviceGetAttribute(CudaDriver.ATTR_CC_MAJOR, device) >= 5);
        assertTrue(!CudaDriver.cuDeviceGetName(device).isBlank());
        float[] x = random(1, 1001);
        long a = upload(x), b = CudaDriver.cuMemAlloc(x.length * 4L);
        CudaDriver.cuMemcpyDtoDAsync(b, a, x.length * 4L, stream);
        CudaDriver.cuMemsetD32Async(a, Float.floatToRawIntBits(2.5f), 7, stream);
        float[] back = download(b, x.length), filled = download(a, 8);
        assertEquals(java.util.Arrays.toString(x), java.util.Arrays.toString(back));
        assertEquals(2.5f, filled[6]);
        assertEquals(x[7], filled[7]);
        MemorySegment e0 = CudaDriver.cuEventCreate(0), e1 = CudaDriver.cuEventCreate(0);
        CudaDriver.cuEventRecord(e0, stream);
        CudaDriver.cuEventRecord(e1, stream);
        CudaDriver.cuEventSynchronize(e1);
        assertTrue(CudaDriver.cuEventElapsedTime(e0, e1) >= 0);
        CudaDriver.cuEventDestroy(e0);
        CudaDriver.cuEventDestroy(e1);
        CudaDriver.cuMemFree(a);
        CudaDriver.cuMemFree(b);
    }

    @Test
    void outOfMemorySaysAskedAndFree() {
        long[] info = CudaDriver.cuMemGetInfo();
        long ask = info[1] + (1L << 30);
        CudaException e = assertThrows(CudaException.class, () -> CudaDriver.cuMemAlloc(ask));
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
        assertTrue(e.getMessage().contains("asked for " + ask + " bytes") && e.getMessage().contains("free"), e.getMessage());
    }

    @Test
    void badPtxShowsTheJitLog() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ptx = a.allocateFrom(".version 9.0\n.target sm_80\n.address_size 64\n.visible .entry broken( { bogus; }\n");
            MemorySegment junk = a.allocateFrom("this is not ptx");
            CudaException e = assertThrows(CudaException.class, () -> {
                MemorySegment m = CudaDriver.cuModuleLoadDataEx(CudaDriver.emulated() ? junk : ptx, "broken.ptx");
                CudaDriver.cuModuleUnload(m);
            });
            assertTrue(e.errorName().equals("CUDA_ERROR_INVALID_PTX") || e.errorName().equals("CUDA_ERROR_INVALID_IMAGE"), e.getMessage());
            assertTrue(e.getMessage().contains("broken.ptx") && e.getMessage().contains("JIT log"), e.getMessage());
        }
    }

    /** Row-major reference: C = op(A) op(B), A stored (m,k) or (k,m), B (k,n) or (n,k). */
    static double[] matmulRef(float[] a, float[] b, boolean ta, boolean tb, int m, int n, int k) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                c[i * n + j] = s;
            }
        return c;
    }

    @Test
    void sgemmRowMajorThroughTheTransposeTrick() {
        MemorySegment h = Cublas.cublasCreate();
        Cublas.cublasSetStream(h, stream);
        int m = 7, n = 33, k = 5;
        try (Arena ar = Arena.ofConfined()) {
            for (boolean ta : new boolean[] {false, true})
                for (boolean tb : new boolean[] {false, true}) {
                    float[] a = random(2, m * k), b = random(3, k * n);
                    long da = upload(a), db = upload(b), dc = CudaDriver.cuMemAlloc(m * n * 4L);
                    // Row-major C (m,n) is column-major C^T (n,m) = op(B)^T op(A)^T: swap operands, keep flags.
                    Cublas.cublasSgemm(h, tb ? Cublas.OP_T : Cublas.OP_N, ta ? Cublas.OP_T : Cublas.OP_N, n, m, k,
                            Cublas.scalars(ar, 1, 0), db, tb ? k : n, da, ta ? m : k, dc, n);
                    assertClose(matmulRef(a, b, ta, tb, m, n, k), download(dc, m * n), 1e-5, 1e-5);
                    for (long p : new long[] {da, db, dc}) CudaDriver.cuMemFree(p);
                }
            // Batched with a broadcast B (stride 0), and TF32 within its 10-bit mantissa error.
            int batch = 3;
            float[] a = random(4, batch * m * k), b = random(5, k * n);
            long da = upload(a), db = upload(b), dc = CudaDriver.cuMemAlloc((long) batch * m * n * 4);
            Cublas.cublasSetMathMode(h, Cublas.TF32_TENSOR_OP_MATH);
            Cublas.cublasSgemmStridedBatched(h, Cublas.OP_N, Cublas.OP_N, n, m, k, Cublas.scalars(ar, 1, 0),
                    db, n, 0, da, k, (long) m * k, dc, n, (long) m * n, batch);
            float[] c = download(dc, batch * m * n);
            for (int i = 0; i < batch; i++) {
                double[] ref = matmulRef(java.util.Arrays.copyOfRange(a, i * m * k, (i + 1) * m * k), b, false, false, m, n, k);
                assertClose(ref, java.util.Arrays.copyOfRange(c, i * m * n, (i + 1) * m * n), 1e-2, 2e-3);
            }
            Cublas.cublasSetMathMode(h, Cublas.DEFAULT_MATH);
            CudaException e = assertThrows(CudaException.class, () -> Cublas.cublasSgemm(h, Cublas.OP_N, Cublas.OP_N,
                    n, m, k, Cublas.scalars(ar, 1, 0), db, 1, da, k, dc, n));
            assertEquals("CUBLAS_STATUS_INVALID_VALUE", e.errorName());
            for (long p : new long[] {da, db, dc}) CudaDriver.cuMemFree(p);
        }
        Cublas.cublasDestroy(h);
    }

    @Test
    void convolutionPassesMatchLoops() {
        int n = 2, c = 3, hh = 7, ww = 9, k = 5, r = 3, s = 2, pad = 1, stride = 2;
        int ho = (hh + 2 * pad - r) / stride + 1, wo = (ww + 2 * pad - s) / stride + 1;
        float[] x = random(6, n * c * hh * ww), w = random(7, k * c * r * s), dy = random(8, n * k * ho * wo);
        double[] y = new double[n * k * ho * wo], dx = new double[x.length], dw = new double[w.length];
        for (int b = 0; b < n; b++) for (int o = 0; o < k; o++) for (int i = 0; i < ho; i++) for (int j = 0; j < wo; j++)
            for (int ch = 0; ch < c; ch++) for (int p = 0; p < r; p++) for (int q = 0; q < s; q++) {
                int ih = i * stride - pad + p, iw = j * stride - pad + q;
                if (ih < 0 || ih >= hh || iw < 0 || iw >= ww) continue;
                int xi = ((b * c + ch) * hh + ih) * ww + iw, wi = ((o * c + ch) * r + p) * s + q, yi = ((b * k + o) * ho + i) * wo + j;
                y[yi] += (double) x[xi] * w[wi];
                dx[xi] += (double) dy[yi] * w[wi];
                dw[wi] += (double) dy[yi] * x[xi];
            }
        MemorySegment h = Cudnn.cudnnCreate();
        Cudnn.cudnnSetStream(h, stream);
        MemorySegment xd = Cudnn.tensor4d(n, c, hh, ww), yd = Cudnn.tensor4d(n, k, ho, wo), wd = Cudnn.filter4d(k, c, r, s);
        MemorySegment cd = Cudnn.convolution2d(pad, pad, stride, stride, Cudnn.FMA_MATH);
        long dX = upload(x), dW = upload(w), dDy = upload(dy), dY = CudaDriver.cuMemAlloc(y.length * 4L);
        long dDx = CudaDriver.cuMemAlloc(x.length * 4L), dDw = CudaDriver.cuMemAlloc(w.length * 4L);
        try (Arena ar = Arena.ofConfined()) {
            MemorySegment one = Cublas.scalars(ar, 1, 0);
            Cudnn.Algo fwd = Cudnn.chooseAlgo(Cudnn.Pass.FORWARD, h, xd, wd, cd, yd, 1L << 30);
            long ws = fwd.workspaceBytes() > 0 ? CudaDriver.cuMemAlloc(fwd.workspaceBytes()) : 0;
            Cudnn.run(Cudnn.Pass.FORWARD, h, one, xd, dX, wd, dW, cd, yd, dY, fwd, ws);
            assertClose(y, download(dY, y.length), 1e-5, 1e-5);
            Cudnn.Algo noWs = Cudnn.chooseAlgo(Cudnn.Pass.FORWARD, h, xd, wd, cd, yd, 0);
            assertEquals(0, noWs.workspaceBytes());
            Cudnn.run(Cudnn.Pass.FORWARD, h, one, xd, dX, wd, dW, cd, yd, dY, noWs, 0);
            assertClose(y, download(dY, y.length), 1e-5, 1e-5);
            Cudnn.Algo bd = Cudnn.chooseAlgo(Cudnn.Pass.BACKWARD_DATA, h, xd, wd, cd, yd, 0);
            // cuDNN's non-deterministic (atomic) algorithms are BWD_DATA_ALGO_0 and BWD_FILTER_ALGO_0 / _3; both cuDNN
            // and the emulation list ALGO_0 first, so taking the first entry would pick them
            assertNotEquals(0, bd.algo(), "backward-data algorithm must be deterministic");
            Cudnn.run(Cudnn.Pass.BACKWARD_DATA, h, one, xd, dDx, wd, dW, cd, yd, dDy, bd, 0);
            assertClose(dx, download(dDx, dx.length), 1e-5, 1e-5);
            Cudnn.Algo bf = Cudnn.chooseAlgo(Cudnn.Pass.BACKWARD_FILTER, h, xd, wd, cd, yd, 0);
            assertTrue(bf.algo() != 0 && bf.algo() != 3, "backward-filter algorithm must be deterministic, got " + bf.algo());
            Cudnn.run(Cudnn.Pass.BACKWARD_FILTER, h, one, xd, dX, wd, dDw, cd, yd, dDy, bf, 0);
            assertClose(dw, download(dDw, dw.length), 1e-5, 1e-5);
            if (ws != 0) CudaDriver.cuMemFree(ws);
            MemorySegment wrong = Cudnn.tensor4d(n, k, ho + 1, wo);
            CudaException e = assertThrows(CudaException.class, () -> Cudnn.run(Cudnn.Pass.FORWARD, h, one, xd, dX, wd,
                    dW, cd, wrong, dY, noWs, 0));
            assertTrue(e.getMessage().contains("CUDNN_STATUS_BAD_PARAM"), e.getMessage());
            Cudnn.destroyTensor(wrong);
        }
        for (long p : new long[] {dX, dW, dDy, dY, dDx, dDw}) CudaDriver.cuMemFree(p);
        Cudnn.destroyTensor(xd);
        Cudnn.destroyTensor(yd);
        Cudnn.destroyFilter(wd);
        Cudnn.destroyConvolution(cd);
        Cudnn.cudnnDestroy(h);
    }
}
