// SPDX-License-Identifier: Apache-2.0
// Launcher for src/cuda/gather.cu: row gather by int32 index and its scatter-add backward.
package ddpm4j.kernels.cuda;

/** gather.cu kernels: table (rows, dim), idx int32 (n) on the device; grid-stride over n*dim. */
final class CudaGather {
    private CudaGather() {}

    private static final String FILE = "gather";

    static void forward(CudaBackend be, long out, long table, long idx, int n, int dim) {
        be.kernel(FILE, "gather_forward").launch(be.stream(), CudaKernel.gridFor((long) n * dim), 1, 256, 1, 0, out, table, idx, n, dim);
    }

    /** dtable[idx[i], :] += dout[i, :]. */
    static void backward(CudaBackend be, long dtable, long dout, long idx, int n, int dim) {
        be.kernel(FILE, "gather_backward").launch(be.stream(), CudaKernel.gridFor((long) n * dim), 1, 256, 1, 0, dtable, dout, idx, n, dim);
    }
}
