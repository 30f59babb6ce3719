// SPDX-License-Identifier: Apache-2.0
// Access to the PyTorch-made golden files under src/test/resources/golden (scripts/golden/unet_golden.py) and the
// relative-error check the U-Net tests use.
package ddpm4j.nn;

import static org.junit.jupiter.api.Assertions.fail;

import ddpm4j.core.Backend;
import ddpm4j.core.GradMode;
import ddpm4j.core.Tensor;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

final class Golden {
    private Golden() {}

    /** A golden folder, e.g. "unet-small". */
    static Path dir(String name) {
        try {
            var url = Golden.class.getResource("/golden/" + name + "/config.json");
            if (url == null) throw new IllegalStateException("golden folder " + name + " is missing from the test resources");
            return Path.of(url.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Replaces every parameter with its hash value (scripts/golden/golden_io.py hash_weights). */
    static void hashInit(Module m, long seed) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        m.stateDict().forEach((k, v) -> shapes.put(k, v.shape()));
        try (GradMode g = GradMode.off()) {
            for (var e : m.stateDict().entrySet()) {
                Tensor p = e.getValue();
                try (Tensor src = Tensor.of(p.backend(), HashWeights.values(e.getKey(), p.shape(), shapes, seed), p.shape())) {
                    p.copyFrom(src);
                }
            }
        }
    }

    /** max |actual - expected| / max |expected|: the error relative to the tensor's scale. */
    static double relErr(float[] expected, float[] actual) {
        if (expected.length != actual.length) fail(actual.length + " values, expected " + expected.length);
        double worst = 0, scale = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs((double) actual[i] - expected[i]));
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        return scale == 0 ? worst : worst / scale;
    }

    static void assertRel(String what, float[] expected, float[] actual, double tol) {
        double r = relErr(expected, actual);
        if (!(r <= tol)) fail(what + ": relative error " + r + " > " + tol);
    }

    static Tensor tensor(Backend be, float[] v, long[] shape) {
        int[] s = new int[shape.length];
        for (int i = 0; i < s.length; i++) s[i] = Math.toIntExact(shape[i]);
        return Tensor.of(be, v, s);
    }
}
