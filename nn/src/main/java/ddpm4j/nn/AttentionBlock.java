// SPDX-License-Identifier: Apache-2.0
// diffusers' spatial self-attention (Attention with _from_deprecated_attn_block): GroupNorm, q/k/v projections over
// the H*W positions, softmax(q k^T / sqrt(d)) v per head, output projection, residual, / rescale_output_factor.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Ops;
import ddpm4j.core.Shape;
import ddpm4j.core.Tensor;

/**
 * Parameters {@code group_norm}, {@code to_q}, {@code to_k}, {@code to_v}, {@code to_out.0} (older checkpoints call the
 * last four {@code query}, {@code key}, {@code value}, {@code proj_attn}; {@link DiffusersCheckpoint} maps them).
 * Heads split the channels contiguously: channel = head * headDim + j.
 */
public final class AttentionBlock extends Module {
    private final int channels, heads, headDim;
    private final double rescaleOutputFactor;
    private final GroupNorm groupNorm;
    private final Linear toQ, toK, toV, toOut;

    public AttentionBlock(Backend be, Generator gen, int channels, int headDim, int groups, double eps,
                          double rescaleOutputFactor) {
        if (headDim <= 0 || channels % headDim != 0)
            throw new IllegalArgumentException("AttentionBlock: head size " + headDim + " does not divide " + channels + " channels");
        this.channels = channels;
        this.headDim = headDim;
        this.heads = channels / headDim;
        this.rescaleOutputFactor = rescaleOutputFactor;
        groupNorm = registerModule("group_norm", new GroupNorm(be, groups, channels, eps));
        toQ = registerModule("to_q", new Linear(be, gen, channels, channels));
        toK = registerModule("to_k", new Linear(be, gen, channels, channels));
        toV = registerModule("to_v", new Linear(be, gen, channels, channels));
        ModuleList<Module> out = registerModule("to_out", new ModuleList<>());
        toOut = (Linear) out.add(new Linear(be, gen, channels, channels));
        out.add(new Dropout(0, null));
    }

    /** x: (N, C, H, W) -> same shape. */
    public Tensor forward(Tensor x) {
        if (x.rank() != 4 || x.dim(1) != channels)
            throw new IllegalArgumentException("AttentionBlock(" + channels + "): input " + Shape.str(x.shape())
                    + " should be (N, " + channels + ", H, W)");
        int n = x.dim(0), h = x.dim(2), w = x.dim(3), len = h * w;
        // 1. tokens: (N, C, H, W) -> (N, HW, C)
        Tensor y = groupNorm.forward(x).reshape(n, channels, len).transpose(1, 2);
        // 2. q, k, v: (N, HW, C), split into heads (N * heads, HW, d)
        Tensor q = splitHeads(toQ.forward(y), n, len), k = splitHeads(toK.forward(y), n, len),
                v = splitHeads(toV.forward(y), n, len);
        // 3. softmax(q k^T / sqrt(d)) v
        Tensor a = Ops.attention(q, k, v, (float) (1.0 / Math.sqrt(headDim)));
        // 4. merge heads, project, back to (N, C, H, W), residual
        Tensor o = toOut.forward(mergeHeads(a, n, len));
        Tensor r = o.transpose(1, 2).reshape(n, channels, h, w).add(x);
        return rescaleOutputFactor == 1 ? r : r.div(rescaleOutputFactor);
    }

    private Tensor splitHeads(Tensor t, int n, int len) {
        if (heads == 1) return t;
        return t.reshape(n, len, heads, headDim).permute(0, 2, 1, 3).reshape(n * heads, len, headDim);
    }

    private Tensor mergeHeads(Tensor t, int n, int len) {
        if (heads == 1) return t;
        return t.reshape(n, heads, len, headDim).permute(0, 2, 1, 3).reshape(n, len, channels);
    }

    public int heads() { return heads; }
}
