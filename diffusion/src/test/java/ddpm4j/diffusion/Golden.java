// SPDX-License-Identifier: Apache-2.0
// Loads diffusion.json, the float64 reference written by scripts/golden/diffusion_golden.py.
package ddpm4j.diffusion;

import ddpm4j.core.io.Json;
import java.io.InputStream;
import java.util.List;
import java.util.Map;

final class Golden {
    private Golden() {}

    @SuppressWarnings("unchecked")
    static Map<String, Object> load() throws Exception {
        try (InputStream in = Golden.class.getResourceAsStream("/golden/diffusion.json")) {
            return (Map<String, Object>) Json.parse(in.readAllBytes(), "golden/diffusion.json");
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Map<String, Object> m, String key) { return (Map<String, Object>) m.get(key); }

    static double[] doubles(Object list) {
        List<?> l = (List<?>) list;
        double[] d = new double[l.size()];
        for (int i = 0; i < d.length; i++) d[i] = ((Number) l.get(i)).doubleValue();
        return d;
    }

    static int[] ints(Object list) {
        List<?> l = (List<?>) list;
        int[] d = new int[l.size()];
        for (int i = 0; i < d.length; i++) d[i] = ((Number) l.get(i)).intValue();
        return d;
    }
}
