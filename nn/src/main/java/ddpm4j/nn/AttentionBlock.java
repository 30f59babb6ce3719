// SPDX-License-Identifier: Apache-2.0
// diffusers' spatial self-attention (Attention with _from_deprecated_attn_block): GroupNorm, q/k/v projections over
// the H*W positions, softmax(q k^T / sqrt(d)) v per head, output projection, residual, / rescale_output_factor.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.GradMode;
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
        Tensor r = heads == 1 ? forwardSingleHead(x) : forwardHeads(x);
        return rescaleOutputFactor == 1 ? r : r.div(rescaleOutputFactor);
    }

    // One head, laid out so that no GEMM needs a copied operand: the projections read the (N, C, L) GroupNorm output
    // through a transposed view (or, when recording a graph, one contiguous (N, L, C) copy, which the three weight
    // gradients then read as a single (N L, C) matrix), and the output projection writes (N, C, L) directly as
    // W_out a^T. Two biases fold away exactly, since every softmax row sums to 1 and ignores a constant shift:
    //   softmax_j(q_i . (k_j + b_k)) = softmax_j(q_i . k_j)             so b_k drops out (its gradient is 0);
    //   W_out (P (v + 1 b_v^T))^T + b_out = W_out (P v)^T + (W_out b_v + b_out)   so b_v joins b_out.
    private Tensor forwardSingleHead(Tensor x) {
        int n = x.dim(0), h = x.dim(2), w = x.dim(3), len = h * w;
        // 1. tokens y: (N, L, C), the transpose of GroupNorm(x) viewed as (N, C, L)
        Tensor y = groupNorm.forward(x).reshape(n, channels, len).transpose(1, 2);
        if (GradMode.enabled()) y = y.contiguous();
        // 2. q = y W_q^T + b_q, k = y W_k^T, v = y W_v^T: (N, L, C)
        Tensor q = y.matmul(toQ.weight().transpose(0, 1)).add(toQ.bias());
        Tensor k = y.matmul(toK.weight().transpose(0, 1)), v = y.matmul(toV.weight().transpose(0, 1));
        // 3. a = softmax(q k^T / sqrt(d)) v: (N, L, C)
        Tensor a = Ops.attention(q, k, v, (float) (1.0 / Math.sqrt(headDim)));
        // 4. out = W_out a^T + (W_out b_v + b_out) + x: (N, C, L); 0 * b_k keeps b_k's (zero) gradient defined
        Tensor bias = toOut.weight().matmul(toV.bias().reshape(channels, 1)).add(toOut.bias().reshape(channels, 1))
                .add(toK.bias().reshape(channels, 1).mul(0.0));
        Tensor o = toOut.weight().matmul(a.transpose(1, 2));
        return o.add(x.reshape(n, channels, len).add(bias)).reshape(n, channels, h, w);
    }

    private Tensor forwardHeads(Tensor x) {
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
        return o.transpose(1, 2).reshape(n, channels, h, w).add(x);
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
