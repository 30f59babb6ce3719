// SPDX-License-Identifier: Apache-2.0
// CPU batched matmul against the reference backend: transposes, broadcast batch stride, row-block tasks.
package ddpm4j.core.cpu;

import ddpm4j.core.Tensor;
import org.junit.jupiter.api.Test;

import static ddpm4j.core.cpu.CpuCheck.be;
import static ddpm4j.core.testing.Close.assertClose;

class CpuMatmulTest {

    @Test
    void batchedMatmulMatchesReference() {
        int[][] sizes = {{1, 1, 1, 1}, {3, 7, 33, 17}, {2, 65, 1, 130}, {4, 16, 48, 300}, {1, 200, 150, 100}, {2, 130, 70, 500}};
        for (int[] s : sizes) {
            int batch = s[0], m = s[1], n = s[2], k = s[3];
            for (int t = 0; t < 8; t++) {
                boolean ta = (t & 1) != 0, tb = (t & 2) != 0, broadcastB = (t & 4) != 0;
                Tensor[] a = CpuCheck.normal(21 + t, batch, ta ? k : m, ta ? m : k);
                Tensor[] b = CpuCheck.normal(31 + t, broadcastB ? 1 : batch, tb ? n : k, tb ? k : n);
                Tensor[] out = CpuCheck.empty(batch, m, n);
                long strideB = broadcastB ? 0 : (long) k * n;
                for (int i = 0; i < 2; i++) be(i).matmul(out[i], a[i], b[i], ta, tb, batch, m, n, k, (long) m * k, strideB);
                assertClose("matmul " + java.util.Arrays.toString(s) + " tA=" + ta + " tB=" + tb + " bcastB=" + broadcastB,
                        out[0], out[1], 1e-5 * Math.sqrt(k) * 4, 1e-5);
            }
        }
    }
}
