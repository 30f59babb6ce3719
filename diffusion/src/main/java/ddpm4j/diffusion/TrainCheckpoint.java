// SPDX-License-Identifier: Apache-2.0
// The trainer's checkpoint: one safetensors file holding model, EMA and Adam moments (F32) with the step, the random
// streams (seed, offset) and the data order in its metadata, written atomically (temp, fsync, rename).
// Pairs with DdpmTrainer and DdpmTrainerTest (resume is bit-exact).
package ddpm4j.diffusion;

import ddpm4j.core.Tensor;
import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.SafeTensors;
import ddpm4j.core.io.SafeTensorsEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Layout: tensors {@code model.<name>}, {@code ema.<name>}, {@code adam.m.<i>}, {@code adam.v.<i>}; metadata
 * {@code format}, {@code step}, {@code adam_steps}, {@code epoch}, {@code position}, {@code gen_seed},
 * {@code gen_offset}, {@code dropout_seed}, {@code dropout_offset}, {@code batch_size}, {@code seed}.
 * A reader (or a run killed at any moment) sees the previous complete checkpoint or the new complete one.
 */
public final class TrainCheckpoint {
    /** The checkpoint's file name in a run folder. */
    public static final String FILE = "checkpoint.safetensors";
    static final String FORMAT = "ddpm4j-train-checkpoint-1";

    private TrainCheckpoint() {}

    /** Writes the trainer's full state to {@code file} atomically. */
    public static void save(DdpmTrainer tr, Path file) throws IOException {
        var entries = new LinkedHashMap<String, SafeTensorsEntry>();
        var named = tr.model().namedParameters();
        List<Tensor> shadow = tr.ema().shadow();
        int i = 0;
        for (var e : named.entrySet()) entries.put("model." + e.getKey(), f32(e.getValue()));
        for (var e : named.entrySet()) entries.put("ema." + e.getKey(), f32(shadow.get(i++)));
        for (var e : tr.adam().moments().entrySet()) entries.put("adam." + e.getKey(), f32(e.getValue()));
        var meta = new LinkedHashMap<String, String>();
        meta.put("format", FORMAT);
        meta.put("step", Long.toString(tr.step));
        meta.put("adam_steps", Long.toString(tr.adam().steps()));
        meta.put("epoch", Integer.toString(tr.epoch));
        meta.put("position", Integer.toString(tr.position));
        meta.put("gen_seed", Long.toString(tr.gen.seed()));
        meta.put("gen_offset", Long.toString(tr.gen.offset()));
        meta.put("dropout_seed", Long.toString(tr.dropoutGen.seed()));
        meta.put("dropout_offset", Long.toString(tr.dropoutGen.offset()));
        meta.put("batch_size", Integer.toString(tr.config().batchSize()));
        meta.put("seed", Long.toString(tr.config().seed()));
        if (file.getParent() != null) Files.createDirectories(file.getParent());
        SafeTensors.write(file, entries, meta);
    }

    /** The step stored in a checkpoint (reads only the header). */
    public static long stepOf(Path file) throws IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            return Long.parseLong(meta(st.metadata(), "step", file));
        }
    }

    /** Restores the trainer's state from {@code file}; the model's shapes and the run's batch size must match. */
    public static void load(DdpmTrainer tr, Path file) throws IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            Map<String, String> m = st.metadata();
            if (!FORMAT.equals(m.get("format")))
                throw new FormatException(file.toString(), "not a ddpm4j training checkpoint (metadata 'format' is "
                        + m.get("format") + ", expected " + FORMAT + ")");
            int batch = Integer.parseInt(meta(m, "batch_size", file));
            if (batch != tr.config().batchSize())
                throw new FormatException(file.toString(), "checkpoint was trained with batch size " + batch
                        + " but this run uses " + tr.config().batchSize() + "; resume with the same settings");
            // 1. check everything before changing anything, so a refused file leaves the trainer as it was
            long step = count(m, "step", file), adamSteps = count(m, "adam_steps", file);
            long epoch = count(m, "epoch", file), position = count(m, "position", file);
            long genSeed = Long.parseLong(meta(m, "gen_seed", file)), genOffset = count(m, "gen_offset", file);
            long dropSeed = Long.parseLong(meta(m, "dropout_seed", file)), dropOffset = count(m, "dropout_offset", file);
            if (epoch > Integer.MAX_VALUE || position > Integer.MAX_VALUE)
                throw new FormatException(file.toString(), "epoch " + epoch + " / position " + position + " out of range");
            var named = tr.model().namedParameters();
            for (var e : named.entrySet()) {
                check(st, "model." + e.getKey(), e.getValue(), file);
                check(st, "ema." + e.getKey(), e.getValue(), file);
            }
            for (var e : tr.adam().moments().entrySet()) check(st, "adam." + e.getKey(), e.getValue(), file);
            // 2. then load
            List<Tensor> shadow = tr.ema().shadow();
            int i = 0;
            for (var e : named.entrySet()) {
                copy(st, "model." + e.getKey(), e.getValue(), file);
                copy(st, "ema." + e.getKey(), shadow.get(i++), file);
            }
            Map<String, float[]> moments = new HashMap<>();
            for (String k : tr.adam().moments().keySet()) moments.put(k, st.readF32("adam." + k));
            tr.adam().load(moments, adamSteps);
            tr.step = step;
            tr.resetOrder((int) epoch, (int) position);
            tr.gen = new ddpm4j.core.Generator(genSeed, genOffset);
            tr.setDropoutGenerator(new ddpm4j.core.Generator(dropSeed, dropOffset));
        } catch (NumberFormatException e) {
            throw new FormatException(file.toString(), "bad number in checkpoint metadata: " + e.getMessage());
        }
    }

    private static String meta(Map<String, String> m, String key, Path file) throws FormatException {
        String v = m.get(key);
        if (v == null) throw new FormatException(file.toString(), "checkpoint metadata has no '" + key + "'");
        return v;
    }

    /** A metadata count (step, offset, ...): a number >= 0. */
    private static long count(Map<String, String> m, String key, Path file) throws FormatException {
        long v = Long.parseLong(meta(m, key, file));
        if (v < 0) throw new FormatException(file.toString(), "checkpoint metadata '" + key + "' is " + v + ", expected >= 0");
        return v;
    }

    /** The tensor is there, F32, with as many values as {@code like}. */
    private static void check(SafeTensors st, String key, Tensor like, Path file) throws IOException {
        if (!st.contains(key))
            throw new FormatException(file.toString(), "missing tensor '" + key + "' (was the checkpoint made with another model config?)");
        long n = st.info(key).numel();
        if (n != like.numel())
            throw new FormatException(file.toString(), "tensor '" + key + "' has " + n + " values, the model expects "
                    + like.numel() + " (" + java.util.Arrays.toString(like.shape()) + ")");
    }

    private static void copy(SafeTensors st, String key, Tensor dst, Path file) throws IOException {
        if (!st.contains(key))
            throw new FormatException(file.toString(), "missing tensor '" + key + "' (was the checkpoint made with another model config?)");
        float[] v = st.readF32(key);
        if (v.length != dst.numel())
            throw new FormatException(file.toString(), "tensor '" + key + "' has " + v.length + " values, the model expects "
                    + dst.numel() + " (" + java.util.Arrays.toString(dst.shape()) + ")");
        dst.backend().copyFromHost(dst, v, 0);
    }

    private static SafeTensorsEntry f32(Tensor t) {
        int[] s = t.shape();
        long[] l = new long[s.length];
        for (int i = 0; i < s.length; i++) l[i] = s[i];
        return SafeTensorsEntry.f32(l, t.toFloatArray());
    }
}
