// SPDX-License-Identifier: Apache-2.0
// Frechet distance and the Jacobi eigensolver: against numpy/PyTorch float64 values (scripts/golden/frechet_golden.py,
// which checks three independent routes to tr sqrt(S1 S2) against each other), and closed forms for diagonal and
// commuting covariances.
package ddpm4j.diffusion.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.io.Json;
import java.io.InputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FrechetTest {
    @SuppressWarnings("unchecked")
    static Map<String, Object> golden(String key) throws Exception {
        try (InputStream in = FrechetTest.class.getResourceAsStream("/golden/frechet.json")) {
            return (Map<String, Object>) ((Map<String, Object>) Json.parse(in.readAllBytes(), "golden/frechet.json")).get(key);
        }
    }

    static float[] rows(Object list, int[] dims) {
        List<?> rows = (List<?>) list;
        int d = ((List<?>) rows.getFirst()).size();
        float[] out = new float[rows.size() * d];
        for (int i = 0; i < rows.size(); i++)
            for (int j = 0; j < d; j++) out[i * d + j] = ((Number) ((List<?>) rows.get(i)).get(j)).floatValue();
        dims[0] = rows.size();
        dims[1] = d;
        return out;
    }

    static double[] doubles(Object list) { return ((List<?>) list).stream().mapToDouble(v -> ((Number) v).doubleValue()).toArray(); }

    static double num(Map<String, Object> m, String k) { return ((Number) m.get(k)).doubleValue(); }

    void checkGolden(String key, double rel) throws Exception {
        Map<String, Object> g = golden(key);
        int[] da = new int[2], db = new int[2];
        float[] a = rows(g.get("a"), da), b = rows(g.get("b"), db);
        Frechet.Stats sa = Frechet.stats(a, da[1]), sb = Frechet.stats(b, db[1]);
        assertEquals(da[0], sa.n());
        assertArrayEquals(doubles(g.get("mean_a")), sa.mu(), 1e-12);
        assertArrayEquals(doubles(g.get("cov_a_row0")), sa.sigma()[0], 1e-12);
        assertEquals(num(g, "trace_a"), Frechet.trace(sa.sigma()), 1e-12 * num(g, "trace_a"));
        assertEquals(num(g, "trace_b"), Frechet.trace(sb.sigma()), 1e-12 * num(g, "trace_b"));
        double t = num(g, "trace_sqrt_product");
        assertEquals(t, Frechet.traceSqrtProduct(sa.sigma(), sb.sigma()), rel * t, key + ": tr sqrt(S1 S2)");
        assertEquals(num(g, "frechet"), Frechet.distance(sa, sb), rel * t, key + ": Frechet distance");
    }

    @Test
    void matchesNumpyOnFullRankCovariances() throws Exception { checkGolden("full_rank", 1e-10); }

    @Test
    void matchesNumpyOnSingularCovariances() throws Exception {
        // fewer rows than features, as the tiny CLI test's floor: zero eigenvalues, sqrt is ill-conditioned there
        checkGolden("rank_deficient", 1e-6);
    }

    @Test
    void diagonalCovariances() {
        double[] a = {4, 1, 0.25, 9, 0}, b = {1, 1, 1, 4, 2};
        double[][] s1 = diag(a), s2 = diag(b);
        double expect = 0;
        for (int i = 0; i < a.length; i++) expect += Math.sqrt(a[i] * b[i]);
        assertEquals(expect, Frechet.traceSqrtProduct(s1, s2), 1e-12);
        // FD = sum (sqrt(a) - sqrt(b))^2 + |mu1 - mu2|^2
        double[] mu1 = {1, 2, 3, 4, 5}, mu2 = {1, 0, 3, 4, 6};
        double fd = 4 + 1;
        for (int i = 0; i < a.length; i++) fd += Math.pow(Math.sqrt(a[i]) - Math.sqrt(b[i]), 2);
        assertEquals(fd, Frechet.distance(new Frechet.Stats(mu1, s1, 10), new Frechet.Stats(mu2, s2, 10)), 1e-12);
    }

    @Test
    void commutingCovariances() {
        // S1 = Q D1 Q^T and S2 = Q D2 Q^T share eigenvectors, so tr sqrt(S1 S2) = sum sqrt(d1 d2)
        int n = 17;
        double[][] q = orthogonal(n, 3);
        double[] d1 = new double[n], d2 = new double[n];
        double expect = 0;
        for (int i = 0; i < n; i++) {
            d1[i] = 0.5 + i;
            d2[i] = 3.0 / (1 + i * i);
            expect += Math.sqrt(d1[i] * d2[i]);
        }
        double[][] s1 = conjugate(q, d1), s2 = conjugate(q, d2);
        assertEquals(expect, Frechet.traceSqrtProduct(s1, s2), 1e-11);
        assertEquals(expect, Frechet.traceSqrtProduct(s2, s1), 1e-11);
        var st = new Frechet.Stats(new double[n], s1, 5);
        assertEquals(0, Frechet.distance(st, st), 1e-11, "a distribution is at distance 0 from itself");
    }

    @Test
    void jacobiRecoversEigenvaluesAndSquareRootAt128() {
        int n = 128;
        double[] lambda = new double[n];
        for (int i = 0; i < n; i++) lambda[i] = i < 5 ? 0 : Math.pow(1.1, i - 60);   // PSD, with exact zeros, spread 1e-3..1e3
        double[][] a = conjugate(orthogonal(n, 7), lambda);
        double[] got = SymmetricEigen.of(a).values().clone();
        Arrays.sort(got);
        double[] want = lambda.clone();
        Arrays.sort(want);
        double max = want[n - 1];
        for (int i = 0; i < n; i++) assertEquals(want[i], got[i], 1e-12 * max, "eigenvalue " + i);
        double[][] r = SymmetricEigen.sqrtPsd(a), rr = Frechet.multiply(r, r);
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) assertEquals(a[i][j], rr[i][j], 1e-11 * max, "sqrt(A)^2 at " + i + "," + j);
    }

    @Test
    void badInputIsNamed() {
        var e = assertThrows(IllegalArgumentException.class, () -> SymmetricEigen.of(new double[][] {{1, 2}, {0, 1}}));
        assertTrue(e.getMessage().contains("not symmetric at (0, 1)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Frechet.stats(new float[4], 4));
        assertTrue(e.getMessage().contains("at least 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SymmetricEigen.of(new double[][] {{Double.NaN}}));
        assertTrue(e.getMessage().contains("NaN"), e.getMessage());
    }

    static double[][] diag(double[] d) {
        double[][] m = new double[d.length][d.length];
        for (int i = 0; i < d.length; i++) m[i][i] = d[i];
        return m;
    }

    /** A product of three Householder reflections I - 2 v v^T / v^T v with seeded random v: orthogonal by construction. */
    static double[][] orthogonal(int n, long seed) {
        var r = new Random(seed);
        double[][] q = diag(fill(n, 1));
        for (int h = 0; h < 3; h++) {
            double[] v = new double[n];
            double vv = 0;
            for (int i = 0; i < n; i++) { v[i] = r.nextGaussian(); vv += v[i] * v[i]; }
            double[][] p = diag(fill(n, 1));
            for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) p[i][j] -= 2 * v[i] * v[j] / vv;
            q = Frechet.multiply(q, p);
        }
        return q;
    }

    static double[] fill(int n, double v) {
        double[] d = new double[n];
        Arrays.fill(d, v);
        return d;
    }

    /** Q diag(d) Q^T, exactly symmetric. */
    static double[][] conjugate(double[][] q, double[] d) {
        int n = d.length;
        double[][] m = new double[n][n];
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++) {
                double acc = 0;
                for (int k = 0; k < n; k++) acc += q[i][k] * d[k] * q[j][k];
                m[i][j] = acc;
                m[j][i] = acc;
            }
        return m;
    }
}
