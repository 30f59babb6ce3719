// SPDX-License-Identifier: Apache-2.0
// Every case of Derivatives checked by central finite differences in float64 on the reference backend, on awkward
// sizes (1, 3, 5, 7 rather than powers of two).
package ddpm4j.core.autograd;

import static ddpm4j.core.testing.GradCheck.check;

import ddpm4j.core.Backend;
import ddpm4j.core.Backend.BinaryOp;
import ddpm4j.core.Backend.UnaryOp;
import ddpm4j.core.Generator;
import ddpm4j.core.Ops;
import ddpm4j.core.Tensor;
import ddpm4j.core.testing.Rand;
import ddpm4j.core.testing.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class DerivativesTest {
    static final Backend REF = TestBackends.reference();

    static Tensor n(long seed, int... shape) { return Rand.normal64(REF, seed, shape); }

    static Tensor pos(long seed, int... shape) { return Rand.uniform64(REF, seed, 0.5, 2.0, shape); }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void unary(UnaryOp op) {
        boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT;
        Tensor x = positive ? pos(1, 3, 7) : n(1, 3, 7);
        check(op.name(), in -> switch (op) {
            case NEG -> in[0].neg();
            case EXP -> in[0].exp();
            case LOG -> in[0].log();
            case SQRT -> in[0].sqrt();
            case RSQRT -> in[0].rsqrt();
            case SQUARE -> in[0].square();
            case TANH -> in[0].tanh();
            case SIGMOID -> in[0].sigmoid();
            case SILU -> in[0].silu();
            case SIN -> in[0].sin();
            case COS -> in[0].cos();
            case RELU -> in[0].relu();
            case ABS -> in[0].abs();
        }, x);
    }

    @ParameterizedTest
    @EnumSource(value = BinaryOp.class, names = {"ADD", "SUB", "MUL", "DIV", "MAX", "MIN"})
    void binaryWithBroadcasting(BinaryOp op) {
        Tensor a = n(2, 2, 3, 5), b = op == BinaryOp.DIV ? pos(3, 3, 1) : n(3, 3, 1);
        check(op.name(), in -> switch (op) {
            case ADD -> in[0].add(in[1]);
            case SUB -> in[0].sub(in[1]);
            case MUL -> in[0].mul(in[1]);
            case DIV -> in[0].div(in[1]);
            case MAX -> in[0].maximum(in[1]);
            case MIN -> in[0].minimum(in[1]);
            default -> throw new AssertionError();
        }, a, b);
    }

    @Test void affine() { check("affine", in -> in[0].affine(-1.5, 0.25), n(4, 7)); }

    @Test void sumContiguousAxes() { check("sum(1,2)", in -> in[0].sum(new int[] {1, 2}, false), n(5, 2, 3, 5, 2)); }

    @Test void sumSplitAxesKeepDim() { check("sum(0,2)", in -> in[0].sum(new int[] {0, 2}, true), n(6, 3, 4, 5)); }

    @Test void mean() { check("mean", in -> in[0].mean(new int[] {-1}, false), n(7, 3, 7)); }

    @Test void max() { check("max", in -> in[0].max(1, false), n(8, 3, 5, 2)); }

    @Test void softmaxLastAxis() { check("softmax(-1)", in -> in[0].softmax(-1), n(9, 3, 7)); }

    @Test void softmaxInnerAxis() { check("softmax(0)", in -> in[0].softmax(0), n(10, 4, 3)); }

    @Test void matmul2d() { check("matmul", in -> in[0].matmul(in[1]), n(11, 3, 5), n(12, 5, 2)); }

    @Test void matmulBatchedBroadcast() { check("bmm", in -> in[0].matmul(in[1]), n(13, 2, 3, 4), n(14, 4, 5)); }

    @Test void matmulTransposedViews() {
        check("bmm^T", in -> in[0].transpose(-1, -2).matmul(in[1].transpose(-1, -2)), n(15, 2, 4, 3), n(16, 2, 5, 4));
    }

    @Test void conv2dStride1Bias() {
        check("conv s1", in -> in[0].conv2d(in[1], in[2], 1, 1), n(17, 2, 3, 5, 4), n(18, 4, 3, 3, 3), n(19, 4));
    }

    @Test void conv2dStride2PadRightBottom() {    // TF-style "pad (0,1,0,1) then stride 2"
        check("conv s2", in -> in[0].conv2d(in[1], null, 2, 0, 0, 1, 1), n(20, 1, 2, 6, 5), n(21, 3, 2, 3, 3));
    }

    @Test void groupNormAffine() {
        check("groupnorm", in -> in[0].groupNorm(2, in[1], in[2], 1e-5f, false), n(22, 2, 4, 3, 3), n(23, 4), n(24, 4));
    }

    @Test void groupNormSilu() {
        check("groupnorm+silu", in -> in[0].groupNorm(3, in[1], in[2], 1e-6f, true), n(25, 2, 6, 5), n(26, 6), n(27, 6));
    }

    @Test void attention() {
        check("attention", in -> Ops.attention(in[0], in[1], in[2], 0.4f), n(28, 2, 5, 3), n(29, 2, 5, 3), n(30, 2, 5, 3));
    }

    @Test void qSample() {
        check("qSample", in -> Ops.qSample(in[0], in[1], in[2], in[3]), n(31, 3, 2, 2), n(32, 3, 2, 2), pos(33, 3), pos(34, 3));
    }

    @Test void upsample2x() { check("upsample", in -> in[0].upsample2x(), n(35, 1, 2, 3, 2)); }

    @Test void gatherWithRepeats() { check("gather", in -> in[0].gather(new int[] {2, 0, 2, 1}), n(36, 3, 5)); }

    @Test void concat() { check("concat", in -> Ops.concat(1, in[0], in[1]), n(37, 2, 3, 4), n(38, 2, 1, 4)); }

    @Test void movement() {
        check("reshape/permute/slice/expand/copy", in -> in[0].reshape(3, 2, 4).permute(2, 0, 1).slice(1, 1, 3)
                .unsqueeze(0).expand(2, 4, 2, 2).copy(), n(39, 6, 4));
    }

    @Test void dropoutWithFixedMask() {
        check("dropout", in -> in[0].dropout(0.3, new Generator(5)), n(40, 4, 7));
    }

    @Test void mse() { check("mse", in -> in[0].mseLoss(in[1]), n(41, 3, 5), n(42, 3, 5)); }

    @Test void compositeReusesInputs() {   // a value used along several paths: gradients must add up
        check("composite", in -> in[0].mul(in[0]).add(in[0].exp().mul(in[1])).sum(new int[] {0}, false).tanh(), n(43, 3, 4), n(44, 4));
    }
}
