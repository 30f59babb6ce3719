// SPDX-License-Identifier: Apache-2.0
// Launcher for src/cuda/attention.cu: fused single-head attention softmax(Q K^T * scale) V, flash-style tiles.
package ddpm4j.kernels.cuda;

/** attention.cu kernels. q, k, v, o: (B, L, C); lse, d: (B, L). Block 256, grid (ceil(L/8), B), 64*C bytes shared. */
final class CudaAttention {
    private CudaAttention() {}

    private static final String FILE = "attention";
    static final int MAX_DIM = 512;

    static void forward(CudaBackend be, long o, long lse, long q, long k, long v, int b, int l, int c, float scale) {
        check(b, l, c);
        be.kernel(FILE, "attention_forward").launch(be.stream(), (l + 7) / 8, b, 256, 1, 64 * c, o, lse, q, k, v, b, l, c, scale);
    }

    /** Needs a (B, L) scratch buffer {@code d} for rowsum(dout * o). */
    static void backward(CudaBackend be, long dq, long dk, long dv, long dout, long q, long k, long v, long o, long lse,
                         long d, int b, int l, int c, float scale) {
        check(b, l, c);
        int gx = (l + 7) / 8;
        be.kernel(FILE, "attention_backward_preprocess").launch(be.stream(), gx, b, 256, 1, 0, d, dout, o, b, l, c);
        be.kernel(FILE, "attention_backward_dq").launch(be.stream(), gx, b, 256, 1, 64 * c, dq, dout, q, k, v, lse, d, b, l, c, scale);
        be.kernel(FILE, "attention_backward_dkv").launch(be.stream(), gx, b, 256, 1, 64 * c, dk, dv, dout, q, k, v, lse, d, b, l, c, scale);
    }

    private static void check(int b, int l, int c) {
        if (c < 1 || c > MAX_DIM) throw new IllegalArgumentException("attention: head dim " + c + " outside 1.." + MAX_DIM);
        if (b < 1 || b > 65535 || l < 1) throw new IllegalArgumentException("attention: batch " + b + " / length " + l + " out of range");
    }
}
