// SPDX-License-Identifier: Apache-2.0
// Launcher for src/cuda/reduce.cu: sum / max over the middle axis of an (outer, r, inner) view.
package ddpm4j.kernels.cuda;

/** reduce.cu kernels. */
final class CudaReduce {
    private CudaReduce() {}

    private static final String FILE = "reduce";

    /** out (outer, inner) = sum (or max) over r of x (outer, r, inner). Block (32, 8), grid (ceil(inner/32), min(outer, 65535)). */
    static void forward(CudaBackend be, boolean max, long out, long x, int outer, int r, int inner) {
        if (outer < 1 || r < 1 || inner < 1) throw new IllegalArgumentException("reduce: empty view (" + outer + "," + r + "," + inner + ")");
        be.kernel(FILE, max ? "max_forward" : "sum_forward").launch(be.stream(), (inner + 31) / 32, Math.min(outer, 65535),
                32, 8, 0, out, x, outer, r, inner);
    }
}
