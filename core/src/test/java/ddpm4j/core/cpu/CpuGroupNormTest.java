// SPDX-License-Identifier: Apache-2.0
// CPU fused GroupNorm(+SiLU) forward and backward against the reference backend (awkward HW, affine or not).
package ddpm4j.core.cpu;

import ddpm4j.core.Tensor;
import org.junit.jupiter.api.Test;

import static ddpm4j.core.cpu.CpuCheck.be;
import static ddpm4j.core.testing.Close.assertClose;

class CpuGroupNormTest {

    @Test
    void forwardBackwardMatchReference() {
        int[][] geoms = {{2, 6, 33, 3}, {1, 4, 1, 2}, {3, 8, 7, 8}, {2, 64, 17, 32}, {1, 32, 256, 32}};
        int seed = 60;
        for (int[] gm : geoms) {
            int n = gm[0], c = gm[1], hw = gm[2], groups = gm[3];
            for (int variant = 0; variant < 3; variant++) {
                boolean silu = variant >= 1, affine = variant != 2;
                String what = java.util.Arrays.toString(gm) + " silu=" + silu + " affine=" + affine;
                Tensor[] x = CpuCheck.normal(seed++, n, c, hw);
                for (int i = 0; i < 2; i++) be(i).affine(x[i], x[i], 2.0, 3.0);     // mean far from 0
                Tensor[] w = CpuCheck.normal(seed++, c), b = CpuCheck.normal(seed++, c), dy = CpuCheck.normal(seed++, n, c, hw);
                Tensor[] out = CpuCheck.empty(n, c, hw), mean = CpuCheck.empty(n, groups), rstd = CpuCheck.empty(n, groups);
                Tensor[] dx = CpuCheck.empty(n, c, hw), dw = CpuCheck.empty(c), db = CpuCheck.empty(c);
                for (int i = 0; i < 2; i++) {
                    Tensor wi = affine ? w[i] : null, bi = affine ? b[i] : null;
                    be(i).groupNormForward(out[i], mean[i], rstd[i], x[i], wi, bi, n, c, hw, groups, 1e-5f, silu);
                    be(i).groupNormBackward(dx[i], affine ? dw[i] : null, affine ? db[i] : null, dy[i], x[i], wi, bi,
                            mean[i], rstd[i], n, c, hw, groups, silu);
                }
                assertClose("mean " + what, mean[0], mean[1], 1e-5, 1e-5);
                assertClose("rstd " + what, rstd[0], rstd[1], 1e-6, 1e-4);
                assertClose("out " + what, out[0], out[1], 1e-5, 1e-4);
                assertClose("dx " + what, dx[0], dx[1], 1e-4, 1e-3);
                if (affine) {
                    double count = Math.sqrt((double) n * hw);
                    assertClose("dw " + what, dw[0], dw[1], 1e-5 * count * 4, 1e-4);
                    assertClose("db " + what, db[0], db[1], 1e-5 * count * 4, 1e-4);
                }
            }
        }
    }
}
