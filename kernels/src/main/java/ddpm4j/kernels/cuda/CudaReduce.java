// SPDX-License-Identifier: Apache-2.0
// Launcher for src/cuda/reduce.cu: sum / max / sum of squares over the middle axis of an (outer, r, inner) view, and
// the many-block global sum of squares (gradient norm).
package ddpm4j.kernels.cuda;

import ddpm4j.core.Backend.ReduceOp;

/** reduce.cu kernels. */
final class CudaReduce {
    private CudaReduce() {}

    private static final String FILE = "reduce";

    /**
     * out (outer, inner) = sum, max or sum of squares over r of x (outer, r, inner): sum_forward, max_forward,
     * sumsq_forward_axis. Block (32, 8), grid (ceil(inner/32), min(outer, 65535)).
     */
    static void forward(CudaBackend be, ReduceOp op, long out, long x, int outer, int r, int inner) {
        if (outer < 1 || r < 1 || inner < 1) throw new IllegalArgumentException("reduce: empty view (" + outer + "," + r + "," + inner + ")");
        String kernel = switch (op) {
            case SUM -> "sum_forward";
            case MAX -> "max_forward";
            case SUMSQ -> "sumsq_forward_axis";
        };
        be.kernel(FILE, kernel).launch(be.stream(), (inner + 31) / 32, Math.min(outer, 65535), 32, 8, 0, out, x, outer, r, inner);
    }

    /**
     * out[0] += sum of x^2 over n elements: one partial per block (block 256, grid min(ceil(n/256), 1024), fixed by n),
     * then one block sums the partials in order. No atomics, so the gradient norm is the same bits on every run.
     */
    static void sumsq(CudaBackend be, long out, long x, int n) {
        int blocks = (int) Math.max(1, Math.min((n + 255L) / 256, 1024));
        try (CudaBackend.Temp part = be.temp(blocks)) {
            be.kernel(FILE, "sumsq_partial").launch(be.stream(), blocks, 1, 256, 1, 0, part.ptr(), x, n);
            be.kernel(FILE, "sum_partials").launch(be.stream(), 1, 1, 256, 1, 0, out, part.ptr(), blocks, 1f);
        }
    }
}
