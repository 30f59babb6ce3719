// SPDX-License-Identifier: Apache-2.0
// The derivative of every op, in one exhaustive switch over the sealed Op set (an op without a gradient does not
// compile). Elementwise and movement ops compose other Tensor ops (micrograd style); fused layers call their
// backward kernels (llm.c style). Runs with grad mode off.
package ddpm4j.core.autograd;

import ddpm4j.core.Backend;
import ddpm4j.core.Backend.UnaryOp;
import ddpm4j.core.Op;
import ddpm4j.core.Tensor;

/** Gradients of a node's inputs from the gradient of its output. */
public final class Derivatives {
    private Derivatives() {}

    /**
     * @param node  the recorded op
     * @param out   its output
     * @param g     dL/d(out), same shape as out
     * @param needs which inputs need a gradient (others may get null)
     * @return dL/d(input) per input, each with that input's shape
     */
    public static Tensor[] backward(Node node, Tensor out, Tensor g, boolean[] needs) {
        Tensor[] in = node.inputs();
        Tensor x = in[0];
        Backend be = out.backend();
        return switch (node.op()) {
            case Op.Unary u -> of(unary(u.kind(), x, out, g));
            case Op.Binary b -> binary(b.kind(), x, in[1], out, g);
            case Op.Affine a -> of(g.mul(a.scale()));                                    // d(s x + c) = s
            case Op.Sum s -> of(g.reshape(s.outer(), 1, s.inner()).expand(s.outer(), s.r(), s.inner()).reshape(x.shape()));
            case Op.Max m -> {                                                           // to every maximal element
                Tensor x3 = x.reshape(m.outer(), m.r(), m.inner());
                Tensor mask = x3.eq(out.reshape(m.outer(), 1, m.inner()));
                yield of(mask.mul(g.reshape(m.outer(), 1, m.inner())).reshape(x.shape()));
            }
            case Op.Softmax s -> {                                                       // y (dy - sum(dy y))
                int cols = x.dim(-1), rows = (int) (x.numel() / Math.max(1, cols));
                Tensor dx = like(x);
                be.softmaxBackward(dx, out, g.contiguous(), rows, cols);
                yield of(dx);
            }
            case Op.Matmul m -> matmul(x, in[1], g, needs);
            case Op.Conv2d c -> {
                Backend.ConvGeom geo = c.geom();
                Tensor dx = null, dw = null, db = null;
                Tensor gc = g.contiguous();
                if (needs[0]) dx = like(x);
                if (needs[1] || (c.hasBias() && needs[2])) {
                    dw = like(in[1]);
                    db = c.hasBias() ? like(in[2]) : null;
                }
                be.conv2dBackward(dx, dw, db, gc, x, in[1], geo);        // one call: the backend may share dy's reorder
                yield c.hasBias() ? new Tensor[] {dx, dw, db} : new Tensor[] {dx, dw};
            }
            case Op.GroupNorm n -> {
                Tensor w = in[1], b = in[2];
                int bsz = x.dim(0), c = x.dim(1), hw = (int) (x.numel() / Math.max(1, (long) bsz * c));
                Tensor dx = like(x), dw = w == null ? null : like(w), db = b == null ? null : like(b);
                be.groupNormBackward(dx, dw, db, g.contiguous(), x, w, b, node.saved()[0], node.saved()[1],
                        bsz, c, hw, n.groups(), n.silu());
                yield new Tensor[] {dx, dw, db};
            }
            case Op.Attention a -> {
                Tensor dq = like(x), dk = like(in[1]), dv = like(in[2]);
                be.attentionBackward(dq, dk, dv, g.contiguous(), x, in[1], in[2], out, node.saved()[0],
                        x.dim(0), x.dim(1), x.dim(2), a.scale());
                yield new Tensor[] {dq, dk, dv};
            }
            case Op.QSample q -> {                                                       // x_t = a x0 + b eps
                int[] perSample = perSampleShape(x);
                Tensor a = in[2].reshape(perSample), b = in[3].reshape(perSample);
                Tensor da = needs[2] ? g.mul(x).sum(restAxes(x), false).reshape(in[2].shape()) : null;
                Tensor db = needs[3] ? g.mul(in[1]).sum(restAxes(x), false).reshape(in[3].shape()) : null;
                yield new Tensor[] {needs[0] ? g.mul(a) : null, needs[1] ? g.mul(b) : null, da, db};
            }
            case Op.Upsample2x u -> {
                int[] s = x.shape();
                Tensor dx = like(x);
                be.upsample2xBackward(dx, g.contiguous(), s[0] * s[1], s[2], s[3]);
                yield of(dx);
            }
            case Op.Gather gi -> {
                Tensor dt = Tensor.zeros(be, x.shape());
                be.scatterAddRows(dt, g.contiguous(), gi.idx(), (int) (x.numel() / Math.max(1, x.dim(0))));
                yield of(dt);
            }
            case Op.Concat c -> {
                Tensor[] gs = new Tensor[in.length];
                int at = 0;
                for (int j = 0; j < in.length; j++) {
                    int len = in[j].dim(c.axis());
                    gs[j] = g.slice(c.axis(), at, at + len);
                    at += len;
                }
                yield gs;
            }
            case Op.Reshape r -> of(g.reshape(x.shape()));
            case Op.Permute p -> {
                int[] inv = new int[p.dims().length];
                for (int i = 0; i < inv.length; i++) inv[p.dims()[i]] = i;
                yield of(g.permute(inv));
            }
            case Op.Slice s -> {
                Tensor dx = Tensor.zeros(be, x.shape());
                long[] st = dx.strides();
                be.copy(dx.borrow(g.shape(), st, s.start() * st[s.axis()]), g);
                yield of(dx);
            }
            case Op.Expand e -> of(g.sumTo(x.shape()));
            case Op.Copy c -> of(g);
        };
    }

    private static Tensor[] of(Tensor t) { return new Tensor[] {t}; }

    private static Tensor like(Tensor t) { return Tensor.empty(t.backend(), t.dtype(), t.shape()); }

    private static Tensor zero(Tensor t) { return Tensor.scalar(t.backend(), t.dtype(), 0); }

    private static Tensor unary(UnaryOp op, Tensor x, Tensor y, Tensor g) {
        return switch (op) {
            case NEG -> g.neg();
            case EXP -> g.mul(y);                                                        // e^x
            case LOG -> g.div(x);                                                        // 1 / x
            case SQRT -> g.div(y).mul(0.5);                                              // 1 / (2 sqrt x)
            case RSQRT -> g.mul(y.square().mul(y)).mul(-0.5);                            // -x^(-3/2) / 2
            case SQUARE -> g.mul(x).mul(2);
            case TANH -> g.mul(y.square().affine(-1, 1));                                // 1 - tanh^2
            case SIGMOID -> g.mul(y.mul(y.affine(-1, 1)));                               // s (1 - s)
            case SILU -> {                                                               // s (1 + x (1 - s))
                Tensor s = x.sigmoid();
                yield g.mul(s.mul(x.mul(s.affine(-1, 1)).add(1)));
            }
            case SIN -> g.mul(x.cos());
            case COS -> g.mul(x.sin()).neg();
            case RELU -> g.mul(x.gt(zero(x)));
            case ABS -> { Tensor z = zero(x); yield g.mul(x.gt(z).sub(z.gt(x))); }       // sign(x)
        };
    }

    private static Tensor[] binary(Backend.BinaryOp op, Tensor a, Tensor b, Tensor out, Tensor g) {
        int[] sa = a.shape(), sb = b.shape();
        return switch (op) {
            case ADD -> new Tensor[] {g.sumTo(sa), g.sumTo(sb)};
            case SUB -> new Tensor[] {g.sumTo(sa), g.neg().sumTo(sb)};
            case MUL -> new Tensor[] {g.mul(b).sumTo(sa), g.mul(a).sumTo(sb)};
            case DIV -> new Tensor[] {g.div(b).sumTo(sa), g.mul(out).div(b).neg().sumTo(sb)};   // -a / b^2 = -out / b
            case MAX, MIN -> new Tensor[] {g.mul(out.eq(a)).sumTo(sa), g.mul(out.eq(b)).sumTo(sb)};
            case EQ, GT -> new Tensor[] {null, null};                                    // piecewise constant
        };
    }

    private static Tensor[] matmul(Tensor a, Tensor b, Tensor g, boolean[] needs) {
        Tensor ga = needs[0] ? g.matmul(b.transpose(-1, -2)).sumTo(a.shape()) : null;
        Tensor gb = null;
        if (needs[1]) {
            if (b.rank() == 2 && a.rank() > 2) {                                         // shared weight: one GEMM over all rows
                int k = a.dim(-1), n = g.dim(-1);
                gb = a.reshape(-1, k).transpose(0, 1).matmul(g.reshape(-1, n));
            } else {
                gb = a.transpose(-1, -2).matmul(g).sumTo(b.shape());
            }
        }
        return new Tensor[] {ga, gb};
    }

    private static int[] perSampleShape(Tensor x) {
        int[] s = new int[x.rank()];
        java.util.Arrays.fill(s, 1);
        s[0] = x.dim(0);
        return s;
    }

    private static int[] restAxes(Tensor x) {
        int[] a = new int[x.rank() - 1];
        for (int i = 0; i < a.length; i++) a[i] = i + 1;
        return a;
    }
}
