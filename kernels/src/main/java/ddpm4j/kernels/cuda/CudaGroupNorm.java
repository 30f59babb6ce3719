// SPDX-License-Identifier: Apache-2.0
// Launcher for src/cuda/groupnorm.cu: GroupNorm forward/backward with optional fused SiLU, one block per (n, group).
package ddpm4j.kernels.cuda;

/** groupnorm.cu kernels. x, out, dx, dy: (N, C, HW); w, b, dw, db: (C); mean, rstd: (N, G). */
final class CudaGroupNorm {
    private CudaGroupNorm() {}

    private static final String FILE = "groupnorm";

    static void forward(CudaBackend be, long out, long mean, long rstd, long x, long w, long b,
                        int n, int c, int hw, int groups, float eps, boolean silu) {
        check(n, c, groups);
        be.kernel(FILE, "groupnorm_forward").launch(be.stream(), n * groups, 1, 256, 1, 0,
                out, mean, rstd, x, w, b, n, c, hw, groups, eps, silu ? 1 : 0);
    }

    /**
     * dw and db are ADDED into: the caller zeroes them. Each sample's share goes to scratch (N, C) rows that a second
     * kernel sums over N in order, so the result is the same bits on every run (no atomics).
     */
    static void backward(CudaBackend be, long dx, long dw, long db, long dy, long x, long w, long b, long mean, long rstd,
                         int n, int c, int hw, int groups, boolean silu) {
        check(n, c, groups);
        long nc = (long) n * c;
        try (CudaBackend.Temp part = be.temp(2 * nc)) {
            long pdw = part.ptr(), pdb = part.ptr() + 4 * nc;
            be.kernel(FILE, "groupnorm_backward").launch(be.stream(), n * groups, 1, 256, 1, 0,
                    dx, pdw, pdb, dy, x, w, b, mean, rstd, n, c, hw, groups, silu ? 1 : 0);
            be.kernel(FILE, "groupnorm_param_grad").launch(be.stream(), (c + 127) / 128, 1, 128, 1, 0, dw, db, pdw, pdb, n, c);
        }
    }

    private static void check(int n, int c, int groups) {
        if (groups < 1 || c % groups != 0)
            throw new IllegalArgumentException("groupnorm: channels " + c + " must divide into " + groups + " groups");
        if ((long) n * groups > Integer.MAX_VALUE) throw new IllegalArgumentException("groupnorm: too many (n, group) blocks");
    }
}
