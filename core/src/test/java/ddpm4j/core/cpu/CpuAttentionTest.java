// SPDX-License-Identifier: Apache-2.0
// CPU fused attention forward (out, lse) and backward (dq, dk, dv) against the reference; len 300 spans two blocks.
package ddpm4j.core.cpu;

import ddpm4j.core.Tensor;
import org.junit.jupiter.api.Test;

import static ddpm4j.core.cpu.CpuCheck.be;
import static ddpm4j.core.testing.Close.assertClose;

class CpuAttentionTest {

    @Test
    void forwardBackwardMatchReference() {
        int[][] geoms = {{1, 1, 1}, {2, 33, 7}, {3, 17, 16}, {1, 300, 8}};
        int seed = 80;
        for (int[] gm : geoms) {
            int batch = gm[0], len = gm[1], dim = gm[2];
            float scale = (float) (1 / Math.sqrt(dim));
            String what = java.util.Arrays.toString(gm);
            Tensor[] q = CpuCheck.normal(seed++, batch, len, dim), k = CpuCheck.normal(seed++, batch, len, dim);
            Tensor[] v = CpuCheck.normal(seed++, batch, len, dim), dout = CpuCheck.normal(seed++, batch, len, dim);
            Tensor[] out = CpuCheck.empty(batch, len, dim), lse = CpuCheck.empty(batch, len);
            Tensor[] dq = CpuCheck.empty(batch, len, dim), dk = CpuCheck.empty(batch, len, dim), dv = CpuCheck.empty(batch, len, dim);
            for (int i = 0; i < 2; i++) {
                be(i).attentionForward(out[i], lse[i], q[i], k[i], v[i], batch, len, dim, scale);
                be(i).attentionBackward(dq[i], dk[i], dv[i], dout[i], q[i], k[i], v[i], out[i], lse[i], batch, len, dim, scale);
            }
            assertClose("out " + what, out[0], out[1], 1e-5, 1e-4);
            assertClose("lse " + what, lse[0], lse[1], 1e-5, 1e-5);
            assertClose("dq " + what, dq[0], dq[1], 1e-4, 1e-3);
            assertClose("dk " + what, dk[0], dk[1], 1e-4, 1e-3);
            assertClose("dv " + what, dv[0], dv[1], 1e-4, 1e-3);
        }
    }
}
