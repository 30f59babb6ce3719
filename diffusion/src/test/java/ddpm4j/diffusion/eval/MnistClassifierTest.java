// SPDX-License-Identifier: Apache-2.0
// The classifier's loss (value and gradient against a float64 hand computation), a short fit on a separable toy set,
// the save/load round trip and its errors, and the quality figures from hand-made classifier outputs.
package ddpm4j.diffusion.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import ddpm4j.core.io.FormatException;
import ddpm4j.diffusion.data.Images;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MnistClassifierTest {
    static final Backend BE = Backends.get("cpu");
    @TempDir Path dir;

    @Test
    void crossEntropyValueAndGradient() {
        var r = new Random(3);
        int n = 5;
        float[] z = new float[n * 10];
        for (int i = 0; i < z.length; i++) z[i] = (float) (r.nextGaussian() * 4);
        int[] y = {3, 0, 9, 3, 7};
        Tensor logits = Tensor.of(BE, z, n, 10).requiresGrad(true);
        Tensor loss = MnistClassifier.crossEntropy(logits, y);
        loss.backward();
        double expect = 0;
        double[] dz = new double[n * 10];
        for (int i = 0; i < n; i++) {
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int k = 0; k < 10; k++) m = Math.max(m, z[i * 10 + k]);
            for (int k = 0; k < 10; k++) s += Math.exp(z[i * 10 + k] - m);
            expect += (Math.log(s) + m - z[i * 10 + y[i]]) / n;
            // d/dz_k = (softmax_k - [k == y]) / n
            for (int k = 0; k < 10; k++) dz[i * 10 + k] = (Math.exp(z[i * 10 + k] - m) / s - (k == y[i] ? 1 : 0)) / n;
        }
        assertEquals(expect, loss.item(), 1e-5 * expect);
        assertArrayEquals(dz, logits.grad().toDoubleArray(), 1e-6);
    }

    /** n images of 4 classes: class k is a bright horizontal band at rows 4 + 5k .. 7 + 5k over faint noise. */
    static Images bands(int n, long seed, int[] labels) {
        var r = new Random(seed);
        float[] x = new float[n * 784];
        for (int i = 0; i < n; i++) {
            labels[i] = i % 4;
            for (int p = 0; p < 784; p++) {
                int row = p / 28;
                boolean on = row >= 4 + 5 * labels[i] && row < 8 + 5 * labels[i];
                x[i * 784 + p] = on ? 0.8f + 0.2f * r.nextFloat() : -1f + 0.3f * r.nextFloat();
            }
        }
        return new Images(x, n, 1, 28, 28);
    }

    @Test
    void fitSeparatesAToySetAndRoundTripsThroughItsFolder() throws Exception {
        int[] y = new int[48];
        Images x = bands(48, 1, y);
        var log = new ByteArrayOutputStream();
        try (MnistClassifier c = new MnistClassifier(BE, new Generator(0))) {
            double before = c.accuracy(x, y);
            c.fit(x, y, new MnistClassifier.FitOptions(5, 16, 2e-3, 2, 9), new PrintStream(log, true));
            assertEquals(1.0, c.accuracy(x, y), "toy bands after 15 steps (accuracy before: " + before + ")");
            assertTrue(log.toString().contains("step 15/15"), log.toString());
            c.save(dir, Map.of("test_accuracy", 1.0));
            MnistClassifier.Outputs o = c.evaluate(x, 7);   // awkward batch: 6 full + 1 partial
            try (MnistClassifier back = MnistClassifier.load(dir, BE)) {
                MnistClassifier.Outputs p = back.evaluate(x, 48);
                assertArrayEquals(o.probs(), p.probs(), 1e-6f);
                assertArrayEquals(o.features(), p.features(), 1e-5f);
            }
            float[] probs = o.probs();
            for (int i = 0; i < 48; i++) {
                double s = 0;
                for (int k = 0; k < 10; k++) s += probs[i * 10 + k];
                assertEquals(1.0, s, 1e-5, "softmax row " + i);
            }
        }
        String cfg = Files.readString(dir.resolve(MnistClassifier.CONFIG));
        assertTrue(cfg.contains("\"parameters\": 458570"), cfg);
        Files.writeString(dir.resolve(MnistClassifier.CONFIG), cfg.replace("linear(128->10)", "linear(128->11)"));
        var e = assertThrows(FormatException.class, () -> MnistClassifier.load(dir, BE));
        assertTrue(e.getMessage().contains("architecture"), e.getMessage());
        var missing = assertThrows(NoSuchFileException.class, () -> MnistClassifier.load(dir.resolve("nope"), BE));
        assertTrue(missing.getMessage().contains("ddpm classifier"), missing.getMessage());
    }

    @Test
    void rejectsOtherImageSizes() {
        try (MnistClassifier c = new MnistClassifier(BE, null)) {
            var e = assertThrows(IllegalArgumentException.class, () -> c.evaluate(new Images(new float[2 * 64], 2, 1, 8, 8), 2));
            assertTrue(e.getMessage().contains("1x28x28 images, got 1x8x8"), e.getMessage());
        }
    }

    @Test
    void qualityFiguresFromKnownOutputs() {
        // generated: 4 images, argmax 2, 2, 7, 0 with confidences 0.95, 0.5, 0.91, 0.9 (0.9 is not above 0.9)
        float[] probs = new float[40];
        float[][] rows = {{2, 0.95f}, {2, 0.5f}, {7, 0.91f}, {0, 0.9f}};
        for (int i = 0; i < 4; i++) {
            int k = (int) rows[i][0];
            float rest = (1 - rows[i][1]) / 9;
            for (int j = 0; j < 10; j++) probs[i * 10 + j] = j == k ? rows[i][1] : rest;
        }
        int d = MnistClassifier.FEATURES;
        var r = new Random(4);
        float[] gf = new float[4 * d], tf = new float[6 * d];
        for (int i = 0; i < gf.length; i++) gf[i] = (float) r.nextGaussian();
        for (int i = 0; i < 3 * d; i++) tf[i] = tf[i + 3 * d] = (float) r.nextGaussian();   // second half = first half
        var g = new MnistClassifier.Outputs(probs, gf, 4);
        var t = new MnistClassifier.Outputs(new float[60], tf, 6);
        Quality q = Quality.of(g, t, 0.9);
        assertEquals(0.5, q.confidentShare());
        assertEquals((0.95 + 0.5 + 0.91 + 0.9) / 4, q.meanConfidence(), 1e-6);
        assertArrayEquals(new long[] {1, 0, 2, 0, 0, 0, 0, 1, 0, 0}, q.classHistogram());
        // identical halves; 3 rows in 128-d leave 126 zero eigenvalues, whose rounding errors enter through sqrt: the
        // error is about sqrt(ulp) per zero eigenvalue, tiny beside the traces (~256)
        double traces = 2 * Frechet.trace(Frechet.stats(tf, d, 0, 3).sigma());
        assertEquals(0, q.frechetFloor(), 1e-6 * traces, "identical halves");
        assertEquals(3, q.floorHalf());
        float[] sh = Quality.shuffledRows(tf, 6, d, 0);
        double random = Frechet.distance(Frechet.stats(sh, d, 0, 3), Frechet.stats(sh, d, 3, 6));
        assertEquals(random, q.frechetFloorRandom(), 0);
        float[] sorted = sh.clone(), orig = tf.clone();
        java.util.Arrays.sort(sorted);
        java.util.Arrays.sort(orig);
        assertArrayEquals(orig, sorted, "a shuffle keeps the rows");
        double direct = Frechet.distance(Frechet.stats(gf, d), Frechet.stats(tf, d));
        assertEquals(direct, q.frechet(), 0);
        assertTrue(q.frechet() > 100, "independent Gaussian features in 128-d are far apart: " + q.frechet());
        assertEquals(0.5, ((Number) q.toJson().get("confident_share")).doubleValue());
    }
}
