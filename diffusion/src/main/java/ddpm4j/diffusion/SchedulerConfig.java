// SPDX-License-Identifier: Apache-2.0
// diffusers' DDPMScheduler scheduler_config.json as a typed record: parsing with field-naming errors, and writing.
// Pairs with NoiseSchedule (which builds the constants from it) and NoiseScheduleTest.
package ddpm4j.diffusion;

import ddpm4j.core.io.AtomicFiles;
import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The DDPM scheduler settings, named as diffusers' {@code DDPMScheduler} names them. Defaults are diffusers'.
 *
 * @param numTrainTimesteps T, the number of diffusion steps (default 1000)
 * @param betaStart         beta_1 of the linear schedule (default 1e-4)
 * @param betaEnd           beta_T of the linear schedule (default 0.02)
 * @param betaSchedule      {@code linear} (the paper), {@code scaled_linear}, or {@code squaredcos_cap_v2} (the cosine
 *                          schedule of Nichol and Dhariwal 2021)
 * @param varianceType      {@code fixed_small} (sigma^2 = beta-tilde_t) or {@code fixed_large} (sigma^2 = beta_t)
 * @param clipSample        whether the predicted x_0 is clipped to [-clipSampleRange, clipSampleRange] when sampling
 * @param clipSampleRange   the clipping bound (default 1)
 * @param predictionType    what the network predicts; only {@code epsilon} (the paper's parameterisation)
 */
public record SchedulerConfig(int numTrainTimesteps, double betaStart, double betaEnd, String betaSchedule,
                              String varianceType, boolean clipSample, double clipSampleRange, String predictionType) {
    /** The file name in a diffusers model folder. */
    public static final String FILE = "scheduler_config.json";
    static final List<String> SCHEDULES = List.of("linear", "scaled_linear", "squaredcos_cap_v2");
    static final List<String> VARIANCES = List.of("fixed_small", "fixed_large");
    private static final Set<String> KNOWN = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule",
            "trained_betas", "variance_type", "clip_sample", "clip_sample_range", "prediction_type", "thresholding",
            "dynamic_thresholding_ratio", "sample_max_value", "timestep_spacing", "steps_offset",
            "rescale_betas_zero_snr", "set_alpha_to_one", "skip_prk_steps");

    public SchedulerConfig {
        if (numTrainTimesteps < 2 || numTrainTimesteps > 100_000)
            throw new IllegalArgumentException("num_train_timesteps must be in [2, 100000], got " + numTrainTimesteps);
        if (!SCHEDULES.contains(betaSchedule))
            throw new IllegalArgumentException("beta_schedule '" + betaSchedule + "' is not supported; expected one of " + SCHEDULES);
        if (!VARIANCES.contains(varianceType))
            throw new IllegalArgumentException("variance_type '" + varianceType + "' is not supported; expected one of " + VARIANCES);
        if (!"epsilon".equals(predictionType))
            throw new IllegalArgumentException("prediction_type '" + predictionType + "' is not supported; expected \"epsilon\"");
        if (!betaSchedule.equals("squaredcos_cap_v2")
                && !(betaStart > 0 && betaEnd > betaStart && betaEnd < 1))
            throw new IllegalArgumentException("beta_start and beta_end must satisfy 0 < beta_start < beta_end < 1, got "
                    + betaStart + " and " + betaEnd);
        if (!(clipSampleRange > 0)) throw new IllegalArgumentException("clip_sample_range must be positive, got " + clipSampleRange);
    }

    /** The paper's setting: T = 1000, linear betas 1e-4 .. 0.02, sigma^2 = beta-tilde, x_0 clipped. */
    public static SchedulerConfig paperLinear() {
        return new SchedulerConfig(1000, 1e-4, 0.02, "linear", "fixed_small", true, 1.0, "epsilon");
    }

    /** Another schedule (T kept). */
    public SchedulerConfig withSchedule(String schedule) {
        return new SchedulerConfig(numTrainTimesteps, betaStart, betaEnd, schedule, varianceType, clipSample,
                clipSampleRange, predictionType);
    }

    /** Another variance type. */
    public SchedulerConfig withVariance(String variance) {
        return new SchedulerConfig(numTrainTimesteps, betaStart, betaEnd, betaSchedule, variance, clipSample,
                clipSampleRange, predictionType);
    }

    /** Another number of steps T. */
    public SchedulerConfig withTimesteps(int t) {
        return new SchedulerConfig(t, betaStart, betaEnd, betaSchedule, varianceType, clipSample, clipSampleRange,
                predictionType);
    }

    /** Reads {@code dir/scheduler_config.json}; a missing file or a bad field is a clear error naming it. */
    public static SchedulerConfig read(Path dir) throws IOException {
        Path file = Files.isDirectory(dir) ? dir.resolve(FILE) : dir;
        if (!Files.isRegularFile(file))
            throw new NoSuchFileException(file.toString(), null, "the model folder has no " + FILE
                    + " (a diffusers DDPMScheduler config is needed to know the noise schedule)");
        return fromJson(Json.parse(file), file.toString());
    }

    /** Validates a parsed scheduler config; {@code source} names it in errors. */
    public static SchedulerConfig fromJson(Object json, String source) throws FormatException {
        if (!(json instanceof Map<?, ?> raw)) throw new FormatException(source, "scheduler config is not a JSON object");
        @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) raw;
        for (String k : m.keySet())
            if (!k.startsWith("_") && !KNOWN.contains(k))
                throw new FormatException(source, "unknown field '" + k + "' for DDPMScheduler; supported: "
                        + KNOWN.stream().sorted().toList());
        Object cls = m.get("_class_name");
        if (cls != null && !"DDPMScheduler".equals(cls) && !"DDIMScheduler".equals(cls))
            throw new FormatException(source, "field '_class_name' is " + cls + ", expected \"DDPMScheduler\"");
        if (m.get("trained_betas") != null)
            throw new FormatException(source, "field 'trained_betas' is set; only computed schedules are supported (use null)");
        if (Boolean.TRUE.equals(m.get("thresholding")))
            throw new FormatException(source, "field 'thresholding' is true; dynamic thresholding is not supported");
        if (Boolean.TRUE.equals(m.get("rescale_betas_zero_snr")))
            throw new FormatException(source, "field 'rescale_betas_zero_snr' is true; this is not supported");
        try {
            return new SchedulerConfig(integer(m, "num_train_timesteps", 1000, source), number(m, "beta_start", 1e-4, source),
                    number(m, "beta_end", 0.02, source), string(m, "beta_schedule", "linear", source),
                    string(m, "variance_type", "fixed_small", source), bool(m, "clip_sample", true, source),
                    number(m, "clip_sample_range", 1.0, source), string(m, "prediction_type", "epsilon", source));
        } catch (IllegalArgumentException e) {
            throw new FormatException(source, e.getMessage());
        }
    }

    /** The config as diffusers writes it. */
    public Map<String, Object> toJson() {
        var m = new LinkedHashMap<String, Object>();
        m.put("_class_name", "DDPMScheduler");
        m.put("_diffusers_version", "0.30.0");
        m.put("beta_end", betaEnd);
        m.put("beta_schedule", betaSchedule);
        m.put("beta_start", betaStart);
        m.put("clip_sample", clipSample);
        m.put("clip_sample_range", clipSampleRange);
        m.put("num_train_timesteps", (long) numTrainTimesteps);
        m.put("prediction_type", predictionType);
        m.put("trained_betas", null);
        m.put("variance_type", varianceType);
        return m;
    }

    /** Writes {@code dir/scheduler_config.json} atomically. */
    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        AtomicFiles.writeString(dir.resolve(FILE), Json.write(toJson()) + "\n");
    }

    private static Object value(Map<String, Object> m, String key) { return m.get(key); }

    private static int integer(Map<String, Object> m, String key, int def, String source) throws FormatException {
        Object v = value(m, key);
        if (v == null) return def;
        if (v instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) return l.intValue();
        throw new FormatException(source, "field '" + key + "' must be an integer, got " + v);
    }

    private static double number(Map<String, Object> m, String key, double def, String source) throws FormatException {
        Object v = value(m, key);
        if (v == null) return def;
        if (v instanceof Number n) return n.doubleValue();
        throw new FormatException(source, "field '" + key + "' must be a number, got " + v);
    }

    private static String string(Map<String, Object> m, String key, String def, String source) throws FormatException {
        Object v = value(m, key);
        if (v == null) return def;
        if (v instanceof String s) return s;
        throw new FormatException(source, "field '" + key + "' must be a string, got " + v);
    }

    private static boolean bool(Map<String, Object> m, String key, boolean def, String source) throws FormatException {
        Object v = value(m, key);
        if (v == null) return def;
        if (v instanceof Boolean b) return b;
        throw new FormatException(source, "field '" + key + "' must be true or false, got " + v);
    }
}
