// SPDX-License-Identifier: Apache-2.0
// Every Backend op of CudaBackend against ReferenceBackend, end to end: FFM -> emulated libcuda/cuBLAS/cuDNN
// (src/emu/driver) -> host-compiled src/cuda kernels. On a GPU machine the same test runs on the real driver.
package ddpm4j.kernels.cuda;

import static ddpm4j.core.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.Backend.BinaryOp;
import ddpm4j.core.Backend.ConvGeom;
import ddpm4j.core.Backend.ReduceOp;
import ddpm4j.core.Backend.UnaryOp;
import ddpm4j.core.DType;
import ddpm4j.core.Tensor;
import ddpm4j.core.ref.ReferenceBackend;
import ddpm4j.core.testing.Rand;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class CudaBackendTest {
    static Backend ref;
    static CudaBackend cuda;

    @BeforeAll
    static void open() {
        assumeTrue(Cuda.available(), () -> "CUDA backend unavailable: " + Cuda.unavailableReason());
        String emu = System.getProperty("ddpm4j.emu.kernels");
        assumeTrue(!CudaDriver.emulated() || (emu != null && java.nio.file.Files.exists(java.nio.file.Path.of(emu))),
                "emulated driver without the host-compiled kernels (no g++?)");
        ref = new ReferenceBackend();
        cuda = new CudaBackend(0);
    }

    @AfterAll
    static void close() {
        if (cuda != null) cuda.close();
    }

    /** Runs {@code body} on both backends and compares every returned tensor. */
    static void same(String what, double atol, double rtol, Function<Backend, Tensor[]> body) {
        Tensor[] expected = body.apply(ref), actual = body.apply(cuda);
        for (int i = 0; i < expected.length; i++) assertClose(what + " output " + i, expected[i], actual[i], atol, rtol);
    }

    static Tensor empty(Backend be, int... shape) { return Tensor.empty(be, DType.F32, shape); }

    static Tensor positive(Backend be, long seed, int... shape) { return Rand.uniform(be, seed, 0.1, 3.0, shape); }

    @Test
    void unaryOps() {
        for (UnaryOp op : UnaryOp.values()) {
            boolean needsPositive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT;
            same(op.name(), 1e-6, 1e-5, be -> {
                Tensor x = needsPositive ? positive(be, 1, 1000) : Rand.normal(be, 1, 1000), y = empty(be, 1000);
                be.unary(op, y, x);
                return new Tensor[] {y};
            });
        }
    }

    @Test
    void binaryOpsWithBroadcastAndStridedViews() {
        for (BinaryOp op : BinaryOp.values()) {
            same(op.name(), 1e-6, 1e-6, be -> {
                Tensor a = Rand.normal(be, 2, 2, 3, 7), bias = Rand.normal(be, 3, 1, 3, 1);
                Tensor bt = Rand.normal(be, 4, 7, 3, 2).permute(2, 1, 0);     // strided (2,3,7) view
                if (op == BinaryOp.DIV) bias = positive(be, 3, 1, 3, 1);
                Tensor out1 = empty(be, 2, 3, 7), out2 = empty(be, 2, 3, 7);
                be.binary(op, out1, a, bias.expand(2, 3, 7));
                be.binary(op, out2, bt, a);
                return new Tensor[] {out1, out2};
            });
        }
    }

    @Test
    void affineFillAndStridedCopy() {
        same("affine/fill/copy", 1e-6, 1e-6, be -> {
            Tensor x = Rand.normal(be, 5, 33), y = empty(be, 33), f = empty(be, 5, 7), c = empty(be, 4, 3, 5);
            be.affine(y, x, -0.5, 2.0);
            be.fill(f, 1.25);
            be.copy(c, Rand.normal(be, 6, 5, 3, 4).permute(2, 1, 0));
            return new Tensor[] {y, f, c};
        });
    }

    @Test
    void reductionsAndSoftmax() {
        for (ReduceOp op : ReduceOp.values()) {
            same(op.name(), 1e-5, 1e-5, be -> {
                Tensor x = Rand.normal(be, 7, 5, 33, 7), out = empty(be, 5, 7), all = empty(be, 1), rows = empty(be, 35);
                Tensor big = Rand.normal(be, 70, 70001), bigAll = empty(be, 1);   // > 256 blocks: the many-block sum of squares
                be.reduce(op, out, x, 5, 33, 7);
                be.reduce(op, all, x, 1, 5 * 33 * 7, 1);
                be.reduce(op, rows, x, 35, 33, 1);
                be.reduce(op, bigAll, big, 1, 70001, 1);
                return new Tensor[] {out, all, rows, bigAll};
            });
        }
        same("softmax", 1e-6, 1e-5, be -> {
            Tensor x = Rand.normal(be, 8, 7, 1000), y = empty(be, 7, 1000), dy = Rand.normal(be, 9, 7, 1000), dx = empty(be, 7, 1000);
            be.softmaxForward(y, x, 7, 1000);
            be.softmaxBackward(dx, y, dy, 7, 1000);
            return new Tensor[] {y, dx};
        });
    }

    @Test
    void matmulAllTransposesAndBroadcastBatch() {
        int m = 7, n = 33, k = 5, batch = 3;
        for (boolean ta : new boolean[] {false, true})
            for (boolean tb : new boolean[] {false, true})
                same("matmul ta=" + ta + " tb=" + tb, 1e-5, 1e-5, be -> {
                    Tensor a = Rand.normal(be, 10, batch, ta ? k : m, ta ? m : k), b = Rand.normal(be, 11, tb ? n : k, tb ? k : n);
                    Tensor out = empty(be, batch, m, n), single = empty(be, m, n);
                    be.matmul(out, a, b, ta, tb, batch, m, n, k, (long) m * k, 0);
                    be.matmul(single, a, b, ta, tb, 1, m, n, k, 0, 0);
                    return new Tensor[] {out, single};
                });
    }

    @Test
    void convolutionForwardAndBackward() {
        ConvGeom[] geoms = {
            new ConvGeom(2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1),   // 3x3 same
            new ConvGeom(2, 3, 8, 9, 4, 3, 3, 2, 1, 1, 1, 1),   // stride 2
            new ConvGeom(1, 2, 6, 5, 3, 3, 3, 2, 0, 0, 1, 1),   // asymmetric (TF-style "same" downsample)
            new ConvGeom(3, 4, 5, 5, 6, 1, 1, 1, 0, 0, 0, 0)};  // 1x1
        for (ConvGeom g : geoms) {
            same("conv " + g, 1e-5, 1e-5, be -> {
                Tensor x = Rand.normal(be, 12, g.n(), g.c(), g.h(), g.w()), w = Rand.normal(be, 13, g.k(), g.c(), g.r(), g.s());
                Tensor bias = Rand.normal(be, 14, g.k()), dy = Rand.normal(be, 15, g.n(), g.k(), g.ho(), g.wo());
                Tensor y = empty(be, g.n(), g.k(), g.ho(), g.wo()), dx = empty(be, g.n(), g.c(), g.h(), g.w());
                Tensor dw = empty(be, g.k(), g.c(), g.r(), g.s()), db = empty(be, g.k());
                be.conv2dForward(y, x, w, bias, g);
                be.conv2dBackwardInput(dx, dy, w, g);
                be.conv2dBackwardWeight(dw, db, dy, x, g);
                return new Tensor[] {y, dx, dw, db};
            });
        }
        // the combined backward (Backend.conv2dBackward's default here) as autograd calls it, and with dx alone
        ConvGeom g = geoms[1];
        same("conv through autograd " + g, 1e-5, 1e-5, be -> {
            Tensor x = Rand.normal(be, 12, g.n(), g.c(), g.h(), g.w()).requiresGrad(true);
            Tensor w = Rand.normal(be, 13, g.k(), g.c(), g.r(), g.s()).requiresGrad(true), bias = Rand.normal(be, 14, g.k()).requiresGrad(true);
            Tensor dy = Rand.normal(be, 15, g.n(), g.k(), g.ho(), g.wo()), dxOnly = empty(be, g.n(), g.c(), g.h(), g.w());
            x.conv2d(w, bias, g.stride(), 1).backward(dy);
            be.conv2dBackward(dxOnly, null, null, dy, x, w, g);
            return new Tensor[] {x.grad(), w.grad(), bias.grad(), dxOnly};
        });
    }

    @Test
    void groupNormWithAndWithoutSiluAndAffine() {
        int n = 2, c = 6, hw = 35, g = 3;
        for (boolean silu : new boolean[] {false, true})
            for (boolean affine : new boolean[] {true, false})
                same("groupnorm silu=" + silu + " affine=" + affine, 1e-5, 1e-4, be -> {
                    Tensor x = Rand.normal(be, 16, n, c, hw), w = affine ? Rand.normal(be, 17, c) : null, b = affine ? Rand.normal(be, 18, c) : null;
                    Tensor out = empty(be, n, c, hw), mean = empty(be, n, g), rstd = empty(be, n, g), dy = Rand.normal(be, 19, n, c, hw);
                    Tensor dx = empty(be, n, c, hw), dw = affine ? empty(be, c) : null, db = affine ? empty(be, c) : null;
                    be.groupNormForward(out, mean, rstd, x, w, b, n, c, hw, g, 1e-5f, silu);
                    be.groupNormBackward(dx, dw, db, dy, x, w, b, mean, rstd, n, c, hw, g, silu);
                    return affine ? new Tensor[] {out, mean, rstd, dx, dw, db} : new Tensor[] {out, mean, rstd, dx};
                });
    }

    @Test
    void attentionForwardAndBackward() {
        int b = 2, l = 33, d = 16;
        float scale = (float) (1 / Math.sqrt(d));
        same("attention", 1e-5, 1e-4, be -> {
            Tensor q = Rand.normal(be, 20, b, l, d), k = Rand.normal(be, 21, b, l, d), v = Rand.normal(be, 22, b, l, d);
            Tensor out = empty(be, b, l, d), lse = empty(be, b, l), dout = Rand.normal(be, 23, b, l, d);
            Tensor dq = empty(be, b, l, d), dk = empty(be, b, l, d), dv = empty(be, b, l, d);
            be.attentionForward(out, lse, q, k, v, b, l, d, scale);
            be.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, b, l, d, scale);
            return new Tensor[] {out, lse, dq, dk, dv};
        });
    }

    @Test
    void upsampleGatherAndScatter() {
        same("upsample/gather", 1e-6, 1e-6, be -> {
            Tensor x = Rand.normal(be, 24, 3, 5, 7), up = empty(be, 3, 10, 14), dy = Rand.normal(be, 25, 3, 10, 14), dx = empty(be, 3, 5, 7);
            be.upsample2xForward(up, x, 3, 5, 7);
            be.upsample2xBackward(dx, dy, 3, 5, 7);
            int[] idx = {4, 0, 4, 9, 2};
            Tensor table = Rand.normal(be, 26, 10, 6), rows = empty(be, 5, 6), dtable = Rand.normal(be, 27, 10, 6);
            be.gatherRows(rows, table, idx, 6);
            be.scatterAddRows(dtable, Rand.normal(be, 28, 5, 6), idx, 6);
            return new Tensor[] {up, dx, rows, dtable};
        });
    }

    @Test
    void philoxStreamsAreBitExact() {
        same("philox", 0, 0, be -> {
            Tensor u = empty(be, 1001), z = empty(be, 33);
            be.fillUniform(u, 1234, 7);
            be.fillNormal(z, 99, 3);
            return new Tensor[] {u, z};
        });
    }

    @Test
    void diffusionAndOptimizerKernels() {
        int n = 3, d = 35;
        for (boolean clip : new boolean[] {false, true})
            same("q_sample/ancestral clip=" + clip, 1e-6, 1e-5, be -> {
                Tensor x0 = Rand.normal(be, 29, n, d), eps = Rand.normal(be, 30, n, d), z = Rand.normal(be, 31, n, d);
                Tensor a = positive(be, 32, n), b = positive(be, 33, n), coef = positive(be, 34, n, 5);
                Tensor xt = empty(be, n, d), prev = empty(be, n, d);
                be.qSample(xt, x0, eps, a, b, n, d);
                be.ancestralStep(prev, xt, eps, z, coef, n, d, clip);
                // The last step: CUDA takes a null z as "no noise" (the reference needs zeros), and a sample whose
                // sigma is 0 beside ones whose sigma is not.
                Tensor last = empty(be, n, d), sigma0 = empty(be, n, d), coef0 = coef.mul(
                        Tensor.of(be, new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1}, n, 5));
                be.ancestralStep(last, xt, eps, be instanceof CudaBackend ? null : Tensor.zeros(be, n, d), coef, n, d, clip);
                be.ancestralStep(sigma0, xt, eps, z, coef0, n, d, clip);
                return new Tensor[] {xt, prev, last, sigma0};
            });
        same("adam/ema", 1e-6, 1e-5, be -> {
            Tensor p = Rand.normal(be, 35, 1000), g = Rand.normal(be, 36, 1000), m = Rand.normal(be, 37, 1000);
            Tensor v = positive(be, 38, 1000), scale = Tensor.of(be, new float[] {0.5f}, 1), shadow = Rand.normal(be, 39, 1000);
            be.adamUpdate(p, g, m, v, scale, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.19f, 0.002f);
            be.adamUpdate(p, g, m, v, null, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.271f, 0.003f);   // unclipped second step
            be.emaUpdate(shadow, p, 0.9999f);
            return new Tensor[] {p, m, v, shadow};
        });
    }

    @Test
    void autogradThroughTensorOps() {
        same("composite value and grads", 1e-5, 1e-4, be -> {
            Tensor x = Rand.normal(be, 40, 2, 3, 4).requiresGrad(true), w = Rand.normal(be, 41, 4, 5).requiresGrad(true);
            Tensor y = x.reshape(6, 4).matmul(w).silu().softmax(1).mul(Rand.normal(be, 42, 6, 5)).sum();
            y.backward();
            return new Tensor[] {y, x.grad(), w.grad()};
        });
    }

    @Test
    void wrongDeviceAndOutOfMemoryAreClearAndLeakNothing() {
        Tensor onRef = Rand.normal(ref, 43, 10), out = empty(cuda, 10);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cuda.unary(UnaryOp.EXP, out, onRef));
        assertTrue(e.getMessage().contains("'reference'") && e.getMessage().contains("'cuda'"), e.getMessage());
        assumeTrue(CudaDriver.emulated(), "out-of-memory check needs the emulated driver's memory limit");
        cuda.sync();
        cuda.trim();
        long live = cuda.liveBytes(), free = CudaDriver.cuMemGetInfo()[0];
        CudaDriver.emuSetDeviceMemory(CudaDriver.cuMemGetInfo()[1] - free + (64L << 20));   // 64 MiB left
        try {
            CudaException oom = assertThrows(CudaException.class, () -> empty(cuda, 1 << 26));   // 256 MiB
            assertTrue(oom.getMessage().contains("asked for 268435456 bytes") && oom.getMessage().contains("MiB) free"), oom.getMessage());
            assertEquals(live, cuda.liveBytes(), "a failed allocation must not count as live");
            Tensor fits = empty(cuda, 1 << 20);
            fits.close();
        } finally {
            CudaDriver.emuSetDeviceMemory(8L << 30);
        }
    }

    @Test
    void autoNeverPicksTheEmulatedDriver() {
        assumeTrue(CudaDriver.emulated(), "real driver: auto picks cuda");
        assertEquals("cpu", ddpm4j.core.Backends.get("auto").name(), "the emulation is a test vehicle, slower than cpu");
        assertTrue(ddpm4j.core.Backends.providers().stream().anyMatch(p -> p.name().equals("cuda") && p.available()));
    }

    @Test
    void describeNamesDeviceDriverAndImage() {
        String s = cuda.describe();
        assertTrue(s.contains("compute capability") && s.contains("driver") && s.contains("kernel image"), s);
        if (CudaDriver.emulated()) assertTrue(s.contains("EMULATED"), s);
    }
}
