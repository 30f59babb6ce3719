// SPDX-License-Identifier: Apache-2.0
// Launcher for 2-D convolution on cuDNN (no .cu): descriptors and algorithm choices cached per geometry; asymmetric
// padding (which cuDNN lacks) runs on an explicitly zero-padded copy of the input. Bias add and dbias use elementwise.cu
// and reduce.cu kernels.
package ddpm4j.kernels.cuda;

import ddpm4j.core.Backend.ConvGeom;
import ddpm4j.core.Backend.ReduceOp;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

/** cuDNN convolutions for one CudaBackend (x: (n,c,h,w), w: (k,c,r,s), y: (n,k,ho,wo)). */
final class CudaConv2d implements AutoCloseable {
    private static final long MAX_WORKSPACE = 256L << 20;

    /** Descriptors and chosen algorithms of one symmetric-padding geometry. */
    private record Plan(MemorySegment x, MemorySegment w, MemorySegment y, MemorySegment conv,
                        Cudnn.Algo fwd, Cudnn.Algo bwdData, Cudnn.Algo bwdFilter) {}

    private final CudaBackend be;
    private final Map<ConvGeom, Plan> plans = new HashMap<>();

    CudaConv2d(CudaBackend be) { this.be = be; }

    static boolean symmetric(ConvGeom g) { return g.padTop() == g.padBottom() && g.padLeft() == g.padRight(); }

    /** The geometry of the same convolution on the zero-padded input. */
    static ConvGeom padded(ConvGeom g) {
        return new ConvGeom(g.n(), g.c(), g.h() + g.padTop() + g.padBottom(), g.w() + g.padLeft() + g.padRight(),
                g.k(), g.r(), g.s(), g.stride(), 0, 0, 0, 0);
    }

    private synchronized Plan plan(ConvGeom g) {
        Plan p = plans.get(g);
        if (p != null) return p;
        MemorySegment h = be.cudnn();
        MemorySegment x = Cudnn.tensor4d(g.n(), g.c(), g.h(), g.w()), w = Cudnn.filter4d(g.k(), g.c(), g.r(), g.s());
        MemorySegment y = Cudnn.tensor4d(g.n(), g.k(), g.ho(), g.wo());
        MemorySegment conv = Cudnn.convolution2d(g.padTop(), g.padLeft(), g.stride(), g.stride(),
                be.tf32() ? Cudnn.TENSOR_OP_MATH_ALLOW_CONVERSION : Cudnn.FMA_MATH);
        p = new Plan(x, w, y, conv,
                Cudnn.chooseAlgo(Cudnn.Pass.FORWARD, h, x, w, conv, y, MAX_WORKSPACE),
                Cudnn.chooseAlgo(Cudnn.Pass.BACKWARD_DATA, h, x, w, conv, y, MAX_WORKSPACE),
                Cudnn.chooseAlgo(Cudnn.Pass.BACKWARD_FILTER, h, x, w, conv, y, MAX_WORKSPACE));
        plans.put(g, p);
        return p;
    }

    private void run(Cudnn.Pass pass, Plan p, Cudnn.Algo algo, long x, long w, long y) {
        long ws = algo.workspaceBytes() > 0 ? be.workspace(algo.workspaceBytes()) : 0;
        Cudnn.run(pass, be.cudnn(), be.oneZero(), p.x(), x, p.w(), w, p.conv(), p.y(), y, algo, ws);
    }

    /** y = conv(x, w) (+ bias (k) when bias != 0). */
    void forward(long y, long x, long w, long bias, ConvGeom g) {
        if (symmetric(g)) {
            Plan p = plan(g);
            run(Cudnn.Pass.FORWARD, p, p.fwd(), x, w, y);
        } else {
            ConvGeom pg = padded(g);
            try (CudaBackend.Temp xp = be.temp((long) pg.n() * pg.c() * pg.h() * pg.w())) {
                pad(xp.ptr(), x, g, pg);
                Plan p = plan(pg);
                run(Cudnn.Pass.FORWARD, p, p.fwd(), xp.ptr(), w, y);
            }
        }
        if (bias != 0) {
            int[] shape = {g.n(), g.k(), g.ho() * g.wo()};
            long[] out = Strides6.contiguous(shape);
            CudaElementwise.binaryForward(be, y, y, bias, Strides6.of(shape, out, 0, new long[] {0, 1, 0}, 0, out),
                    g.n() * g.k() * g.ho() * g.wo(), 0);
        }
    }

    /** dx from dy and w. */
    void backwardInput(long dx, long dy, long w, ConvGeom g) {
        if (symmetric(g)) {
            Plan p = plan(g);
            run(Cudnn.Pass.BACKWARD_DATA, p, p.bwdData(), dx, w, dy);
            return;
        }
        ConvGeom pg = padded(g);
        try (CudaBackend.Temp dxp = be.temp((long) pg.n() * pg.c() * pg.h() * pg.w())) {
            Plan p = plan(pg);
            run(Cudnn.Pass.BACKWARD_DATA, p, p.bwdData(), dxp.ptr(), w, dy);
            // dx = interior of dxp
            int[] shape = {g.n() * g.c(), g.h(), g.w()};
            long[] src = {(long) pg.h() * pg.w(), pg.w(), 1};
            long off = (long) g.padTop() * pg.w() + g.padLeft();
            CudaElementwise.copyForward(be, dx, dxp.ptr(), Strides6.of(shape, src, off, Strides6.contiguous(shape), 0,
                    Strides6.contiguous(shape)), g.n() * g.c() * g.h() * g.w());
        }
    }

    /** dw (and dbias (k) when dbias != 0) from dy and x, overwritten. */
    void backwardWeight(long dw, long dbias, long dy, long x, ConvGeom g) {
        if (symmetric(g)) {
            Plan p = plan(g);
            run(Cudnn.Pass.BACKWARD_FILTER, p, p.bwdFilter(), x, dw, dy);
        } else {
            ConvGeom pg = padded(g);
            try (CudaBackend.Temp xp = be.temp((long) pg.n() * pg.c() * pg.h() * pg.w())) {
                pad(xp.ptr(), x, g, pg);
                Plan p = plan(pg);
                run(Cudnn.Pass.BACKWARD_FILTER, p, p.bwdFilter(), xp.ptr(), dw, dy);
            }
        }
        if (dbias != 0) {
            // 1. per (n, k): sum over ho*wo   2. per k: sum over n
            try (CudaBackend.Temp perSample = be.temp((long) g.n() * g.k())) {
                CudaReduce.forward(be, ReduceOp.SUM, perSample.ptr(), dy, g.n() * g.k(), g.ho() * g.wo(), 1);
                CudaReduce.forward(be, ReduceOp.SUM, dbias, perSample.ptr(), 1, g.n(), g.k());
            }
        }
    }

    /** xp (padded geometry) = zeros with x copied into the interior. */
    private void pad(long xp, long x, ConvGeom g, ConvGeom pg) {
        long total = (long) pg.n() * pg.c() * pg.h() * pg.w();
        CudaDriver.cuMemsetD32Async(xp, 0, total, be.stream());
        int[] shape = {g.n() * g.c(), g.h(), g.w()};
        long[] dst = {(long) pg.h() * pg.w(), pg.w(), 1};
        long off = (long) g.padTop() * pg.w() + g.padLeft();
        CudaElementwise.copyForward(be, xp, x, Strides6.of(shape, Strides6.contiguous(shape), 0, dst, off, dst),
                g.n() * g.c() * g.h() * g.w());
    }

    @Override
    public synchronized void close() {
        for (Plan p : plans.values()) {
            Cudnn.destroyTensor(p.x());
            Cudnn.destroyTensor(p.y());
            Cudnn.destroyFilter(p.w());
            Cudnn.destroyConvolution(p.conv());
        }
        plans.clear();
    }
}
