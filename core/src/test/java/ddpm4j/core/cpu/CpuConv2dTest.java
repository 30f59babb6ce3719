// SPDX-License-Identifier: Apache-2.0
// CPU conv2d forward, backward-input and backward-weight (+ bias) against the reference backend's direct loops,
// on awkward geometries: 3x3 pad 1, TF-style stride 2 with right/bottom padding, 1x1, no padding, odd sizes; both
// paths (oneDNN, which the backend uses when it loads, and the im2col + GEMM fallback) whatever -Dddpm4j.winograd
// routes through the backend (WinogradConv2dTest covers that path); oneDNN loads here and repeats its results bit for bit.
package ddpm4j.core.cpu;

import ddpm4j.core.Backend;
import ddpm4j.core.Backend.ConvGeom;
import ddpm4j.core.Tensor;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static ddpm4j.core.cpu.CpuCheck.be;
import static ddpm4j.core.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CpuConv2dTest {
    static final ConvGeom[] GEOMS = {
            new ConvGeom(2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1),
            new ConvGeom(3, 4, 8, 8, 6, 3, 3, 2, 0, 0, 1, 1),      // "pad right/bottom then stride 2"
            new ConvGeom(2, 5, 6, 7, 3, 1, 1, 1, 0, 0, 0, 0),      // 1x1
            new ConvGeom(1, 2, 5, 5, 1, 3, 3, 1, 0, 0, 0, 0),      // valid
            new ConvGeom(2, 3, 9, 7, 4, 3, 3, 2, 1, 1, 1, 1),      // stride 2, pad 1
            new ConvGeom(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),
            new ConvGeom(4, 17, 10, 10, 33, 3, 3, 1, 1, 1, 1, 1),
    };

    /** oneDNN (when it loads; else the backend's path) or the im2col + GEMM fallback, on the cpu side. */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void forwardBackwardMatchReference(boolean im2col) {
        int seed = 40;
        for (ConvGeom g : GEOMS) {
            String what = g.toString();
            Tensor[] x = CpuCheck.normal(seed++, g.n(), g.c(), g.h(), g.w());
            Tensor[] w = CpuCheck.normal(seed++, g.k(), g.c(), g.r(), g.s());
            Tensor[] bias = CpuCheck.normal(seed++, g.k());
            Tensor[] dy = CpuCheck.normal(seed++, g.n(), g.k(), g.ho(), g.wo());
            Tensor[] out = CpuCheck.empty(g.n(), g.k(), g.ho(), g.wo()), outNoBias = CpuCheck.empty(g.n(), g.k(), g.ho(), g.wo());
            Tensor[] dx = CpuCheck.empty(g.n(), g.c(), g.h(), g.w()), dw = CpuCheck.empty(g.k(), g.c(), g.r(), g.s());
            Tensor[] db = CpuCheck.empty(g.k());
            for (int i = 0; i < 2; i++) {
                if (i == 1 && im2col) {
                    CpuConv2d.forwardIm2col(seg(out[1]), seg(x[1]), seg(w[1]), seg(bias[1]), g);
                    CpuConv2d.forwardIm2col(seg(outNoBias[1]), seg(x[1]), seg(w[1]), null, g);
                    CpuConv2d.backwardInputIm2col(seg(dx[1]), seg(dy[1]), seg(w[1]), g);
                    CpuConv2d.backwardWeightIm2col(seg(dw[1]), seg(db[1]), seg(dy[1]), seg(x[1]), g);
                    continue;
                }
                if (i == 1 && DnnlConv2d.enabled()) {
                    assertTrue(DnnlConv2d.forward(seg(out[1]), seg(x[1]), seg(w[1]), seg(bias[1]), g), what);
                    assertTrue(DnnlConv2d.forward(seg(outNoBias[1]), seg(x[1]), seg(w[1]), null, g), what);
                    assertTrue(DnnlConv2d.backwardData(seg(dx[1]), seg(dy[1]), seg(w[1]), g), what);
                    assertTrue(DnnlConv2d.backwardWeights(seg(dw[1]), seg(db[1]), seg(dy[1]), seg(x[1]), g), what);
                    continue;
                }
                be(i).conv2dForward(out[i], x[i], w[i], bias[i], g);
                be(i).conv2dForward(outNoBias[i], x[i], w[i], null, g);
                be(i).conv2dBackwardInput(dx[i], dy[i], w[i], g);
                be(i).conv2dBackwardWeight(dw[i], db[i], dy[i], x[i], g);
            }
            what += im2col ? " (im2col)" : DnnlConv2d.enabled() ? " (oneDNN " + DnnlConv2d.implementation(g, true) + ")" : "";
            double crs = g.c() * g.r() * g.s();
            assertClose("forward " + what, out[0], out[1], 1e-5 * Math.sqrt(crs) * 4, 1e-5);
            assertClose("forward, no bias " + what, outNoBias[0], outNoBias[1], 1e-5 * Math.sqrt(crs) * 4, 1e-5);
            assertClose("backward input " + what, dx[0], dx[1], 1e-5 * Math.sqrt(g.k() * g.r() * g.s()) * 4, 1e-5);
            double pixels = (double) g.n() * g.ho() * g.wo();
            assertClose("backward weight " + what, dw[0], dw[1], 1e-5 * Math.sqrt(pixels) * 4, 1e-5);
            assertClose("backward bias " + what, db[0], db[1], 1e-5 * Math.sqrt(pixels) * 4, 1e-5);
        }
    }

    @Test
    void backwardWeightWithoutBiasGradient() {
        ConvGeom g = GEOMS[0];
        Tensor[] x = CpuCheck.normal(90, g.n(), g.c(), g.h(), g.w()), dy = CpuCheck.normal(91, g.n(), g.k(), g.ho(), g.wo());
        Tensor[] dw = CpuCheck.empty(g.k(), g.c(), g.r(), g.s());
        for (int i = 0; i < 2; i++) be(i).conv2dBackwardWeight(dw[i], null, dy[i], x[i], g);
        assertClose("dw", dw[0], dw[1], 1e-4, 1e-5);
    }

    /**
     * The combined backward (oneDNN reorders dy once for both primitives) repeats the separate calls bit for bit, and
     * honours null dx / dw / dbias.
     */
    @Test
    void combinedBackwardEqualsSeparateCalls() {
        Backend cpu = CpuCheck.CPU;
        int seed = 120;
        for (ConvGeom g : GEOMS) {
            String what = g.toString();
            Tensor x = CpuCheck.normal(seed++, g.n(), g.c(), g.h(), g.w())[1], w = CpuCheck.normal(seed++, g.k(), g.c(), g.r(), g.s())[1];
            Tensor dy = CpuCheck.normal(seed++, g.n(), g.k(), g.ho(), g.wo())[1];
            Tensor dx = cpuEmpty(g.n(), g.c(), g.h(), g.w()), dw = cpuEmpty(g.k(), g.c(), g.r(), g.s()), db = cpuEmpty(g.k());
            cpu.conv2dBackwardInput(dx, dy, w, g);
            cpu.conv2dBackwardWeight(dw, db, dy, x, g);
            Tensor dwNoBias = cpuEmpty(g.k(), g.c(), g.r(), g.s());
            cpu.conv2dBackwardWeight(dwNoBias, null, dy, x, g);

            Tensor cdx = cpuEmpty(g.n(), g.c(), g.h(), g.w()), cdw = cpuEmpty(g.k(), g.c(), g.r(), g.s()), cdb = cpuEmpty(g.k());
            cpu.conv2dBackward(cdx, cdw, cdb, dy, x, w, g);
            assertArrayEquals(dx.toFloatArray(), cdx.toFloatArray(), "dx " + what);
            assertArrayEquals(dw.toFloatArray(), cdw.toFloatArray(), "dw " + what);
            assertArrayEquals(db.toFloatArray(), cdb.toFloatArray(), "dbias " + what);

            Tensor dxOnly = cpuEmpty(g.n(), g.c(), g.h(), g.w()), dwOnly = cpuEmpty(g.k(), g.c(), g.r(), g.s());
            Tensor cdwNoBias = cpuEmpty(g.k(), g.c(), g.r(), g.s()), cdx2 = cpuEmpty(g.n(), g.c(), g.h(), g.w());
            cpu.conv2dBackward(dxOnly, null, null, dy, x, w, g);
            cpu.conv2dBackward(null, dwOnly, null, dy, x, w, g);
            cpu.conv2dBackward(cdx2, cdwNoBias, null, dy, x, w, g);
            cpu.conv2dBackward(null, null, null, dy, x, w, g);
            assertArrayEquals(dx.toFloatArray(), dxOnly.toFloatArray(), "dx alone " + what);
            assertArrayEquals(dx.toFloatArray(), cdx2.toFloatArray(), "dx with dw, no bias " + what);
            assertArrayEquals(dwNoBias.toFloatArray(), dwOnly.toFloatArray(), "dw alone " + what);
            assertArrayEquals(dwNoBias.toFloatArray(), cdwNoBias.toFloatArray(), "dw with dx, no bias " + what);
            assertClose("dw without bias vs with " + what, dw, dwNoBias, 1e-5 * Math.sqrt((double) g.n() * g.ho() * g.wo()) * 4, 1e-5);
        }
        ConvGeom g = GEOMS[0];
        Tensor t = cpuEmpty(g.k());
        assertThrows(IllegalArgumentException.class, () -> cpu.conv2dBackward(null, null, t, t, t, t, g));
    }

    private static Tensor cpuEmpty(int... shape) {
        return CpuCheck.empty(shape)[1];
    }

    @Test
    void oneDnnLoadsOnLinuxX64() {
        String os = System.getProperty("os.name", ""), arch = System.getProperty("os.arch", "");
        if (os.toLowerCase().contains("linux") && (arch.equals("amd64") || arch.equals("x86_64"))) {
            assertTrue(OneDnn.available(), () -> "oneDNN did not load: " + OneDnn.error());
            assertTrue(DnnlConv2d.enabled());
        }
    }

    @Test
    void oneDnnRepeatsItsResultsExactly() {
        if (!DnnlConv2d.enabled()) return;
        ConvGeom g = GEOMS[6];
        Tensor[] x = CpuCheck.normal(95, g.n(), g.c(), g.h(), g.w()), w = CpuCheck.normal(96, g.k(), g.c(), g.r(), g.s());
        Tensor[] dy = CpuCheck.normal(97, g.n(), g.k(), g.ho(), g.wo());
        float[][] first = new float[3][];
        for (int rep = 0; rep < 3; rep++) {
            Tensor[] out = CpuCheck.empty(g.n(), g.k(), g.ho(), g.wo()), dx = CpuCheck.empty(g.n(), g.c(), g.h(), g.w());
            Tensor[] dw = CpuCheck.empty(g.k(), g.c(), g.r(), g.s()), db = CpuCheck.empty(g.k());
            DnnlConv2d.forward(seg(out[1]), seg(x[1]), seg(w[1]), null, g);
            DnnlConv2d.backwardData(seg(dx[1]), seg(dy[1]), seg(w[1]), g);
            DnnlConv2d.backwardWeights(seg(dw[1]), seg(db[1]), seg(dy[1]), seg(x[1]), g);
            float[][] now = {out[1].toFloatArray(), dx[1].toFloatArray(), dw[1].toFloatArray()};
            if (rep == 0) first = now;
            else for (int j = 0; j < 3; j++) assertArrayEquals(first[j], now[j], "repeat " + rep + ", output " + j);
        }
    }

    private static MemorySegment seg(Tensor t) {
        return CpuMem.seg(t);
    }
}
