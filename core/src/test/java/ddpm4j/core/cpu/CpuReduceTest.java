// SPDX-License-Identifier: Apache-2.0
// CPU reductions over (outer, r, inner) and row softmax forward/backward against the reference backend.
package ddpm4j.core.cpu;

import ddpm4j.core.Backend.ReduceOp;
import ddpm4j.core.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static ddpm4j.core.cpu.CpuCheck.be;
import static ddpm4j.core.testing.Close.assertClose;

class CpuReduceTest {

    @ParameterizedTest
    @EnumSource(ReduceOp.class)
    void reduceMatchesReference(ReduceOp op) {
        int[][] geoms = {{1, 1, 1}, {1, 1000, 1}, {7, 33, 1}, {3, 7, 33}, {2, 5, 1030}, {1, 100000, 1}};
        for (int[] g : geoms) {
            Tensor[] x = CpuCheck.normal(11, g[0], g[1], g[2]);
            Tensor[] out = CpuCheck.empty(g[0], g[2]);
            for (int i = 0; i < 2; i++) be(i).reduce(op, out[i], x[i], g[0], g[1], g[2]);
            // float accumulation against double: error grows like sqrt(r) ulp
            assertClose(op + " " + java.util.Arrays.toString(g), out[0], out[1], 2e-6 * Math.sqrt(g[1]), 1e-5);
        }
    }

    @Test
    void softmaxForwardBackward() {
        int[][] geoms = {{1, 1}, {7, 33}, {5, 1000}, {3, 17}};
        for (int[] g : geoms) {
            Tensor[] x = CpuCheck.uniform(12, -8, 8, g), dy = CpuCheck.normal(13, g);
            Tensor[] y = CpuCheck.empty(g), dx = CpuCheck.empty(g);
            for (int i = 0; i < 2; i++) {
                be(i).softmaxForward(y[i], x[i], g[0], g[1]);
                be(i).softmaxBackward(dx[i], y[i], dy[i], g[0], g[1]);
            }
            assertClose("softmax " + java.util.Arrays.toString(g), y[0], y[1], 1e-7, 1e-5);
            assertClose("softmax backward " + java.util.Arrays.toString(g), dx[0], dx[1], 1e-6, 1e-4);
        }
    }
}
