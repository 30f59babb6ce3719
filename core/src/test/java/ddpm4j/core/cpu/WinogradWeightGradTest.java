// SPDX-License-Identifier: Apache-2.0
// WinogradWeightGrad: dW and dbias against the reference backend on awkward sizes (H, W not multiples of 4, odd
// channel counts, asymmetric padding, one and many chunks of tiles); the backend's dispatch under each policy;
// bit-identical results across repeats, concurrent callers and thread counts (child JVMs, -Dddpm4j.threads=1 and 3).
package ddpm4j.core.cpu;

import ddpm4j.core.Backend.ConvGeom;
import ddpm4j.core.Tensor;
import ddpm4j.core.testing.ChildJvm;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

import static ddpm4j.core.cpu.CpuCheck.REF;
import static ddpm4j.core.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WinogradWeightGradTest {
    // (n, c, h, w, k, padTop, padLeft, padBottom, padRight), beyond WinogradConv2dTest.CASES
    static final int[][] MORE = {
            {7, 5, 11, 6, 9, 1, 1, 1, 1},
            {7, 16, 8, 8, 16, 1, 1, 1, 1},      // 2 tiles a row: gathers
            {2, 17, 16, 16, 33, 0, 1, 1, 0},    // asymmetric padding on the row-load path
            {1, 3, 6, 6, 2, 0, 0, 0, 0},        // one tile
    };

    static List<int[]> cases() {
        List<int[]> all = new ArrayList<>(Arrays.asList(WinogradConv2dTest.CASES));
        all.addAll(Arrays.asList(MORE));
        return all;
    }

    /**
     * Tolerance: dW[k, c, r, s] sums P = N Ho Wo products of unit normals, so it is of size sqrt(P) and errors scale
     * with it. The transforms multiply dy by up to 64 (A dY A^T) and cancel in G^T dU G, so the fp32 error is an order
     * above direct summation's. The worst seen is 1.1e-5 sqrt(P), 1.2e-5 CpuCheck.rms(dW) (printed by this test); atol 5e-5 sqrt(P) leaves a 4x margin.
     * dbias sums dy directly (the same sum as the im2col path).
     */
    @Test
    void weightAndBiasGradientsMatchReference() {
        int seed = 500;
        double worstAbs = 0, worstRel = 0;
        for (int[] t : cases()) {
            ConvGeom g = WinogradConv2dTest.geom(t);
            assertTrue(WinogradWeightGrad.eligible(g), g::toString);
            Tensor[] x = CpuCheck.normal(seed++, g.n(), g.c(), g.h(), g.w()), dy = CpuCheck.normal(seed++, g.n(), g.k(), g.ho(), g.wo());
            Tensor[] dw = CpuCheck.empty(g.k(), g.c(), 3, 3), db = CpuCheck.empty(g.k());
            REF.conv2dBackwardWeight(dw[0], db[0], dy[0], x[0], g);
            double p = (double) g.n() * g.ho() * g.wo(), atol = 5e-5 * Math.sqrt(p);
            for (long chunk : new long[] {1L << 22, 1}) {   // one chunk of tiles (usually), and one group of L tiles per chunk
                Tensor[] dwc = CpuCheck.empty(g.k(), g.c(), 3, 3), dbc = CpuCheck.empty(g.k());
                WinogradWeightGrad.backwardWeights(CpuMem.seg(dwc[1]), CpuMem.seg(dbc[1]), CpuMem.seg(dy[1]), CpuMem.seg(x[1]), g, chunk);
                assertClose("dW " + g + " chunk " + chunk, dw[0], dwc[1], atol, 0);
                assertClose("dbias " + g, db[0], dbc[1], 1e-5 * Math.sqrt(p), 0);
                worstAbs = Math.max(worstAbs, CpuCheck.maxAbs(dw[0], dwc[1]) / Math.sqrt(p));
                worstRel = Math.max(worstRel, CpuCheck.maxAbs(dw[0], dwc[1]) / CpuCheck.rms(dw[0]));
            }
            // without dbias: dW alone, the same bits
            Tensor dwn = CpuCheck.empty(g.k(), g.c(), 3, 3)[1], dwb = CpuCheck.empty(g.k(), g.c(), 3, 3)[1];
            WinogradWeightGrad.backwardWeights(CpuMem.seg(dwn), null, CpuMem.seg(dy[1]), CpuMem.seg(x[1]), g);
            WinogradWeightGrad.backwardWeights(CpuMem.seg(dwb), CpuMem.seg(db[1]), CpuMem.seg(dy[1]), CpuMem.seg(x[1]), g);
            assertArrayEquals(dwb.toFloatArray(), dwn.toFloatArray(), "dW with and without dbias " + g);
        }
        System.out.printf("winograd weight gradient: worst |err| / sqrt(N Ho Wo) %.3g; worst |err| / CpuCheck.rms(dW) %.3g%n", worstAbs, worstRel);
    }

    @Test
    void eligibility() {
        assertFalse(WinogradWeightGrad.eligible(new ConvGeom(1, 3, 8, 8, 3, 3, 3, 2, 1, 1, 1, 1)), "stride 2");
        assertFalse(WinogradWeightGrad.eligible(new ConvGeom(1, 3, 8, 8, 3, 1, 1, 1, 0, 0, 0, 0)), "1x1");
        assertTrue(WinogradWeightGrad.eligible(new ConvGeom(1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1)), "1x1 image, padded");
        assertTrue(WinogradWeightGrad.preferred(new ConvGeom(16, 128, 8, 8, 128, 3, 3, 1, 1, 1, 1, 1)), "8x8");
        assertTrue(WinogradWeightGrad.preferred(new ConvGeom(16, 128, 4, 4, 128, 3, 3, 1, 1, 1, 1, 1)), "4x4, N 16");
        assertFalse(WinogradWeightGrad.preferred(new ConvGeom(8, 256, 4, 4, 256, 3, 3, 1, 1, 1, 1, 1)), "4x4, N 8: 8 tiles");
        assertFalse(WinogradWeightGrad.preferred(new ConvGeom(16, 1, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1)), "one channel in");
        assertFalse(WinogradWeightGrad.preferred(new ConvGeom(8, 128, 32, 32, 3, 3, 3, 1, 1, 1, 1, 1)), "three channels out");
    }

    /** The backend's dW and dbias: from here under ALL (and PREFERRED where preferred), from oneDNN or im2col under OFF. */
    @Test
    void backendDispatch() {
        ConvGeom g = new ConvGeom(4, 17, 32, 30, 16, 3, 3, 1, 1, 1, 1, 1);
        Tensor x = CpuCheck.normal(1, g.n(), g.c(), g.h(), g.w())[1], w = CpuCheck.normal(2, g.k(), g.c(), 3, 3)[1];
        Tensor dy = CpuCheck.normal(4, g.n(), g.k(), g.ho(), g.wo())[1];
        Tensor dwWino = CpuCheck.empty(g.k(), g.c(), 3, 3)[1], dbWino = CpuCheck.empty(g.k())[1];
        Tensor dwOther = CpuCheck.empty(g.k(), g.c(), 3, 3)[1], dbOther = CpuCheck.empty(g.k())[1];
        WinogradWeightGrad.backwardWeights(CpuMem.seg(dwWino), CpuMem.seg(dbWino), CpuMem.seg(dy), CpuMem.seg(x), g);
        if (!(DnnlConv2d.enabled() && DnnlConv2d.backwardWeights(CpuMem.seg(dwOther), CpuMem.seg(dbOther), CpuMem.seg(dy), CpuMem.seg(x), g)))
            CpuConv2d.backwardWeightIm2col(CpuMem.seg(dwOther), CpuMem.seg(dbOther), CpuMem.seg(dy), CpuMem.seg(x), g);
        CpuBackend.Winograd was = WinogradConv2d.mode();
        try {
            for (CpuBackend.Winograd mode : CpuBackend.Winograd.values()) {
                WinogradConv2d.setMode(mode);
                boolean here = wgradEnabled() && (mode == CpuBackend.Winograd.ALL
                        || mode == CpuBackend.Winograd.PREFERRED && WinogradWeightGrad.preferred(g));
                assertEquals(here, WinogradWeightGrad.use(g), mode::toString);
                Tensor want = here ? dwWino : dwOther, wantDb = here ? dbWino : dbOther;
                // the weight gradient alone, and with dx (the combined call)
                Tensor dw = CpuCheck.empty(g.k(), g.c(), 3, 3)[1], db = CpuCheck.empty(g.k())[1];
                CpuCheck.CPU.conv2dBackwardWeight(dw, db, dy, x, g);
                assertArrayEquals(want.toFloatArray(), dw.toFloatArray(), "dW alone, " + mode);
                assertArrayEquals(wantDb.toFloatArray(), db.toFloatArray(), "dbias alone, " + mode);
                Tensor dx = CpuCheck.empty(g.n(), g.c(), g.h(), g.w())[1];
                CpuCheck.CPU.conv2dBackward(dx, dw, db, dy, x, w, g);
                assertArrayEquals(want.toFloatArray(), dw.toFloatArray(), "dW with dx, " + mode);
                assertArrayEquals(wantDb.toFloatArray(), db.toFloatArray(), "dbias with dx, " + mode);
                Tensor dxAlone = CpuCheck.empty(g.n(), g.c(), g.h(), g.w())[1];
                CpuCheck.CPU.conv2dBackwardInput(dxAlone, dy, w, g);
                assertArrayEquals(dxAlone.toFloatArray(), dx.toFloatArray(), "dx with dW, " + mode);
            }
        } finally {
            WinogradConv2d.setMode(was);
        }
    }

    private static boolean wgradEnabled() {
        return Boolean.parseBoolean(System.getProperty("ddpm4j.winograd.wgrad", "true"));
    }

    /** Hashes of dW and dbias (several chunks; gather and row-load paths). */
    static String fingerprint() {
        return fingerprint(new ConvGeom(3, 17, 20, 20, 19, 3, 3, 1, 1, 1, 1, 1), 1L << 22) + " "
                + fingerprint(new ConvGeom(3, 17, 13, 32, 19, 3, 3, 1, 1, 1, 1, 1), 36L * 36 * 40);
    }

    static String fingerprint(ConvGeom g, long chunk) {
        Tensor x = CpuCheck.normal(11, g.n(), g.c(), g.h(), g.w())[1], dy = CpuCheck.normal(14, g.n(), g.k(), g.ho(), g.wo())[1];
        Tensor dw = CpuCheck.empty(g.k(), g.c(), 3, 3)[1], db = CpuCheck.empty(g.k())[1];
        WinogradWeightGrad.backwardWeights(CpuMem.seg(dw), CpuMem.seg(db), CpuMem.seg(dy), CpuMem.seg(x), g, chunk);
        return Integer.toHexString(Arrays.hashCode(dw.toFloatArray())) + ":" + Integer.toHexString(Arrays.hashCode(db.toFloatArray()));
    }

    public static void main(String[] args) {
        System.out.println("fingerprint " + fingerprint());
    }

    /** Repeats, two concurrent callers, and child JVMs at 1 and 3 threads give the same bits. */
    @Test
    void sameBitsForAnyCallerAndThreadCount() throws Exception {
        ChildJvm.assertSameBitsEverywhere(WinogradWeightGradTest.class, WinogradWeightGradTest::fingerprint);
    }
}
