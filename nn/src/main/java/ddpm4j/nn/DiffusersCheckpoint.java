// SPDX-License-Identifier: Apache-2.0
// Reads and writes a diffusers model folder (config.json + diffusion_pytorch_model.safetensors) for UNet2DModel:
// strict loading with one error listing every missing, unexpected and mis-shaped key; old attention names mapped.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.GradMode;
import ddpm4j.core.Tensor;
import ddpm4j.core.io.AtomicFiles;
import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.Json;
import ddpm4j.core.io.SafeTensors;
import ddpm4j.core.io.SafeTensorsEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A diffusers model folder. Weights may be F32, F16 or BF16 (upcast to F32). Attention parameters saved by older
 * diffusers versions ({@code query}, {@code key}, {@code value}, {@code proj_attn}, as in google/ddpm-cifar10-32) are
 * read as {@code to_q}, {@code to_k}, {@code to_v}, {@code to_out.0}. Saving always writes the current names, F32.
 */
public final class DiffusersCheckpoint {
    /** File names inside a model folder. */
    public static final String CONFIG = "config.json", WEIGHTS = "diffusion_pytorch_model.safetensors";

    private static final Pattern LEGACY = Pattern.compile("(.*\\.attentions\\.\\d+)\\.(query|key|value|proj_attn)\\.(weight|bias)");
    private static final Map<String, String> RENAME = Map.of("query", "to_q", "key", "to_k", "value", "to_v",
            "proj_attn", "to_out.0");

    private DiffusersCheckpoint() {}

    /** Reads the folder's config.json. */
    public static UNetConfig readConfig(Path dir) throws IOException {
        Path cfg = dir.resolve(CONFIG);
        if (!Files.isRegularFile(cfg))
            throw new FormatException(dir.toString(), "not a diffusers model folder: " + CONFIG + " is missing");
        return UNetConfig.read(cfg);
    }

    /** Loads a model folder onto a backend (strict). */
    public static UNet2DModel load(Path dir, Backend be) throws IOException {
        UNetConfig cfg = readConfig(dir);
        Path weights = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(weights)) {
            String hint = Files.exists(dir.resolve("diffusion_pytorch_model.bin"))
                    ? " (only the PyTorch pickle diffusion_pytorch_model.bin is there; convert it to safetensors)" : "";
            throw new FormatException(dir.toString(), WEIGHTS + " is missing" + hint);
        }
        UNet2DModel model = new UNet2DModel(cfg, be, null);
        try {
            loadWeights(model, weights);
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        }
        return model;
    }

    /** The name a checkpoint key has in this model: old attention names mapped to the current ones. */
    public static String canonicalName(String key) {
        Matcher m = LEGACY.matcher(key);
        return m.matches() ? m.group(1) + "." + RENAME.get(m.group(2)) + "." + m.group(3) : key;
    }

    /**
     * Copies every tensor of a safetensors file into the model's state dict. Strict: if any key is missing, unexpected
     * or mis-shaped, or of a non-float dtype, nothing is loaded and one error lists all of them.
     */
    public static void loadWeights(Module model, Path weights) throws IOException {
        Map<String, Tensor> state = model.stateDict();
        try (SafeTensors st = SafeTensors.open(weights)) {
            Map<String, String> fileKeyOf = new LinkedHashMap<>();
            List<String> unexpected = new ArrayList<>(), misShaped = new ArrayList<>(), badType = new ArrayList<>(),
                    duplicate = new ArrayList<>();
            for (SafeTensors.Info info : st.infos()) {
                String name = canonicalName(info.name());
                Tensor p = state.get(name);
                if (p == null) { unexpected.add(info.name()); continue; }
                String prior = fileKeyOf.putIfAbsent(name, info.name());
                if (prior != null) { duplicate.add(info.name() + " and " + prior); continue; }
                if (!Arrays.equals(toLong(p.shape()), info.shape()))
                    misShaped.add(info.name() + ": file " + info.shapeString() + ", model " + Arrays.toString(p.shape()));
                else if (info.dtype() != SafeTensors.Dtype.F32 && info.dtype() != SafeTensors.Dtype.F16
                        && info.dtype() != SafeTensors.Dtype.BF16)
                    badType.add(info.name() + " is " + info.dtype());
            }
            List<String> missing = new ArrayList<>();
            for (String k : state.keySet()) if (!fileKeyOf.containsKey(k)) missing.add(k);
            if (!missing.isEmpty() || !unexpected.isEmpty() || !misShaped.isEmpty() || !badType.isEmpty()
                    || !duplicate.isEmpty()) {
                var msg = new StringBuilder("weights do not match the model config (").append(state.size())
                        .append(" tensors expected, the file has ").append(st.names().size()).append(')');
                list(msg, "missing keys", missing);
                list(msg, "unexpected keys", unexpected);
                list(msg, "mis-shaped keys", misShaped);
                list(msg, "keys with an unsupported dtype (expected F32, F16 or BF16)", badType);
                list(msg, "keys present under both old and new attention names", duplicate);
                throw new FormatException(weights.toString(), msg.toString());
            }
            try (GradMode g = GradMode.off()) {
                for (var e : fileKeyOf.entrySet()) {
                    Tensor p = state.get(e.getKey());
                    try (Tensor src = Tensor.of(p.backend(), st.readF32(e.getValue()), p.shape())) {
                        p.copyFrom(src);
                    }
                }
            }
        }
    }

    /** Writes config.json and the F32 weights (current diffusers names), each file atomically. */
    public static void save(UNet2DModel model, Path dir) throws IOException {
        Files.createDirectories(dir);
        var entries = new LinkedHashMap<String, SafeTensorsEntry>();
        for (var e : model.stateDict().entrySet())
            entries.put(e.getKey(), SafeTensorsEntry.f32(toLong(e.getValue().shape()), e.getValue().toFloatArray()));
        SafeTensors.write(dir.resolve(WEIGHTS), entries, Map.of("format", "pt"));
        AtomicFiles.writeString(dir.resolve(CONFIG), Json.write(model.config().toJson()));
    }

    private static void list(StringBuilder msg, String what, List<String> keys) {
        if (keys.isEmpty()) return;
        msg.append("\n  ").append(keys.size()).append(' ').append(what).append(':');
        for (String k : keys) msg.append("\n    ").append(k);
    }

    static long[] toLong(int[] s) {
        long[] l = new long[s.length];
        for (int i = 0; i < s.length; i++) l[i] = s[i];
        return l;
    }
}
