// SPDX-License-Identifier: Apache-2.0
// WinogradConv2d: the F(4, 3) matrices against direct correlation; forward and backward-data against the reference
// backend on awkward sizes (H, W not multiples of 4, odd channel counts, asymmetric padding); bit-identical results
// across repeats, concurrent callers and thread counts (child JVMs with -Dddpm4j.threads=1 and 3).
package ddpm4j.core.cpu;

import ddpm4j.core.Backend.ConvGeom;
import ddpm4j.core.Tensor;
import ddpm4j.core.testing.ChildJvm;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

import static ddpm4j.core.cpu.CpuCheck.REF;
import static ddpm4j.core.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WinogradConv2dTest {
    // (n, c, h, w, k, padTop, padLeft, padBottom, padRight)
    static final int[][] CASES = {
            {1, 1, 1, 1, 1, 1, 1, 1, 1},
            {3, 3, 5, 7, 17, 1, 1, 1, 1},
            {1, 17, 9, 5, 3, 0, 0, 0, 0},
            {3, 64, 7, 9, 17, 1, 1, 1, 1},
            {1, 3, 33, 33, 64, 1, 1, 1, 1},
            {1, 17, 33, 9, 1, 0, 0, 0, 0},
            {3, 1, 5, 33, 3, 2, 0, 1, 2},       // asymmetric padding
            {1, 3, 9, 7, 3, 3, 1, 0, 3},        // padding beyond the kernel: backward crops dy (2 - pad < 0)
            {1, 64, 5, 1, 64, 1, 1, 1, 1},
            {3, 17, 16, 16, 17, 1, 1, 1, 1},   // tile rows of 4 tiles: the row-load / vector-store paths
            {2, 5, 13, 31, 6, 1, 1, 1, 1},     // those paths with clipped last tiles
    };

    static ConvGeom geom(int[] t) {
        return new ConvGeom(t[0], t[1], t[2], t[3], t[4], 3, 3, 1, t[5], t[6], t[7], t[8]);
    }

    /** y_i = sum_k d_{i+k} g_k (the correlation conv2d computes) equals A^T [(G g) .* (B^T d)], in double. */
    @Test
    void matricesComputeCorrelation() {
        Random rnd = new Random(7);
        for (int rep = 0; rep < 100; rep++) {
            double[] d = new double[6], g = new double[3];
            for (int i = 0; i < 6; i++) d[i] = rnd.nextGaussian();
            for (int i = 0; i < 3; i++) g[i] = rnd.nextGaussian();
            double[] e = new double[6];
            for (int i = 0; i < 6; i++) {
                double bd = 0, gg = 0;
                for (int j = 0; j < 6; j++) bd += WinogradConv2d.BT[i][j] * d[j];
                for (int j = 0; j < 3; j++) gg += WinogradConv2d.G[i][j] * g[j];
                e[i] = bd * gg;
            }
            for (int i = 0; i < 4; i++) {
                double y = 0, direct = d[i] * g[0] + d[i + 1] * g[1] + d[i + 2] * g[2];
                for (int j = 0; j < 6; j++) y += WinogradConv2d.AT[i][j] * e[j];
                assertEquals(direct, y, 1e-12, "output " + i);
            }
        }
    }

    @Test
    void eligibility() {
        assertTrue(WinogradConv2d.eligible(geom(CASES[1])));
        assertFalse(WinogradConv2d.eligible(new ConvGeom(1, 3, 8, 8, 3, 3, 3, 2, 1, 1, 1, 1)), "stride 2");
        assertFalse(WinogradConv2d.eligible(new ConvGeom(1, 3, 8, 8, 3, 1, 1, 1, 0, 0, 0, 0)), "1x1");
        assertFalse(WinogradConv2d.eligible(new ConvGeom(1, 3, 1, 5, 3, 3, 3, 1, 0, 0, 0, 0)), "empty output");
        assertTrue(WinogradConv2d.preferred(new ConvGeom(16, 64, 28, 28, 64, 3, 3, 1, 1, 1, 1, 1), false), "28x28");
        assertFalse(WinogradConv2d.preferred(new ConvGeom(16, 128, 14, 14, 128, 3, 3, 1, 1, 1, 1, 1), true), "14x14: 16x16 computed");
        assertFalse(WinogradConv2d.preferred(new ConvGeom(16, 128, 8, 8, 128, 3, 3, 1, 1, 1, 1, 1), false), "one block");
        assertFalse(WinogradConv2d.preferred(new ConvGeom(16, 1, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1), false), "one channel");
    }

    /**
     * Tolerance: F(4x4, 3x3)'s transforms multiply by up to 8 and 5 and cancel, so its fp32 error is an order above
     * direct convolution's (Lavin & Gray table 7; Barabasz et al. 2020 measure ~1e-5 relative for F(4, 3)). With unit
     * normal x and w an output is a sum of 9C terms of size ~1, so errors are scaled by sqrt(9C). The worst seen here
     * is 1.7e-5 sqrt(9C) (printed by this test; direct convolution: ~1e-6); atol 5e-5 sqrt(9C) leaves a 3x margin.
     */
    @Test
    void forwardAndBackwardDataMatchReference() {
        int seed = 300;
        double worstF = 0, worstB = 0, worstRel = 0;
        for (int[] t : CASES) {
            ConvGeom g = geom(t);
            assertTrue(WinogradConv2d.eligible(g), g::toString);
            Tensor[] x = CpuCheck.normal(seed++, g.n(), g.c(), g.h(), g.w()), w = CpuCheck.normal(seed++, g.k(), g.c(), 3, 3);
            Tensor[] bias = CpuCheck.normal(seed++, g.k()), dy = CpuCheck.normal(seed++, g.n(), g.k(), g.ho(), g.wo());
            for (boolean withBias : new boolean[] {false, true}) {
                Tensor[] out = CpuCheck.empty(g.n(), g.k(), g.ho(), g.wo());
                REF.conv2dForward(out[0], x[0], w[0], withBias ? bias[0] : null, g);
                WinogradConv2d.forward(CpuMem.seg(out[1]), CpuMem.seg(x[1]), CpuMem.seg(w[1]), withBias ? CpuMem.seg(bias[1]) : null, g);
                double atol = 5e-5 * Math.sqrt(9.0 * g.c());
                assertClose("forward " + g + " bias " + withBias, out[0], out[1], atol, 0);
                worstF = Math.max(worstF, CpuCheck.maxAbs(out[0], out[1]) / Math.sqrt(9.0 * g.c()));
                worstRel = Math.max(worstRel, CpuCheck.maxAbs(out[0], out[1]) / CpuCheck.rms(out[0]));
            }
            Tensor[] dx = CpuCheck.empty(g.n(), g.c(), g.h(), g.w());
            REF.conv2dBackwardInput(dx[0], dy[0], w[0], g);
            WinogradConv2d.backwardData(CpuMem.seg(dx[1]), CpuMem.seg(dy[1]), CpuMem.seg(w[1]), g);
            assertClose("backward data " + g, dx[0], dx[1], 5e-5 * Math.sqrt(9.0 * g.k()), 0);
            worstB = Math.max(worstB, CpuCheck.maxAbs(dx[0], dx[1]) / Math.sqrt(9.0 * g.k()));
            worstRel = Math.max(worstRel, CpuCheck.maxAbs(dx[0], dx[1]) / CpuCheck.rms(dx[0]));
        }
        System.out.printf("winograd: worst |err| / sqrt(9C): forward %.3g, backward data %.3g; worst |err| / CpuCheck.rms(out) %.3g%n",
                worstF, worstB, worstRel);
    }

    /** The backend runs 3x3 stride-1 convolutions here when enabled, else through oneDNN: the same bits either way. */
    @Test
    void policyPropertyValues() {
        assertEquals(CpuBackend.Winograd.OFF, CpuBackend.Winograd.parse("false"));
        assertEquals(CpuBackend.Winograd.PREFERRED, CpuBackend.Winograd.parse("TRUE"));
        assertEquals(CpuBackend.Winograd.ALL, CpuBackend.Winograd.parse("all"));
        var e = assertThrows(IllegalArgumentException.class, () -> CpuBackend.Winograd.parse("fast"));
        assertTrue(e.getMessage().contains("-Dddpm4j.winograd=fast") && e.getMessage().contains("true, false or all"), e.getMessage());
    }

    @Test
    void backendDispatch() {
        ConvGeom g = new ConvGeom(4, 17, 32, 30, 16, 3, 3, 1, 1, 1, 1, 1);
        assertTrue(WinogradConv2d.preferred(g, false) && WinogradConv2d.preferred(g, true), g::toString);
        Tensor x = CpuCheck.normal(1, g.n(), g.c(), g.h(), g.w())[1], w = CpuCheck.normal(2, g.k(), g.c(), 3, 3)[1];
        Tensor bias = CpuCheck.normal(3, g.k())[1], dy = CpuCheck.normal(4, g.n(), g.k(), g.ho(), g.wo())[1];
        CpuBackend.Winograd was = WinogradConv2d.mode();
        try {
            for (boolean on : new boolean[] {true, false}) {
                WinogradConv2d.setMode(on ? CpuBackend.Winograd.PREFERRED : CpuBackend.Winograd.OFF);
                Tensor[] out = {CpuCheck.empty(g.n(), g.k(), g.ho(), g.wo())[1], CpuCheck.empty(g.n(), g.k(), g.ho(), g.wo())[1]};
                Tensor[] dx = {CpuCheck.empty(g.n(), g.c(), g.h(), g.w())[1], CpuCheck.empty(g.n(), g.c(), g.h(), g.w())[1]};
                CpuCheck.CPU.conv2dForward(out[0], x, w, bias, g);
                CpuCheck.CPU.conv2dBackwardInput(dx[0], dy, w, g);
                if (on) {
                    WinogradConv2d.forward(CpuMem.seg(out[1]), CpuMem.seg(x), CpuMem.seg(w), CpuMem.seg(bias), g);
                    WinogradConv2d.backwardData(CpuMem.seg(dx[1]), CpuMem.seg(dy), CpuMem.seg(w), g);
                } else if (DnnlConv2d.enabled()) {
                    assertTrue(DnnlConv2d.forward(CpuMem.seg(out[1]), CpuMem.seg(x), CpuMem.seg(w), CpuMem.seg(bias), g));
                    assertTrue(DnnlConv2d.backwardData(CpuMem.seg(dx[1]), CpuMem.seg(dy), CpuMem.seg(w), g));
                } else {
                    CpuConv2d.forwardIm2col(CpuMem.seg(out[1]), CpuMem.seg(x), CpuMem.seg(w), CpuMem.seg(bias), g);
                    CpuConv2d.backwardInputIm2col(CpuMem.seg(dx[1]), CpuMem.seg(dy), CpuMem.seg(w), g);
                }
                assertArrayEquals(out[1].toFloatArray(), out[0].toFloatArray(), "forward, winograd " + on);
                assertArrayEquals(dx[1].toFloatArray(), dx[0].toFloatArray(), "backward data, winograd " + on);
            }
        } finally {
            WinogradConv2d.setMode(was);
        }
    }

    /**
     * Through the backend, the scratch (U, V, M; V, M', dU) is a pooled tensor taken for the call and given back: the
     * peak during each call passes the live bytes after it by at least U's (or dU's) 36 K C floats, and nothing stays live.
     */
    @Test
    void scratchComesFromThePoolAndGoesBack() {
        ConvGeom g = new ConvGeom(4, 17, 32, 30, 16, 3, 3, 1, 1, 1, 1, 1);
        assertTrue(WinogradConv2d.use(g, false) && WinogradConv2d.use(g, true) && WinogradWeightGrad.use(g), g::toString);
        Tensor x = CpuCheck.normal(1, g.n(), g.c(), g.h(), g.w())[1], w = CpuCheck.normal(2, g.k(), g.c(), 3, 3)[1];
        Tensor bias = CpuCheck.normal(3, g.k())[1], dy = CpuCheck.normal(4, g.n(), g.k(), g.ho(), g.wo())[1];
        Tensor out = CpuCheck.empty(g.n(), g.k(), g.ho(), g.wo())[1], dx = CpuCheck.empty(g.n(), g.c(), g.h(), g.w())[1];
        Tensor dw = CpuCheck.empty(g.k(), g.c(), 3, 3)[1], db = CpuCheck.empty(g.k())[1];
        long u = 36L * g.k() * g.c() * Float.BYTES;
        String[] ops = {"forward", "backward data", "weight gradient"};
        for (int op = 0; op < 3; op++) {
            long before = CpuCheck.CPU.liveBytes();
            CpuCheck.CPU.resetPeak();
            switch (op) {
                case 0 -> CpuCheck.CPU.conv2dForward(out, x, w, bias, g);
                case 1 -> CpuCheck.CPU.conv2dBackwardInput(dx, dy, w, g);
                default -> CpuCheck.CPU.conv2dBackwardWeight(dw, db, dy, x, g);
            }
            long after = CpuCheck.CPU.liveBytes(), peak = CpuCheck.CPU.peakBytes();
            assertTrue(after <= before, ops[op] + ": " + (after - before) + " bytes left live");
            assertTrue(peak - after >= u, ops[op] + ": peak " + peak + " only " + (peak - after) + " B above live " + after
                    + ", expected at least " + u);
        }
    }

    /** Hashes of forward and backward-data outputs (several blocks of tiles; gather and row-load paths). */
    static String fingerprint() {
        return fingerprint(new ConvGeom(3, 17, 20, 20, 19, 3, 3, 1, 1, 1, 1, 1)) + " "
                + fingerprint(new ConvGeom(3, 17, 13, 32, 19, 3, 3, 1, 1, 1, 1, 1));
    }

    static String fingerprint(ConvGeom g) {
        Tensor x = CpuCheck.normal(11, g.n(), g.c(), g.h(), g.w())[1], w = CpuCheck.normal(12, g.k(), g.c(), 3, 3)[1];
        Tensor bias = CpuCheck.normal(13, g.k())[1], dy = CpuCheck.normal(14, g.n(), g.k(), g.ho(), g.wo())[1];
        Tensor out = CpuCheck.empty(g.n(), g.k(), g.ho(), g.wo())[1], dx = CpuCheck.empty(g.n(), g.c(), g.h(), g.w())[1];
        WinogradConv2d.forward(CpuMem.seg(out), CpuMem.seg(x), CpuMem.seg(w), CpuMem.seg(bias), g);
        WinogradConv2d.backwardData(CpuMem.seg(dx), CpuMem.seg(dy), CpuMem.seg(w), g);
        return Integer.toHexString(Arrays.hashCode(out.toFloatArray())) + ":" + Integer.toHexString(Arrays.hashCode(dx.toFloatArray()));
    }

    public static void main(String[] args) {
        System.out.println("fingerprint " + fingerprint());
    }

    /** Repeats, two concurrent callers, and child JVMs at 1 and 3 threads give the same bits. */
    @Test
    void sameBitsForAnyCallerAndThreadCount() throws Exception {
        ChildJvm.assertSameBitsEverywhere(WinogradConv2dTest.class, WinogradConv2dTest::fingerprint);
    }
}
