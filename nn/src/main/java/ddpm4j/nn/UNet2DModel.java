// SPDX-License-Identifier: Apache-2.0
// The DDPM noise-prediction network epsTheta(x_t, t) (Ho et al. 2020, Sec. 4 and App. B) as diffusers' UNet2DModel,
// with its parameter names, so hub checkpoints load as they are. PyTorch twin: scripts/golden/unet_model.py.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Shape;
import ddpm4j.core.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * U-Net from a {@link UNetConfig}: conv_in; time embedding; per level a {@link DownBlock2D}; {@link MidBlock2D};
 * per level (coarsest first) an {@link UpBlock2D} fed the skips in reverse; conv_norm_out, SiLU, conv_out.
 */
public final class UNet2DModel extends Module {
    private final UNetConfig config;
    private final Conv2d convIn, convOut;
    private final TimestepEmbedding timeEmbedding;
    private final ModuleList<DownBlock2D> downBlocks;
    private final MidBlock2D midBlock;
    private final ModuleList<UpBlock2D> upBlocks;
    private final GroupNorm convNormOut;
    private final Generator dropoutGen;

    /**
     * @param gen initialises the weights (PyTorch's default scheme) and draws dropout masks; null gives zero weights (to
     *            be loaded from a checkpoint) and a fixed-seed dropout generator
     */
    public UNet2DModel(UNetConfig config, Backend be, Generator gen) {
        this.config = config;
        this.dropoutGen = gen != null ? gen : new Generator(0);
        List<Integer> ch = config.blockOutChannels();
        int levels = ch.size(), c0 = ch.get(0);
        convIn = registerModule("conv_in", new Conv2d(be, gen, config.inChannels(), c0, 3, 1, 1));
        timeEmbedding = registerModule("time_embedding", new TimestepEmbedding(be, gen, c0, config.timeEmbedDim()));
        downBlocks = registerModule("down_blocks", new ModuleList<>());
        int out = c0;
        for (int i = 0; i < levels; i++) {
            int in = out;
            out = ch.get(i);
            boolean attn = config.downBlockTypes().get(i).equals("AttnDownBlock2D");
            downBlocks.add(new DownBlock2D(config, be, gen, dropoutGen, attn, in, out, i < levels - 1));
        }
        midBlock = registerModule("mid_block", new MidBlock2D(config, be, gen, dropoutGen, ch.get(levels - 1)));
        upBlocks = registerModule("up_blocks", new ModuleList<>());
        out = ch.get(levels - 1);
        for (int i = 0; i < levels; i++) {
            int prev = out;
            out = ch.get(levels - 1 - i);
            int in = ch.get(Math.max(levels - 2 - i, 0));
            boolean attn = config.upBlockTypes().get(i).equals("AttnUpBlock2D");
            upBlocks.add(new UpBlock2D(config, be, gen, dropoutGen, attn, in, out, prev, i < levels - 1));
        }
        convNormOut = registerModule("conv_norm_out", new GroupNorm(be, config.normNumGroups(), c0, config.normEps()));
        convOut = registerModule("conv_out", new Conv2d(be, gen, c0, config.outChannels(), 3, 1, 1));
    }

    public UNetConfig config() { return config; }

    /** Generator of the dropout masks (shared by every residual block). */
    public Generator dropoutGenerator() { return dropoutGen; }

    /**
     * epsTheta(x_t, t).
     *
     * @param sample    x_t: (N, in_channels, H, W) with H and W divisible by {@link UNetConfig#sizeMultiple()}
     * @param timesteps N timesteps (or one, used for the whole batch), converted to float as diffusers does
     * @return the predicted noise (N, out_channels, H, W)
     */
    public Tensor forward(Tensor sample, float[] timesteps) {
        checkInput(sample, timesteps);
        int n = sample.dim(0), c0 = config.blockOutChannels().get(0);
        float[] t = timesteps.length == n ? timesteps : filled(n, timesteps[0]);
        // without autograd, every temporary is released as soon as it is dead (Module.release); the skips when used
        Tensor in = config.centerInputSample() ? sample.affine(2, -1) : sample;
        // 1. time: sinusoidal features -> MLP
        float[] features = TimestepEmbedding.sinusoidal(t, c0, config.flipSinToCos(), config.freqShift());
        Tensor feat = Tensor.of(sample.backend(), features, n, c0);
        Tensor emb = timeEmbedding.forward(feat);
        release(feat);
        // 2. down path, keeping every intermediate as a skip connection
        Tensor x = convIn.forward(in);
        if (in != sample) release(in);
        List<Tensor> skips = new ArrayList<>();
        skips.add(x);
        for (DownBlock2D block : downBlocks.items()) x = block.forward(x, emb, skips);
        // 3. middle (its input is the last skip)
        x = midBlock.forward(x, emb);
        // 4. up path, consuming the skips last-in first-out
        for (UpBlock2D block : upBlocks.items()) {
            Tensor y = block.forward(x, emb, skips);
            if (y != x) release(x);
            x = y;
        }
        // 5. out
        Tensor h = convNormOut.forwardSilu(x);
        release(x);
        Tensor out = convOut.forward(h);
        release(h, emb);
        return out;
    }

    /** {@link #forward(Tensor, float[])} with integer timesteps. */
    public Tensor forward(Tensor sample, long[] timesteps) {
        float[] t = new float[timesteps.length];
        for (int i = 0; i < t.length; i++) t[i] = timesteps[i];
        return forward(sample, t);
    }

    /** {@link #forward(Tensor, float[])} with integer timesteps. */
    public Tensor forward(Tensor sample, int[] timesteps) {
        float[] t = new float[timesteps.length];
        for (int i = 0; i < t.length; i++) t[i] = timesteps[i];
        return forward(sample, t);
    }

    private void checkInput(Tensor sample, float[] timesteps) {
        int[] s = sample.shape();
        if (s.length != 4)
            throw new IllegalArgumentException("UNet2DModel: sample " + Shape.str(s) + " should be (N, C, H, W)");
        if (s[1] != config.inChannels())
            throw new IllegalArgumentException("UNet2DModel: sample " + Shape.str(s) + " has " + s[1]
                    + " channels, the model expects in_channels = " + config.inChannels());
        int m = config.sizeMultiple();
        if (s[2] <= 0 || s[3] <= 0 || s[2] % m != 0 || s[3] % m != 0)
            throw new IllegalArgumentException("UNet2DModel: sample " + Shape.str(s) + " has size " + s[2] + "x" + s[3]
                    + "; height and width must be positive multiples of " + m + " (the U-Net halves them "
                    + (config.levels() - 1) + " times)");
        if (timesteps.length != s[0] && timesteps.length != 1)
            throw new IllegalArgumentException("UNet2DModel: " + timesteps.length + " timesteps for a batch of " + s[0]
                    + " (expected " + s[0] + " or 1)");
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }
}
