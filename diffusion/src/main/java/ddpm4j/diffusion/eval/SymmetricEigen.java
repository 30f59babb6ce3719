// SPDX-License-Identifier: Apache-2.0
// Eigendecomposition of a real symmetric matrix by cyclic Jacobi rotations (float64), and the PSD square root
// V diag(sqrt(max(lambda, 0))) V^T built from it. Used by Frechet; checked by FrechetTest against numpy.
package ddpm4j.diffusion.eval;

/** A = V diag(values) V^T for symmetric A; eigenvectors are the columns of {@code vectors}. */
public record SymmetricEigen(double[] values, double[][] vectors) {
    private static final int MAX_SWEEPS = 100;

    /**
     * Decomposes {@code a} (n x n, symmetric; not modified). Cyclic Jacobi: each rotation zeroes one off-diagonal
     * pair, sweeps repeat until the off-diagonal mass is below 1e-30 of the total (quadratic convergence, so this
     * costs few extra sweeps), which is accurate to a few ulps of the largest eigenvalue.
     *
     * @throws IllegalArgumentException if {@code a} is not square, not symmetric (relative 1e-9) or not finite
     */
    public static SymmetricEigen of(double[][] a) {
        int n = a.length;
        double[][] m = new double[n][];
        double total = 0;
        for (int i = 0; i < n; i++) {
            if (a[i].length != n) throw new IllegalArgumentException("matrix is not square: row " + i + " has " + a[i].length + " entries, expected " + n);
            m[i] = a[i].clone();
            for (int j = 0; j < n; j++) {
                if (!Double.isFinite(a[i][j])) throw new IllegalArgumentException("matrix entry (" + i + ", " + j + ") is " + a[i][j]);
                total += a[i][j] * a[i][j];
            }
        }
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (Math.abs(a[i][j] - a[j][i]) > 1e-9 * Math.sqrt(total))
                    throw new IllegalArgumentException("matrix is not symmetric at (" + i + ", " + j + "): " + a[i][j] + " vs " + a[j][i]);
        double[][] v = new double[n][n];
        for (int i = 0; i < n; i++) v[i][i] = 1;
        for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
            double off = 0;
            for (int p = 0; p < n; p++) for (int q = p + 1; q < n; q++) off += 2 * m[p][q] * m[p][q];
            if (off <= 1e-30 * total || off == 0) break;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) {
                    double apq = m[p][q];
                    if (apq == 0) continue;
                    // rotation angle phi with tan(2 phi) = 2 a_pq / (a_qq - a_pp); t = tan(phi), the smaller root
                    double theta = (m[q][q] - m[p][p]) / (2 * apq);
                    double t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    double c = 1 / Math.sqrt(t * t + 1), s = t * c;
                    rotate(m, v, p, q, c, s, n);
                }
        }
        double[] values = new double[n];
        for (int i = 0; i < n; i++) values[i] = m[i][i];
        return new SymmetricEigen(values, v);
    }

    // A <- J^T A J and V <- V J, J the identity but J_pp = J_qq = c, J_pq = s, J_qp = -s
    private static void rotate(double[][] m, double[][] v, int p, int q, double c, double s, int n) {
        for (int k = 0; k < n; k++) {
            double akp = m[k][p], akq = m[k][q];
            m[k][p] = c * akp - s * akq;
            m[k][q] = s * akp + c * akq;
        }
        double[] rp = m[p], rq = m[q];
        for (int k = 0; k < n; k++) {
            double apk = rp[k], aqk = rq[k];
            rp[k] = c * apk - s * aqk;
            rq[k] = s * apk + c * aqk;
        }
        for (int k = 0; k < n; k++) {
            double vkp = v[k][p], vkq = v[k][q];
            v[k][p] = c * vkp - s * vkq;
            v[k][q] = s * vkp + c * vkq;
        }
    }

    /** V diag(f(lambda)) V^T. */
    public double[][] apply(java.util.function.DoubleUnaryOperator f) {
        int n = values.length;
        double[] fl = new double[n];
        for (int k = 0; k < n; k++) fl[k] = f.applyAsDouble(values[k]);
        double[][] out = new double[n][n];
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++) {
                double acc = 0;
                for (int k = 0; k < n; k++) acc += vectors[i][k] * fl[k] * vectors[j][k];
                out[i][j] = acc;
                out[j][i] = acc;
            }
        return out;
    }

    /** The PSD square root of a symmetric positive semi-definite matrix (eigenvalues below 0 from rounding count as 0). */
    public static double[][] sqrtPsd(double[][] a) {
        return of(a).apply(l -> Math.sqrt(Math.max(l, 0)));
    }
}
