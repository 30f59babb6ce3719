// SPDX-License-Identifier: Apache-2.0
// diffusers' UNet2DModel config.json as a typed record: parsing with field-naming errors, validation, and writing.
// Pairs with UNet2DModel (which builds from it), DiffusersCheckpoint (which reads/writes it) and UNetConfigTest.
package ddpm4j.nn;

import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The fields of a diffusers {@code UNet2DModel} config that the DDPM checkpoints use. Defaults are diffusers'.
 *
 * @param sampleSize          training image side (0 when the config has none); the network accepts any size divisible
 *                            by 2^(levels-1)
 * @param inChannels          channels of the input sample (default 3)
 * @param outChannels         channels of the predicted noise (default 3)
 * @param centerInputSample   whether the input is mapped x -> 2x - 1 first (default false)
 * @param flipSinToCos        timestep embedding order [cos, sin] instead of [sin, cos] (default true)
 * @param freqShift           diffusers' {@code downscale_freq_shift}: frequencies exp(-ln(10000) i / (half - shift))
 *                            (default 0; the DDPM checkpoints use 1)
 * @param downBlockTypes      {@code DownBlock2D} or {@code AttnDownBlock2D} per resolution level
 * @param upBlockTypes        {@code UpBlock2D} or {@code AttnUpBlock2D} per level, coarsest first
 * @param blockOutChannels    channels per level; the time embedding has 4 * blockOutChannels[0] features
 * @param layersPerBlock      residual blocks per down level (up levels have one more; default 2)
 * @param midBlockScaleFactor output scale of the mid block's residual blocks and attention (default 1)
 * @param downsamplePadding   padding of the stride-2 downsampling conv; 0 means pad right/bottom by 1 (default 1)
 * @param dropout             dropout probability inside residual blocks during training (default 0)
 * @param actFn               activation: {@code silu} (or its alias {@code swish})
 * @param attentionHeadDim    channels per attention head; null means one head over all channels (default 8)
 * @param normNumGroups       GroupNorm groups (default 32)
 * @param attnNormNumGroups   GroupNorm groups of the mid block's attention; null means normNumGroups
 * @param normEps             GroupNorm epsilon (default 1e-5; the DDPM checkpoints use 1e-6)
 * @param addAttention        whether the mid block has attention (default true)
 */
public record UNetConfig(int sampleSize, int inChannels, int outChannels, boolean centerInputSample,
                         boolean flipSinToCos, double freqShift, List<String> downBlockTypes,
                         List<String> upBlockTypes, List<Integer> blockOutChannels, int layersPerBlock,
                         double midBlockScaleFactor, int downsamplePadding, double dropout, String actFn,
                         Integer attentionHeadDim, int normNumGroups, Integer attnNormNumGroups, double normEps,
                         boolean addAttention) {

    /** Keys accepted in config.json; anything else (not starting with '_') is rejected as unknown. */
    static final Set<String> KNOWN = Set.of("sample_size", "in_channels", "out_channels", "center_input_sample",
            "time_embedding_type", "freq_shift", "flip_sin_to_cos", "down_block_types", "up_block_types",
            "block_out_channels", "layers_per_block", "mid_block_scale_factor", "downsample_padding",
            "downsample_type", "upsample_type", "dropout", "act_fn", "attention_head_dim", "norm_num_groups",
            "attn_norm_num_groups", "norm_eps", "resnet_time_scale_shift", "add_attention", "class_embed_type",
            "num_class_embeds", "num_train_timesteps");

    public UNetConfig {
        downBlockTypes = List.copyOf(downBlockTypes);
        upBlockTypes = List.copyOf(upBlockTypes);
        blockOutChannels = List.copyOf(blockOutChannels);
        validate(downBlockTypes, upBlockTypes, blockOutChannels, inChannels, outChannels, layersPerBlock,
                downsamplePadding, dropout, actFn, attentionHeadDim, normNumGroups, attnNormNumGroups, normEps,
                midBlockScaleFactor, addAttention, freqShift);
    }

    /** The paper's CIFAR-10 network, as google/ddpm-cifar10-32 publishes it (35,746,307 parameters). */
    public static UNetConfig cifar10() {
        return new UNetConfig(32, 3, 3, false, false, 1, List.of("DownBlock2D", "AttnDownBlock2D", "DownBlock2D",
                "DownBlock2D"), List.of("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
                List.of(128, 256, 256, 256), 2, 1, 0, 0.0, "silu", null, 32, null, 1e-6, true);
    }

    /** Number of resolution levels. */
    public int levels() { return blockOutChannels.size(); }

    /** Features of the time embedding MLP: 4 * blockOutChannels[0]. */
    public int timeEmbedDim() { return 4 * blockOutChannels.get(0); }

    /** Height and width must be divisible by this (one halving per level but the last). */
    public int sizeMultiple() { return 1 << (levels() - 1); }

    /** Channels per attention head for a block with {@code channels} channels. */
    public int headDim(int channels) { return attentionHeadDim == null ? channels : attentionHeadDim; }

    /** A copy with another dropout probability (training setting, not part of the architecture). */
    public UNetConfig withDropout(double p) {
        return new UNetConfig(sampleSize, inChannels, outChannels, centerInputSample, flipSinToCos, freqShift,
                downBlockTypes, upBlockTypes, blockOutChannels, layersPerBlock, midBlockScaleFactor,
                downsamplePadding, p, actFn, attentionHeadDim, normNumGroups, attnNormNumGroups, normEps,
                addAttention);
    }

    // ---- parsing --------------------------------------------------------------------------------------------------

    /** Reads and validates a config.json; errors name the file and the field. */
    public static UNetConfig read(Path configJson) throws IOException {
        Object json = Json.parse(configJson);
        return fromJson(json, configJson.toString());
    }

    /** Validates a parsed config.json object; {@code source} names it in errors. */
    public static UNetConfig fromJson(Object json, String source) throws FormatException {
        if (!(json instanceof Map<?, ?> raw)) throw new FormatException(source, "config is not a JSON object");
        @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) raw;
        List<String> unknown = new ArrayList<>();
        for (String k : m.keySet()) if (!k.startsWith("_") && !KNOWN.contains(k)) unknown.add(k);
        if (!unknown.isEmpty())
            throw new FormatException(source, "unknown field(s) " + unknown + " for UNet2DModel; supported: "
                    + KNOWN.stream().sorted().toList());
        Object cls = m.get("_class_name");
        if (cls != null && !"UNet2DModel".equals(cls))
            throw new FormatException(source, "field '_class_name' is " + quote(cls) + ", expected \"UNet2DModel\"");
        var f = new Fields(m, source);
        f.expect("time_embedding_type", "positional");
        f.expect("resnet_time_scale_shift", "default");
        f.expect("downsample_type", "conv");
        f.expect("upsample_type", "conv");
        f.expectNull("class_embed_type");
        f.expectNull("num_class_embeds");
        try {
            return new UNetConfig(f.sampleSize(), f.integer("in_channels", 3), f.integer("out_channels", 3),
                    f.bool("center_input_sample", false), f.bool("flip_sin_to_cos", true),
                    f.number("freq_shift", 0), f.strings("down_block_types",
                    List.of("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D")),
                    f.strings("up_block_types", List.of("AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D")),
                    f.integers("block_out_channels", List.of(224, 448, 672, 896)), f.integer("layers_per_block", 2),
                    f.number("mid_block_scale_factor", 1), f.integer("downsample_padding", 1),
                    f.number("dropout", 0), f.string("act_fn", "silu"), f.optionalInteger("attention_head_dim", 8),
                    f.integer("norm_num_groups", 32), f.optionalInteger("attn_norm_num_groups", null),
                    f.number("norm_eps", 1e-5), f.bool("add_attention", true));
        } catch (IllegalArgumentException e) {
            throw new FormatException(source, e.getMessage());
        }
    }

    /** The config as diffusers writes it (snake_case keys, sorted), ready for {@link Json#write}. */
    public Map<String, Object> toJson() {
        var m = new LinkedHashMap<String, Object>();
        m.put("_class_name", "UNet2DModel");
        m.put("_diffusers_version", "0.30.0");
        m.put("act_fn", actFn);
        m.put("add_attention", addAttention);
        m.put("attention_head_dim", attentionHeadDim);
        m.put("attn_norm_num_groups", attnNormNumGroups);
        m.put("block_out_channels", blockOutChannels);
        m.put("center_input_sample", centerInputSample);
        m.put("class_embed_type", null);
        m.put("down_block_types", downBlockTypes);
        m.put("downsample_padding", downsamplePadding);
        m.put("downsample_type", "conv");
        m.put("dropout", dropout);
        m.put("flip_sin_to_cos", flipSinToCos);
        m.put("freq_shift", freqShift == Math.rint(freqShift) ? (Object) (long) freqShift : freqShift);
        m.put("in_channels", inChannels);
        m.put("layers_per_block", layersPerBlock);
        m.put("mid_block_scale_factor", midBlockScaleFactor);
        m.put("norm_eps", normEps);
        m.put("norm_num_groups", normNumGroups);
        m.put("num_class_embeds", null);
        m.put("num_train_timesteps", null);
        m.put("out_channels", outChannels);
        m.put("resnet_time_scale_shift", "default");
        m.put("sample_size", sampleSize == 0 ? null : sampleSize);
        m.put("time_embedding_type", "positional");
        m.put("up_block_types", upBlockTypes);
        m.put("upsample_type", "conv");
        return m;
    }

    private static void validate(List<String> down, List<String> up, List<Integer> ch, int in, int out, int layers,
                                 int downPad, double dropout, String act, Integer headDim, int groups,
                                 Integer attnGroups, double eps, double midScale, boolean addAttention, double shift) {
        if (ch.isEmpty()) throw new IllegalArgumentException("field 'block_out_channels' is empty");
        if (down.size() != ch.size())
            throw new IllegalArgumentException("field 'down_block_types' has " + down.size() + " entries but "
                    + "'block_out_channels' has " + ch.size() + "; they must match");
        if (up.size() != ch.size())
            throw new IllegalArgumentException("field 'up_block_types' has " + up.size() + " entries but "
                    + "'block_out_channels' has " + ch.size() + "; they must match");
        for (String t : down)
            if (!t.equals("DownBlock2D") && !t.equals("AttnDownBlock2D"))
                throw new IllegalArgumentException("field 'down_block_types' has unsupported block " + quote(t)
                        + "; supported: \"DownBlock2D\", \"AttnDownBlock2D\"");
        for (String t : up)
            if (!t.equals("UpBlock2D") && !t.equals("AttnUpBlock2D"))
                throw new IllegalArgumentException("field 'up_block_types' has unsupported block " + quote(t)
                        + "; supported: \"UpBlock2D\", \"AttnUpBlock2D\"");
        positive("in_channels", in);
        positive("out_channels", out);
        positive("layers_per_block", layers);
        positive("norm_num_groups", groups);
        if (downPad < 0) throw new IllegalArgumentException("field 'downsample_padding' is " + downPad + ", expected >= 0");
        if (!(dropout >= 0 && dropout < 1))
            throw new IllegalArgumentException("field 'dropout' is " + dropout + ", expected 0 <= p < 1");
        if (!act.equals("silu") && !act.equals("swish"))
            throw new IllegalArgumentException("field 'act_fn' is " + quote(act) + "; supported: \"silu\", \"swish\"");
        if (!(eps > 0)) throw new IllegalArgumentException("field 'norm_eps' is " + eps + ", expected > 0");
        if (!(midScale > 0) || Double.isInfinite(midScale))
            throw new IllegalArgumentException("field 'mid_block_scale_factor' is " + midScale + ", expected > 0");
        int half = ch.get(0) / 2;
        if (half - shift == 0 || Double.isNaN(shift))
            throw new IllegalArgumentException("field 'freq_shift' is " + shift + ": the frequency exponent divides by "
                    + "half the embedding size (" + half + ") minus freq_shift, which must not be 0");
        for (int i = 0; i < ch.size(); i++) {
            int c = ch.get(i);
            positive("block_out_channels[" + i + "]", c);
            if (c % groups != 0)
                throw new IllegalArgumentException("field 'block_out_channels' entry " + c + " (level " + i
                        + ") is not divisible by 'norm_num_groups' = " + groups);
            boolean attn = down.get(i).startsWith("Attn") || up.get(ch.size() - 1 - i).startsWith("Attn")
                    || (addAttention && i == ch.size() - 1);
            if (attn && headDim != null && (headDim <= 0 || c % headDim != 0))
                throw new IllegalArgumentException("field 'attention_head_dim' = " + headDim + " does not divide the "
                        + c + " channels of level " + i);
        }
        int last = ch.get(ch.size() - 1);
        if (addAttention && attnGroups != null && (attnGroups <= 0 || last % attnGroups != 0))
            throw new IllegalArgumentException("field 'attn_norm_num_groups' = " + attnGroups + " does not divide the "
                    + last + " channels of the mid block");
    }

    private static void positive(String field, int v) {
        if (v <= 0) throw new IllegalArgumentException("field '" + field + "' is " + v + ", expected > 0");
    }

    static String quote(Object v) { return v instanceof String s ? "\"" + s + "\"" : String.valueOf(v); }

    /** Typed access to config fields with defaults; errors name the field, the expected type and the value found. */
    private record Fields(Map<String, Object> m, String source) {
        FormatException bad(String key, String expected) {
            return new FormatException(source, "field '" + key + "' is " + quote(m.get(key)) + ", expected " + expected);
        }

        void expect(String key, String value) throws FormatException {
            Object v = m.get(key);
            if (v != null && !value.equals(v))
                throw new FormatException(source, "field '" + key + "' is " + quote(v) + "; only \"" + value
                        + "\" is supported");
        }

        void expectNull(String key) throws FormatException {
            if (m.get(key) != null)
                throw new FormatException(source, "field '" + key + "' is " + quote(m.get(key))
                        + "; class conditioning is not supported (expected null)");
        }

        int integer(String key, int dflt) throws FormatException {
            if (!m.containsKey(key)) return dflt;
            Integer v = asInt(m.get(key));
            if (v == null) throw bad(key, "an integer");
            return v;
        }

        Integer optionalInteger(String key, Integer dflt) throws FormatException {
            if (!m.containsKey(key)) return dflt;
            return m.get(key) == null ? null : integer(key, 0);
        }

        double number(String key, double dflt) throws FormatException {
            if (!m.containsKey(key)) return dflt;
            if (m.get(key) instanceof Number n) return n.doubleValue();
            throw bad(key, "a number");
        }

        boolean bool(String key, boolean dflt) throws FormatException {
            if (!m.containsKey(key)) return dflt;
            if (m.get(key) instanceof Boolean b) return b;
            throw bad(key, "true or false");
        }

        String string(String key, String dflt) throws FormatException {
            if (!m.containsKey(key)) return dflt;
            if (m.get(key) instanceof String s) return s;
            throw bad(key, "a string");
        }

        List<String> strings(String key, List<String> dflt) throws FormatException {
            if (!m.containsKey(key)) return dflt;
            if (!(m.get(key) instanceof List<?> l)) throw bad(key, "a list of strings");
            List<String> out = new ArrayList<>();
            for (Object o : l) {
                if (!(o instanceof String s)) throw bad(key, "a list of strings");
                out.add(s);
            }
            return out;
        }

        List<Integer> integers(String key, List<Integer> dflt) throws FormatException {
            if (!m.containsKey(key)) return dflt;
            if (!(m.get(key) instanceof List<?> l)) throw bad(key, "a list of integers");
            List<Integer> out = new ArrayList<>();
            for (Object o : l) {
                Integer v = asInt(o);
                if (v == null) throw bad(key, "a list of integers");
                out.add(v);
            }
            return out;
        }

        /** The value as an int if it is an integral number within int range (JSON 3 or 3.0), else null. */
        static Integer asInt(Object v) {
            if (v instanceof Long l) return l == (int) (long) l ? (int) (long) l : null;
            if (v instanceof Number n) {
                double d = n.doubleValue();
                return d == Math.rint(d) && Math.abs(d) <= Integer.MAX_VALUE ? (int) d : null;
            }
            return null;
        }

        int sampleSize() throws FormatException {
            Object v = m.get("sample_size");
            if (v == null) return 0;
            if (v instanceof List<?> l && l.size() == 2 && asInt(l.get(0)) != null && asInt(l.get(0)).equals(asInt(l.get(1))))
                return asInt(l.get(0));
            if (v instanceof List<?>) throw bad("sample_size", "an integer or a square [size, size]");
            return integer("sample_size", 0);
        }
    }
}
