// SPDX-License-Identifier: Apache-2.0
// Launcher for src/cuda/elementwise.cu: unary and broadcasting binary ops, affine, axpy, fill, strided copy.
// Owns geometry (grid-stride, block 256) and preconditions only.
package ddpm4j.kernels.cuda;

import java.lang.foreign.MemorySegment;

/** elementwise.cu kernels. Pointers are device addresses of element 0 of each (contiguous unless said) operand. */
final class CudaElementwise {
    private CudaElementwise() {}

    private static final String FILE = "elementwise";

    /** y = f(x), op = Backend.UnaryOp ordinal (same codes as the kernel). */
    static void unaryForward(CudaBackend be, long y, long x, int n, int op) {
        be.kernel(FILE, "unary_forward").launch(be.stream(), CudaKernel.gridFor(n), 1, 256, 1, 0, y, x, n, op);
    }

    /** out (contiguous, s.shape) = a op b, with a, b addressed from their base pointers through s's strides/offsets. */
    static void binaryForward(CudaBackend be, long out, long aBase, long bBase, MemorySegment s, int n, int op) {
        be.kernel(FILE, "binary_forward").launch(be.stream(), CudaKernel.gridFor(n), 1, 256, 1, 0, out, aBase, bBase, s, op);
    }

    /** y = a * x + b (y may equal x). */
    static void affineForward(CudaBackend be, long y, long x, float a, float b, int n) {
        be.kernel(FILE, "affine_forward").launch(be.stream(), CudaKernel.gridFor(n), 1, 256, 1, 0, y, x, a, b, n);
    }

    /** y = v everywhere. */
    static void fillForward(CudaBackend be, long y, float v, int n) {
        be.kernel(FILE, "fill_forward").launch(be.stream(), CudaKernel.gridFor(n), 1, 256, 1, 0, y, v, n);
    }

    /** dst[offset_b + i.stride_b] = src[offset_a + i.stride_a] over s's shape (n elements). */
    static void copyForward(CudaBackend be, long dstBase, long srcBase, MemorySegment s, int n) {
        be.kernel(FILE, "copy_forward").launch(be.stream(), CudaKernel.gridFor(n), 1, 256, 1, 0, dstBase, srcBase, s);
    }
}
