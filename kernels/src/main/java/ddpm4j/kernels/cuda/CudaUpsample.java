// SPDX-License-Identifier: Apache-2.0
// Launcher for src/cuda/upsample.cu: nearest 2x upsampling and its backward (2x2 block sums).
package ddpm4j.kernels.cuda;

/** upsample.cu kernels: x (planes, H, W), y (planes, 2H, 2W); grid-stride. */
final class CudaUpsample {
    private CudaUpsample() {}

    private static final String FILE = "upsample";

    static void forward(CudaBackend be, long y, long x, int planes, int h, int w) {
        be.kernel(FILE, "upsample_forward").launch(be.stream(), CudaKernel.gridFor(4L * planes * h * w), 1, 256, 1, 0, y, x, planes, h, w);
    }

    static void backward(CudaBackend be, long dx, long dy, int planes, int h, int w) {
        be.kernel(FILE, "upsample_backward").launch(be.stream(), CudaKernel.gridFor((long) planes * h * w), 1, 256, 1, 0, dx, dy, planes, h, w);
    }
}
