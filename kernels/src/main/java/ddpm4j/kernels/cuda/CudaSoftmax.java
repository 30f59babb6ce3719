// SPDX-License-Identifier: Apache-2.0
// Launcher for src/cuda/softmax.cu: row softmax forward and backward.
package ddpm4j.kernels.cuda;

/** softmax.cu kernels: one block of 256 threads per row (grid-strided over rows beyond 65535). */
final class CudaSoftmax {
    private CudaSoftmax() {}

    private static final String FILE = "softmax";

    /** y = softmax(x) over the last axis of (rows, cols). */
    static void forward(CudaBackend be, long y, long x, int rows, int cols) {
        be.kernel(FILE, "softmax_forward").launch(be.stream(), Math.min(rows, 65535), 1, 256, 1, 0, y, x, rows, cols);
    }

    /** dx = y * (dy - sum(dy * y)) row by row. */
    static void backward(CudaBackend be, long dx, long dy, long y, int rows, int cols) {
        be.kernel(FILE, "softmax_backward").launch(be.stream(), Math.min(rows, 65535), 1, 256, 1, 0, dx, dy, y, rows, cols);
    }
}
