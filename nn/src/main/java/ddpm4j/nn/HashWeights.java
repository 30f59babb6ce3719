// SPDX-License-Identifier: Apache-2.0
// Deterministic "hash" weights, bit-identical to scripts/golden/golden_io.py's hash_weights: lets tests rebuild the
// 35.7M CIFAR-10 golden weights instead of committing them. Pairs with HashWeightsTest.
package ddpm4j.nn;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Weights from a counter-based hash: for parameter {@code name} of shape S and element i (row-major),
 * {@code key = fnv1a64(utf8(name)) + seed * GAMMA}, {@code z = splitmix64(key + (i + 1) * GAMMA)},
 * {@code r = 2 (z >>> 40) / 2^24 - 1} in [-1, 1); then
 * <ul>
 *   <li>rank >= 2 (conv/linear weight): {@code r / sqrt(prod(S[1:]))};</li>
 *   <li>rank-1 {@code .weight} (GroupNorm gamma): {@code 1 + 0.25 r};</li>
 *   <li>{@code .bias}: {@code 0.25 r} when its {@code .weight} has rank 1, else {@code r / sqrt(fan-in of the weight)}.</li>
 * </ul>
 * Each value is computed in double and rounded once to float, so Java and NumPy agree bit for bit.
 */
public final class HashWeights {
    private static final long GAMMA = 0x9E3779B97F4A7C15L;

    private HashWeights() {}

    /** FNV-1a, 64-bit. */
    static long fnv1a64(byte[] data) {
        long h = 0xCBF29CE484222325L;
        for (byte b : data) h = (h ^ (b & 0xFF)) * 0x100000001B3L;
        return h;
    }

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * The values of one parameter.
     *
     * @param shapes every parameter's shape by name (a bias's scale depends on its weight's shape)
     */
    public static float[] values(String name, int[] shape, Map<String, int[]> shapes, long seed) {
        long n = 1;
        for (int d : shape) n *= d;
        double scale, center;
        if (name.endsWith(".bias")) {
            String w = name.substring(0, name.length() - ".bias".length()) + ".weight";
            int[] ws = shapes.get(w);
            if (ws == null) throw new IllegalArgumentException("hash weights: bias '" + name + "' has no weight '" + w + "'");
            center = 0;
            scale = ws.length == 1 ? 0.25 : 1.0 / Math.sqrt(fanIn(ws));
        } else if (shape.length == 1) {
            center = 1;
            scale = 0.25;
        } else {
            center = 0;
            scale = 1.0 / Math.sqrt(fanIn(shape));
        }
        long key = fnv1a64(name.getBytes(StandardCharsets.UTF_8)) + seed * GAMMA;
        float[] out = new float[Math.toIntExact(n)];
        for (int i = 0; i < out.length; i++) {
            long z = mix(key + (i + 1L) * GAMMA);
            double r = (z >>> 40) * (2.0 / (1 << 24)) - 1.0;
            out[i] = (float) (center == 0 ? r * scale : center + scale * r);
        }
        return out;
    }

    private static long fanIn(int[] shape) {
        long f = 1;
        for (int i = 1; i < shape.length; i++) f *= shape[i];
        return f;
    }
}
