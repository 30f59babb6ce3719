// SPDX-License-Identifier: Apache-2.0
// The op set: every differentiable operation, defined once. Forward: Tensor; derivative: autograd/Derivatives (one
// exhaustive switch, so an op without a gradient does not compile); kernels: each Backend.
package ddpm4j.core;

/** An operation recorded in the autograd graph, with the parameters its backward pass needs. */
public sealed interface Op {
    // elementwise
    record Unary(Backend.UnaryOp kind) implements Op {}
    record Binary(Backend.BinaryOp kind) implements Op {}
    record Affine(double scale, double shift) implements Op {}
    // reductions
    record Sum(int outer, int r, int inner) implements Op {}
    record Max(int outer, int r, int inner) implements Op {}
    record Softmax() implements Op {}
    // linear algebra and convolution
    record Matmul() implements Op {}
    record Conv2d(Backend.ConvGeom geom, boolean hasBias) implements Op {}
    // fused layers
    record GroupNorm(int groups, float eps, boolean silu) implements Op {}
    record Attention(float scale) implements Op {}
    record QSample() implements Op {}
    // resampling, indexing, movement
    record Upsample2x() implements Op {}
    record Gather(int[] idx) implements Op {}
    record Concat(int axis) implements Op {}
    record Reshape() implements Op {}
    record Permute(int[] dims) implements Op {}
    record Slice(int axis, int start) implements Op {}
    record Expand() implements Op {}
    record Copy() implements Op {}
}
