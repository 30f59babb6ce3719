// SPDX-License-Identifier: Apache-2.0
// CPU Philox fills (bit-identical to ddpm4j.core.Philox), q_sample, ancestral step, Adam, EMA, nearest upsampling
// and row gather/scatter against the reference backend.
package ddpm4j.core.cpu;

import ddpm4j.core.Tensor;
import org.junit.jupiter.api.Test;

import static ddpm4j.core.cpu.CpuCheck.be;
import static ddpm4j.core.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

class CpuFusedTest {

    @Test
    void philoxFillsAreBitIdentical() {
        for (int n : new int[]{1, 7, 4097, 100003}) {
            for (long offset : new long[]{0, 3, 1L << 33}) {
                Tensor[] u = CpuCheck.empty(n), z = CpuCheck.empty(n);
                for (int i = 0; i < 2; i++) {
                    be(i).fillUniform(u[i], 1234, offset);
                    be(i).fillNormal(z[i], 1234, offset);
                }
                assertArrayEquals(u[0].toFloatArray(), u[1].toFloatArray(), "uniform n=" + n + " offset=" + offset);
                assertArrayEquals(z[0].toFloatArray(), z[1].toFloatArray(), "normal n=" + n + " offset=" + offset);
            }
        }
    }

    @Test
    void qSampleAndAncestralStep() {
        int n = 3, d = 33 * 7;
        Tensor[] x0 = CpuCheck.normal(1, n, d), eps = CpuCheck.normal(2, n, d), z = CpuCheck.normal(3, n, d);
        Tensor[] a = CpuCheck.uniform(4, 0, 1, n), b = CpuCheck.uniform(5, 0, 1, n), coef = CpuCheck.uniform(6, -2, 2, n, 5);
        Tensor[] xt = CpuCheck.empty(n, d), clipped = CpuCheck.empty(n, d), free = CpuCheck.empty(n, d);
        for (int i = 0; i < 2; i++) {
            be(i).qSample(xt[i], x0[i], eps[i], a[i], b[i], n, d);
            be(i).ancestralStep(clipped[i], xt[i], eps[i], z[i], coef[i], n, d, true);
            be(i).ancestralStep(free[i], xt[i], eps[i], z[i], coef[i], n, d, false);
        }
        assertClose("q_sample", xt[0], xt[1], 1e-6, 1e-6);
        assertClose("ancestral, clipped", clipped[0], clipped[1], 1e-5, 1e-5);
        assertClose("ancestral, unclipped", free[0], free[1], 1e-5, 1e-5);
    }

    @Test
    void adamAndEma() {
        for (int n : new int[]{1, 7, 1000, 40000}) {
            Tensor[] p = CpuCheck.normal(10, n), g = CpuCheck.normal(11, n), m = CpuCheck.normal(12, n);
            Tensor[] v = CpuCheck.uniform(13, 0, 1, n), scale = CpuCheck.uniform(14, 0.5, 1, 1), shadow = CpuCheck.normal(15, n);
            for (int i = 0; i < 2; i++) {
                be(i).adamUpdate(p[i], g[i], m[i], v[i], scale[i], 2e-4f, 0.9f, 0.999f, 1e-8f, 0.19f, 0.0199f);
                be(i).adamUpdate(p[i], g[i], m[i], v[i], null, 2e-4f, 0.9f, 0.999f, 1e-8f, 0.271f, 0.0298f);
                be(i).emaUpdate(shadow[i], p[i], 0.9999f);
            }
            assertClose("adam p n=" + n, p[0], p[1], 1e-6, 1e-6);
            assertClose("adam m n=" + n, m[0], m[1], 1e-6, 1e-6);
            assertClose("adam v n=" + n, v[0], v[1], 1e-6, 1e-6);
            assertClose("ema n=" + n, shadow[0], shadow[1], 1e-6, 1e-6);
        }
    }

    @Test
    void upsampleGatherScatter() {
        int planes = 5, h = 3, w = 7;
        Tensor[] x = CpuCheck.normal(20, planes, h, w), dy = CpuCheck.normal(21, planes, 2 * h, 2 * w);
        Tensor[] up = CpuCheck.empty(planes, 2 * h, 2 * w), dx = CpuCheck.empty(planes, h, w);
        Tensor[] table = CpuCheck.normal(22, 10, 33), rows = CpuCheck.empty(6, 33), g = CpuCheck.normal(23, 6, 33);
        Tensor[] dtable = CpuCheck.normal(24, 10, 33);
        int[] idx = {3, 0, 9, 3, 3, 1};
        for (int i = 0; i < 2; i++) {
            be(i).upsample2xForward(up[i], x[i], planes, h, w);
            be(i).upsample2xBackward(dx[i], dy[i], planes, h, w);
            be(i).gatherRows(rows[i], table[i], idx, 33);
            be(i).scatterAddRows(dtable[i], g[i], idx, 33);
        }
        assertClose("upsample", up[0], up[1], 0, 0);
        assertClose("upsample backward", dx[0], dx[1], 1e-6, 1e-6);
        assertClose("gather", rows[0], rows[1], 0, 0);
        assertClose("scatter-add", dtable[0], dtable[1], 1e-6, 1e-6);
    }
}
