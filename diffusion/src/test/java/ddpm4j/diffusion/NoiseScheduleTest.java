// SPDX-License-Identifier: Apache-2.0
// Schedule constants pinned against float64 values computed independently (scripts/golden/diffusion_golden.py) and
// against diffusers' DDPMScheduler test (variance at t = 487 is 0.00979); scheduler_config.json parsing and errors.
package ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.Json;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NoiseScheduleTest {
    private static double get(NoiseSchedule s, String name, int t) {
        return switch (name) {
            case "beta" -> s.beta(t);
            case "alphaBar" -> s.alphaBar(t);
            case "alphaBarPrev" -> s.alphaBarPrev(t);
            case "posteriorVariance" -> s.posteriorVariance(t);
            case "posteriorLogVarianceClipped" -> s.posteriorLogVarianceClipped(t);
            case "posteriorMeanCoef1" -> s.posteriorMeanCoef1(t);
            case "posteriorMeanCoef2" -> s.posteriorMeanCoef2(t);
            default -> throw new AssertionError(name);
        };
    }

    private static void checkAgainst(NoiseSchedule s, Map<String, Object> golden) {
        for (var e : golden.entrySet()) {
            @SuppressWarnings("unchecked") Map<String, Object> byT = (Map<String, Object>) e.getValue();
            for (var v : byT.entrySet()) {
                int t = Integer.parseInt(v.getKey());
                double want = ((Number) v.getValue()).doubleValue(), got = get(s, e.getKey(), t);
                assertEquals(want, got, 1e-12 + 1e-12 * Math.abs(want), e.getKey() + " at t=" + t);
                float f = s.f32(e.getKey())[t];
                assertEquals((float) want, f, Math.ulp((float) want), e.getKey() + " float32 at t=" + t);
            }
        }
    }

    @Test
    void linearMatchesIndependentFloat64() throws Exception {
        checkAgainst(NoiseSchedule.linear(), Golden.map(Golden.load(), "linear"));
    }

    @Test
    void cosineMatchesIndependentFloat64() throws Exception {
        var s = new NoiseSchedule(SchedulerConfig.paperLinear().withSchedule("squaredcos_cap_v2"));
        checkAgainst(s, Golden.map(Golden.load(), "cosine"));
        assertEquals(0.999, s.beta(999), 1e-15, "cosine betas are capped at 0.999");
    }

    @Test
    void diffusersVarianceAt487() {
        NoiseSchedule s = NoiseSchedule.linear();
        assertEquals(0.0, s.sigmaSquared(0), 1e-12);
        assertEquals(0.00979, s.sigmaSquared(487), 1e-5);
        assertEquals(0.02, s.sigmaSquared(999), 1e-5);
        NoiseSchedule large = new NoiseSchedule(SchedulerConfig.paperLinear().withVariance("fixed_large"));
        assertEquals(s.beta(487), large.sigmaSquared(487), 0);
        // the posterior log variance at t = 0 is clipped to the t = 1 value, not log(0)
        assertEquals(Math.log(s.posteriorVariance(1)), s.posteriorLogVarianceClipped(0), 1e-15);
        float[] ancestral = s.ancestralCoefs(0, 2);
        assertEquals(0f, ancestral[4]);
        assertEquals(0f, ancestral[9]);
        assertEquals((float) Math.sqrt(s.posteriorVariance(500)), s.ancestralCoefs(500, 1)[4], 0);
    }

    @Test
    void timestepOutOfRangeIsAClearError() {
        var e = assertThrows(IllegalArgumentException.class, () -> NoiseSchedule.linear().alphaBar(1000));
        assertTrue(e.getMessage().contains("timestep 1000 is out of range [0, 999]"), e.getMessage());
    }

    @Test
    void schedulerConfigRoundTripAndDiffusersFile(@TempDir Path dir) throws Exception {
        SchedulerConfig c = SchedulerConfig.paperLinear().withSchedule("squaredcos_cap_v2");
        c.write(dir);
        assertEquals(c, SchedulerConfig.read(dir));
        // google/ddpm-cifar10-32's file as published
        String cifar = "{\"_class_name\": \"DDPMScheduler\", \"_diffusers_version\": \"0.1.1\", \"beta_end\": 0.02, "
                + "\"beta_schedule\": \"linear\", \"beta_start\": 0.0001, \"clip_sample\": true, \"num_train_timesteps\": 1000, "
                + "\"trained_betas\": null, \"variance_type\": \"fixed_small\"}";
        assertEquals(SchedulerConfig.paperLinear(), SchedulerConfig.fromJson(Json.parse(cifar, "cifar"), "cifar"));
    }

    @Test
    void badSchedulerConfigsNameTheField(@TempDir Path dir) throws Exception {
        String[][] cases = {
                {"{\"variance_type\": \"learned\"}", "variance_type 'learned'"},
                {"{\"beta_schedule\": \"sigmoid\"}", "beta_schedule 'sigmoid'"},
                {"{\"prediction_type\": \"v_prediction\"}", "prediction_type 'v_prediction'"},
                {"{\"num_train_timesteps\": \"many\"}", "field 'num_train_timesteps' must be an integer"},
                {"{\"betas\": 1}", "unknown field 'betas'"},
                {"{\"_class_name\": \"PNDMScheduler\"}", "'_class_name'"},
                {"{\"beta_start\": 0.5, \"beta_end\": 0.1}", "beta_start and beta_end"},
        };
        for (String[] c : cases) {
            var e = assertThrows(FormatException.class, () -> SchedulerConfig.fromJson(Json.parse(c[0], "x.json"), "x.json"));
            assertTrue(e.getMessage().contains(c[1]) && e.getMessage().contains("x.json"), c[0] + " -> " + e.getMessage());
        }
        var missing = assertThrows(NoSuchFileException.class, () -> SchedulerConfig.read(dir));
        assertTrue(missing.getMessage().contains("scheduler_config.json"), missing.getMessage());
        Files.writeString(dir.resolve("scheduler_config.json"), "{\"clip_sample\": 1}");
        var bad = assertThrows(FormatException.class, () -> SchedulerConfig.read(dir));
        assertTrue(bad.getMessage().contains("clip_sample"), bad.getMessage());
    }
}
