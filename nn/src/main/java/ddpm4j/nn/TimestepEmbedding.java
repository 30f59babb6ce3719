// SPDX-License-Identifier: Apache-2.0
// The DDPM timestep embedding: sinusoidal features (Transformer positional encoding, Ho et al. Sec. 4 / App. B) as
// diffusers' get_timestep_embedding computes them, then diffusers' TimestepEmbedding MLP linear_1 -> SiLU -> linear_2.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;

/** MLP over the sinusoidal features; parameters {@code linear_1.*} (in -> dim) and {@code linear_2.*} (dim -> dim). */
public final class TimestepEmbedding extends Module {
    private static final double LN_MAX_PERIOD = Math.log(10000);
    private final Linear linear1, linear2;

    public TimestepEmbedding(Backend be, Generator gen, int in, int dim) {
        linear1 = registerModule("linear_1", new Linear(be, gen, in, dim));
        linear2 = registerModule("linear_2", new Linear(be, gen, dim, dim));
    }

    /** features: (N, in) -> (N, dim). */
    public Tensor forward(Tensor features) {
        Tensor h = linear1.forward(features), s = h.silu();
        release(h);
        Tensor y = linear2.forward(s);
        release(s);
        return y;
    }

    /**
     * Sinusoidal features of timesteps, row-major (N, dim), in float32 step by step as diffusers does:
     * {@code freq_i = exp(-ln(10000) * i / (dim/2 - shift))}, {@code [sin(t freq), cos(t freq)]} (swapped to
     * [cos, sin] when {@code flipSinToCos}), zero-padded when dim is odd.
     */
    public static float[] sinusoidal(float[] t, int dim, boolean flipSinToCos, double shift) {
        int half = dim / 2;
        float[] freq = new float[half];
        float scale = (float) -LN_MAX_PERIOD, denom = (float) (half - shift);
        for (int i = 0; i < half; i++) {
            float exponent = scale * (float) i / denom;   // float32 arithmetic, as torch on a float32 arange
            freq[i] = (float) Math.exp(exponent);
        }
        float[] out = new float[t.length * dim];
        int sinAt = flipSinToCos ? half : 0, cosAt = flipSinToCos ? 0 : half;
        for (int n = 0; n < t.length; n++) {
            for (int i = 0; i < half; i++) {
                float arg = t[n] * freq[i];
                out[n * dim + sinAt + i] = (float) Math.sin(arg);
                out[n * dim + cosAt + i] = (float) Math.cos(arg);
            }
        }
        return out;
    }
}
