// SPDX-License-Identifier: Apache-2.0
// Sample-quality figures of issue 4 item 9: the share of generated digits the classifier labels with confidence
// (max softmax) above 0.9, the class histogram, and the Frechet distance to the test images in the classifier's feature
// layer, with the distance between the two halves of the test set as the floor: first vs second half (as the issue asks;
// MNIST's first 5,000 test digits come from other writers than the last 5,000, so this floor is high) and a seeded
// random split into halves.
package ddpm4j.diffusion.eval;

import ddpm4j.diffusion.data.Images;
import java.util.LinkedHashMap;
import java.util.Map;

/** The figures for one set of generated images against a test set. */
public record Quality(int generated, double threshold, double confidentShare, double meanConfidence, long[] classHistogram,
                      double frechet, int testImages, double frechetFloor, double frechetFloorRandom, int floorHalf) {

    /** Default confidence threshold. */
    public static final double THRESHOLD = 0.9;

    /**
     * Classifies {@code generated} and {@code test} and computes the figures; the floor compares test rows
     * [0, n/2) with [n/2, 2 (n/2)), the random floor two halves of a seeded shuffle (java.util.Random(0)).
     *
     * @throws IllegalArgumentException if fewer than 2 generated or 4 test images are given
     */
    public static Quality measure(MnistClassifier clf, Images generated, Images test, double threshold, int batch) {
        if (generated.n() < 2) throw new IllegalArgumentException("need at least 2 generated images, got " + generated.n());
        if (test.n() < 4) throw new IllegalArgumentException("need at least 4 test images, got " + test.n());
        MnistClassifier.Outputs g = clf.evaluate(generated, batch), t = clf.evaluate(test, batch);
        return of(g, t, threshold);
    }

    /** The figures from classifier outputs already computed. */
    public static Quality of(MnistClassifier.Outputs g, MnistClassifier.Outputs t, double threshold) {
        int n = g.n(), confident = 0, d = MnistClassifier.FEATURES;
        long[] hist = new long[10];
        double sumConf = 0;
        for (int i = 0; i < n; i++) {
            int best = MnistClassifier.argmax(g.probs(), i);
            float conf = g.probs()[i * 10 + best];
            hist[best]++;
            sumConf += conf;
            if (conf > threshold) confident++;
        }
        int half = t.n() / 2;
        double fd = Frechet.distance(Frechet.stats(g.features(), d), Frechet.stats(t.features(), d));
        double floor = Frechet.distance(Frechet.stats(t.features(), d, 0, half), Frechet.stats(t.features(), d, half, 2 * half));
        float[] shuffled = shuffledRows(t.features(), t.n(), d, 0);
        double floorRandom = Frechet.distance(Frechet.stats(shuffled, d, 0, half), Frechet.stats(shuffled, d, half, 2 * half));
        return new Quality(n, threshold, (double) confident / n, sumConf / n, hist, fd, t.n(), floor, floorRandom, half);
    }

    /** The rows of a (n, d) array in a seeded Fisher-Yates order. */
    static float[] shuffledRows(float[] x, int n, int d, long seed) {
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        var r = new java.util.Random(seed);
        for (int i = n - 1; i > 0; i--) { int j = r.nextInt(i + 1); int t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
        float[] out = new float[n * d];
        for (int i = 0; i < n; i++) System.arraycopy(x, perm[i] * d, out, i * d, d);
        return out;
    }

    /** The figures as an ordered JSON-ready map. */
    public Map<String, Object> toJson() {
        var m = new LinkedHashMap<String, Object>();
        m.put("generated", (long) generated);
        m.put("confidence_threshold", threshold);
        m.put("confident_share", confidentShare);
        m.put("mean_confidence", meanConfidence);
        m.put("class_histogram", java.util.Arrays.stream(classHistogram).boxed().map(Object.class::cast).toList());
        m.put("frechet_distance", frechet);
        m.put("test_images", (long) testImages);
        m.put("frechet_floor_test_halves", frechetFloor);
        m.put("frechet_floor_test_random_halves", frechetFloorRandom);
        m.put("floor_half_size", (long) floorHalf);
        return m;
    }

    /** A few human-readable lines. */
    public String summary() {
        var sb = new StringBuilder();
        sb.append(String.format(java.util.Locale.ROOT, "generated images:          %d%n", generated));
        sb.append(String.format(java.util.Locale.ROOT, "confidence > %.2f:          %.2f%% (mean max-softmax %.4f)%n", threshold, 100 * confidentShare, meanConfidence));
        sb.append("class histogram (0..9):    ").append(java.util.Arrays.toString(classHistogram)).append('\n');
        sb.append(String.format(java.util.Locale.ROOT, "Frechet distance:          %.4f (vs %d test images)%n", frechet, testImages));
        sb.append(String.format(java.util.Locale.ROOT, "floor (test half vs half): %.4f first vs second, %.4f random halves (%d vs %d)%n",
                frechetFloor, frechetFloorRandom, floorHalf, floorHalf));
        return sb.toString();
    }
}
