// SPDX-License-Identifier: Apache-2.0
// Frechet distance between Gaussians fitted to two feature sets (the FID formula of Heusel et al. 2017, here in an MNIST
// classifier's feature space): ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr(sqrt(sqrt(S1) S2 sqrt(S1))), all in float64.
package ddpm4j.diffusion.eval;

/** Gaussian statistics of feature sets and the Frechet distance between them. Pairs with FrechetTest. */
public final class Frechet {
    private Frechet() {}

    /** Mean (d) and unbiased covariance (d x d, divided by n - 1 as numpy.cov) of n feature rows. */
    public record Stats(double[] mu, double[][] sigma, int n) {
        public int dim() { return mu.length; }
    }

    /**
     * Statistics of rows {@code [from, to)} of a row-major (rows, d) float array, accumulated in float64.
     *
     * @throws IllegalArgumentException if fewer than 2 rows are selected or the array is too short
     */
    public static Stats stats(float[] features, int d, int from, int to) {
        int n = to - from;
        if (n < 2) throw new IllegalArgumentException("Frechet statistics need at least 2 feature rows, got " + n);
        if ((long) to * d > features.length)
            throw new IllegalArgumentException("feature array holds " + features.length / d + " rows of " + d + ", asked for rows up to " + to);
        double[] mu = new double[d];
        for (int i = from; i < to; i++) for (int j = 0; j < d; j++) mu[j] += features[i * d + j];
        for (int j = 0; j < d; j++) mu[j] /= n;
        // upper triangle of sum (x - mu)(x - mu)^T, then mirrored
        double[][] s = new double[d][d];
        double[] r = new double[d];
        for (int i = from; i < to; i++) {
            for (int j = 0; j < d; j++) r[j] = features[i * d + j] - mu[j];
            for (int j = 0; j < d; j++) {
                double rj = r[j];
                if (rj == 0) continue;
                double[] sj = s[j];
                for (int k = j; k < d; k++) sj[k] += rj * r[k];
            }
        }
        for (int j = 0; j < d; j++)
            for (int k = j; k < d; k++) {
                s[j][k] /= n - 1;
                s[k][j] = s[j][k];
            }
        return new Stats(mu, s, n);
    }

    /** Statistics of all rows. */
    public static Stats stats(float[] features, int d) { return stats(features, d, 0, features.length / d); }

    /** The Frechet distance between N(mu1, S1) and N(mu2, S2). */
    public static double distance(Stats a, Stats b) {
        if (a.dim() != b.dim()) throw new IllegalArgumentException("feature widths differ: " + a.dim() + " vs " + b.dim());
        double dm = 0;
        for (int i = 0; i < a.dim(); i++) dm += (a.mu[i] - b.mu[i]) * (a.mu[i] - b.mu[i]);
        return dm + trace(a.sigma) + trace(b.sigma) - 2 * traceSqrtProduct(a.sigma, b.sigma);
    }

    /**
     * tr(sqrt(S1 S2)) for symmetric PSD S1, S2, computed as tr(sqrt(sqrt(S1) S2 sqrt(S1))): the inner matrix is
     * symmetric PSD and similar to S1 S2, so two symmetric eigendecompositions suffice (no general sqrtm).
     */
    public static double traceSqrtProduct(double[][] s1, double[][] s2) {
        double[][] r = SymmetricEigen.sqrtPsd(s1);
        double[][] inner = multiply(multiply(r, s2), r);
        symmetrize(inner);
        double tr = 0;
        for (double l : SymmetricEigen.of(inner).values()) tr += Math.sqrt(Math.max(l, 0));
        return tr;
    }

    static double trace(double[][] a) {
        double t = 0;
        for (int i = 0; i < a.length; i++) t += a[i][i];
        return t;
    }

    static double[][] multiply(double[][] a, double[][] b) {
        int n = a.length, m = b[0].length, kk = b.length;
        double[][] c = new double[n][m];
        for (int i = 0; i < n; i++) {
            double[] ci = c[i];
            for (int k = 0; k < kk; k++) {
                double aik = a[i][k];
                double[] bk = b[k];
                for (int j = 0; j < m; j++) ci[j] += aik * bk[j];
            }
        }
        return c;
    }

    // rounding leaves r S2 r asymmetric in the last bits; average it with its transpose
    private static void symmetrize(double[][] a) {
        for (int i = 0; i < a.length; i++)
            for (int j = i + 1; j < a.length; j++) {
                double m = 0.5 * (a[i][j] + a[j][i]);
                a[i][j] = m;
                a[j][i] = m;
            }
    }
}
