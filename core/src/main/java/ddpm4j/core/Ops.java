// SPDX-License-Identifier: Apache-2.0
// The forward half of every op: checks (naming the op, the shapes and what was expected), output allocation, the
// backend call and the autograd record. Derivatives (autograd/Derivatives) is the other half.
package ddpm4j.core;

import ddpm4j.core.Backend.BinaryOp;
import ddpm4j.core.Backend.ReduceOp;
import ddpm4j.core.Backend.UnaryOp;
import ddpm4j.core.autograd.Anomaly;
import ddpm4j.core.autograd.Node;
import java.util.Arrays;

/** Ops on tensors. Most are reached through {@link Tensor}'s methods; multi-input layers are called here directly. */
public final class Ops {
    private Ops() {}

    private static final Tensor[] NONE = new Tensor[0];

    /** Records {@code out = op(inputs)} in the graph when grad mode is on and an input requires a gradient. */
    static Tensor record(Tensor out, Op op, Tensor[] inputs, Tensor... saved) {
        if (Anomaly.enabled()) Anomaly.checkOutput(op, out);
        if (!GradMode.enabled()) return out;
        for (Tensor in : inputs)
            if (in != null && in.requiresGrad()) {
                out.setNode(new Node(op, inputs, saved));
                return out;
            }
        return out;
    }

    private static Backend sameBackend(String op, Tensor... ts) {
        Backend be = null;
        Tensor first = null;
        for (Tensor t : ts) {
            if (t == null) continue;
            t.check(op);
            if (be == null) { be = t.backend(); first = t; }
            else if (t.backend() != be)
                throw new IllegalArgumentException(op + ": tensors are on different backends (" + first.backend().name()
                        + " and " + t.backend().name() + "); move one with .to(backend) first");
            else if (t.dtype() != first.dtype())
                throw new IllegalArgumentException(op + ": element types differ (" + first.dtype() + " and " + t.dtype() + ")");
        }
        return be;
    }

    private static void expectRank(String op, String what, Tensor t, int rank) {
        if (t.rank() != rank)
            throw new IllegalArgumentException(op + ": " + what + " must have rank " + rank + ", got shape " + Shape.str(t.shape()));
    }

    private static Tensor like(Tensor t, int... shape) { return Tensor.empty(t.backend(), t.dtype(), shape); }

    // ---- movement -----------------------------------------------------------------------------------------------

    static Tensor reshape(Tensor x, int[] newShape) {
        x.check("reshape");
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("reshape: only one dimension can be -1 in " + Shape.str(newShape));
                infer = i;
            } else known *= s[i];
        }
        if (infer >= 0) {
            if (known == 0 || x.numel() % known != 0)
                throw new IllegalArgumentException("reshape: cannot reshape " + Shape.str(x.shape()) + " into " + Shape.str(newShape));
            s[infer] = (int) (x.numel() / known);
        }
        if (Shape.numel(s) != x.numel())
            throw new IllegalArgumentException("reshape: cannot reshape " + Shape.str(x.shape()) + " (" + x.numel()
                    + " elements) into " + Shape.str(newShape) + " (" + Shape.numel(s) + " elements)");
        Tensor c = x.contiguous();
        return record(c.view(s, Shape.strides(s), c.offset()), new Op.Reshape(), new Tensor[] {c});
    }

    static Tensor permute(Tensor x, int[] dims) {
        x.check("permute");
        int r = x.rank();
        if (dims.length != r)
            throw new IllegalArgumentException("permute: " + dims.length + " axes given for a tensor of rank " + r);
        int[] shape = x.shape(), s = new int[r];
        long[] st = x.strides(), ns = new long[r];
        boolean[] seen = new boolean[r];
        int[] d = new int[r];
        for (int i = 0; i < r; i++) {
            d[i] = Shape.axis("permute", dims[i], r);
            if (seen[d[i]]) throw new IllegalArgumentException("permute: axis " + d[i] + " repeated in " + Arrays.toString(dims));
            seen[d[i]] = true;
            s[i] = shape[d[i]];
            ns[i] = st[d[i]];
        }
        return record(x.view(s, ns, x.offset()), new Op.Permute(d), new Tensor[] {x});
    }

    static Tensor slice(Tensor x, int axis, int start, int end) {
        x.check("slice");
        int a = Shape.axis("slice", axis, x.rank());
        int[] s = x.shape();
        if (start < 0 || end > s[a] || start > end)
            throw new IllegalArgumentException("slice: range [" + start + ", " + end + ") is outside axis " + a
                    + " of length " + s[a] + " (shape " + Shape.str(s) + ")");
        long[] st = x.strides();
        long off = x.offset() + start * st[a];
        s[a] = end - start;
        return record(x.view(s, st, off), new Op.Slice(a, start), new Tensor[] {x});
    }

    static Tensor expand(Tensor x, int[] newShape) {
        x.check("expand");
        int r = newShape.length, lead = r - x.rank();
        if (lead < 0) throw new IllegalArgumentException("expand: cannot expand " + Shape.str(x.shape()) + " to fewer dimensions " + Shape.str(newShape));
        int[] s = x.shape();
        long[] st = x.strides(), ns = new long[r];
        for (int i = 0; i < r; i++) {
            if (i < lead) { ns[i] = 0; continue; }
            int di = s[i - lead];
            if (di == newShape[i]) ns[i] = st[i - lead];
            else if (di == 1) ns[i] = 0;
            else throw new IllegalArgumentException("expand: cannot expand " + Shape.str(s) + " to " + Shape.str(newShape)
                    + " (dimension " + i + ": " + di + " vs " + newShape[i] + ")");
        }
        return record(x.view(newShape.clone(), ns, x.offset()), new Op.Expand(), new Tensor[] {x});
    }

    /** A kernel-argument view of x broadcast to {@code shape} (no graph record, no reference). */
    static Tensor broadcastArg(Tensor x, int[] shape) {
        int r = shape.length, lead = r - x.rank();
        int[] s = x.shape();
        long[] st = x.strides(), ns = new long[r];
        for (int i = lead; i < r; i++) ns[i] = s[i - lead] == shape[i] ? st[i - lead] : 0;
        return x.borrow(shape, ns, x.offset());
    }

    static Tensor copy(Tensor x) {
        x.check("copy");
        Tensor out = like(x, x.shape());
        x.backend().copy(out, x);
        return record(out, new Op.Copy(), new Tensor[] {x});
    }

    static void copyInto(Tensor dst, Tensor src) {
        dst.check("copyFrom");
        src.check("copyFrom");
        if (!Shape.same(dst.shape(), src.shape()))
            throw new IllegalArgumentException("copyFrom: shape " + Shape.str(src.shape()) + " does not match destination " + Shape.str(dst.shape()));
        Tensor s = src.backend() == dst.backend() ? src : src.to(dst.backend());
        dst.backend().copy(dst, s);
        if (s != src) s.close();
    }

    /** Concatenation along an axis; all other dimensions must match. */
    public static Tensor concat(int axis, Tensor... xs) {
        if (xs.length == 0) throw new IllegalArgumentException("concat: no tensors given");
        Backend be = sameBackend("concat", xs);
        int r = xs[0].rank(), a = Shape.axis("concat", axis, r);
        int[] s = xs[0].shape();
        int total = 0;
        for (Tensor x : xs) {
            int[] xsS = x.shape();
            boolean ok = x.rank() == r;
            for (int i = 0; ok && i < r; i++) ok = i == a || xsS[i] == s[i];
            if (!ok) throw new IllegalArgumentException("concat: shapes " + Shape.str(s) + " and " + Shape.str(xsS)
                    + " differ outside axis " + a);
            total += xsS[a];
        }
        s[a] = total;
        Tensor out = like(xs[0], s);
        long[] st = out.strides();
        int at = 0;
        for (Tensor x : xs) {
            int[] part = s.clone();
            part[a] = x.dim(a);
            be.copy(out.borrow(part, st, at * st[a]), x);
            at += part[a];
        }
        return record(out, new Op.Concat(a), xs);
    }

    // ---- elementwise --------------------------------------------------------------------------------------------

    static Tensor unary(UnaryOp op, Tensor x) {
        String name = op.name().toLowerCase();
        x.check(name);
        Tensor c = x.contiguous();
        Tensor out = like(c, c.shape());
        c.backend().unary(op, out, c);
        return record(out, new Op.Unary(op), new Tensor[] {c});
    }

    static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        String name = op.name().toLowerCase();
        Backend be = sameBackend(name, a, b);
        int[] s = Shape.broadcast(name, a.shape(), b.shape());
        Tensor out = like(a, s);
        be.binary(op, out, broadcastArg(a, s), broadcastArg(b, s));
        return record(out, new Op.Binary(op), new Tensor[] {a, b});
    }

    static Tensor affine(Tensor x, double scale, double shift) {
        x.check("affine");
        Tensor c = x.contiguous();
        Tensor out = like(c, c.shape());
        c.backend().affine(out, c, scale, shift);
        return record(out, new Op.Affine(scale, shift), new Tensor[] {c});
    }

    static void addInPlace(Tensor dst, Tensor o) {
        Backend be = sameBackend("addInPlace", dst, o);
        int[] s = dst.shape();
        if (!Shape.same(Shape.broadcast("addInPlace", s, o.shape()), s))
            throw new IllegalArgumentException("addInPlace: " + Shape.str(o.shape()) + " does not broadcast to " + Shape.str(s));
        be.binary(BinaryOp.ADD, dst, dst, broadcastArg(o, s));
    }

    // ---- reductions ---------------------------------------------------------------------------------------------

    static Tensor sum(Tensor x, int[] axes, boolean keepDim) {
        x.check("sum");
        int r = x.rank();
        boolean[] reduce = new boolean[r];
        for (int ax : axes) reduce[Shape.axis("sum", ax, r)] = true;
        int first = -1, last = -1, count = 0;
        for (int i = 0; i < r; i++) if (reduce[i]) { if (first < 0) first = i; last = i; count++; }
        int[] s = x.shape();
        int[] kept = s.clone();
        for (int i = 0; i < r; i++) if (reduce[i]) kept[i] = 1;
        int[] fin = keepDim ? kept : Arrays.stream(indices(r)).filter(i -> !reduce[i]).map(i -> s[i]).toArray();
        if (count == 0) return reshape(x, fin);
        Tensor out;
        if (last - first + 1 == count) {        // one contiguous block of axes: a single kernel
            Tensor c = x.contiguous();
            int outer = Shape.prod(s, 0, first), rr = Shape.prod(s, first, last + 1), inner = Shape.prod(s, last + 1, r);
            Tensor o = like(c, outer, inner);
            c.backend().reduce(ReduceOp.SUM, o, c, outer, rr, inner);
            out = record(o, new Op.Sum(outer, rr, inner), new Tensor[] {c});
        } else {                                // reduce axis by axis, innermost first
            out = x;
            for (int i = r - 1; i >= 0; i--) if (reduce[i]) out = sum(out, new int[] {i}, true);
        }
        return reshape(out, fin);
    }

    static Tensor mean(Tensor x, int[] axes, boolean keepDim) {
        long n = 1;
        boolean[] seen = new boolean[x.rank()];
        for (int a : axes) { int ax = Shape.axis("mean", a, x.rank()); if (!seen[ax]) { seen[ax] = true; n *= x.dim(ax); } }
        return affine(sum(x, axes, keepDim), 1.0 / n, 0);
    }

    static Tensor max(Tensor x, int axis, boolean keepDim) {
        x.check("max");
        int r = x.rank(), a = Shape.axis("max", axis, r);
        int[] s = x.shape();
        if (s[a] == 0) throw new IllegalArgumentException("max: axis " + a + " of " + Shape.str(s) + " is empty");
        Tensor c = x.contiguous();
        int outer = Shape.prod(s, 0, a), inner = Shape.prod(s, a + 1, r);
        Tensor o = like(c, outer, inner);
        c.backend().reduce(ReduceOp.MAX, o, c, outer, s[a], inner);
        Tensor out = record(o, new Op.Max(outer, s[a], inner), new Tensor[] {c});
        int[] kept = s.clone();
        kept[a] = 1;
        return reshape(out, keepDim ? kept : Arrays.stream(indices(r)).filter(i -> i != a).map(i -> s[i]).toArray());
    }

    static Tensor softmax(Tensor x, int axis) {
        x.check("softmax");
        int r = x.rank(), a = Shape.axis("softmax", axis, r);
        if (a != r - 1) return softmax(x.transpose(a, r - 1), -1).transpose(a, r - 1);
        Tensor c = x.contiguous();
        int cols = x.dim(-1), rows = (int) (x.numel() / Math.max(1, cols));
        Tensor out = like(c, c.shape());
        c.backend().softmaxForward(out, c, rows, cols);
        return record(out, new Op.Softmax(), new Tensor[] {c});
    }

    static Tensor sumTo(Tensor g, int[] target) {
        int[] s = g.shape();
        if (Shape.same(s, target)) return g;
        int lead = s.length - target.length;
        if (lead < 0) throw new IllegalArgumentException("sumTo: cannot sum " + Shape.str(s) + " to larger rank " + Shape.str(target));
        int[] axes = java.util.stream.IntStream.range(0, s.length)
                .filter(i -> i < lead || (target[i - lead] == 1 && s[i] != 1)).toArray();
        return reshape(sum(g, axes, true), target);
    }

    static Tensor mse(Tensor a, Tensor b) {
        if (!Shape.same(a.shape(), b.shape()))
            throw new IllegalArgumentException("mseLoss: prediction " + Shape.str(a.shape()) + " and target " + Shape.str(b.shape()) + " differ");
        return a.sub(b).square().mean();
    }

    private static int[] indices(int n) {
        int[] i = new int[n];
        for (int k = 0; k < n; k++) i[k] = k;
        return i;
    }

    // ---- matmul -------------------------------------------------------------------------------------------------

    /** Layout of one matmul operand: possibly transposed storage, uniform batch stride (0 = broadcast). */
    private record Operand(Tensor t, boolean trans, long batchStride) {}

    private static Operand operand(Tensor x, int[] batchShape, int rows, int cols) {
        int r = x.rank();
        long[] st = x.strides();
        int[] s = x.shape();
        int xb = Shape.prod(s, 0, r - 2);
        int batch = Shape.prod(batchShape, 0, batchShape.length);
        boolean rowMajor = (st[r - 1] == 1 || cols == 1) && (st[r - 2] == cols || rows == 1);
        boolean colMajor = !rowMajor && (st[r - 2] == 1 || rows == 1) && (st[r - 1] == rows || cols == 1);
        long bStride = -1;
        if (xb == 1) bStride = 0;
        else if (xb == batch && batchDimsUniform(s, st, r - 2)) bStride = st[r - 3];
        if ((rowMajor || colMajor) && bStride >= 0) return new Operand(x, colMajor, bStride);
        int[] full = new int[batchShape.length + 2];
        System.arraycopy(batchShape, 0, full, 0, batchShape.length);
        full[full.length - 2] = rows;
        full[full.length - 1] = cols;
        Tensor c = like(x, full);
        x.backend().copy(c, broadcastArg(x, full));
        return new Operand(c, false, (long) rows * cols);
    }

    private static boolean batchDimsUniform(int[] s, long[] st, int nb) {
        for (int i = 0; i + 1 < nb; i++) if (s[i] != 1 && st[i] != st[i + 1] * s[i + 1]) return false;
        return true;
    }

    static Tensor matmul(Tensor a, Tensor b) {
        Backend be = sameBackend("matmul", a, b);
        if (a.rank() < 2 || b.rank() < 2)
            throw new IllegalArgumentException("matmul: operands need rank >= 2, got " + Shape.str(a.shape()) + " and " + Shape.str(b.shape()));
        int m = a.dim(-2), k = a.dim(-1), k2 = b.dim(-2), n = b.dim(-1);
        if (k != k2) throw new IllegalArgumentException("matmul: inner dimensions differ: " + Shape.str(a.shape())
                + " @ " + Shape.str(b.shape()) + " (" + k + " vs " + k2 + ")");
        int[] bs = Shape.broadcast("matmul (batch axes)", Arrays.copyOf(a.shape(), a.rank() - 2), Arrays.copyOf(b.shape(), b.rank() - 2));
        int batch = Shape.prod(bs, 0, bs.length);
        int[] os = Arrays.copyOf(bs, bs.length + 2);
        os[bs.length] = m;
        os[bs.length + 1] = n;
        Tensor out = like(a, os);
        Operand oa = operand(a, bs, m, k), ob = operand(b, bs, k, n);
        try {
            be.matmul(out, oa.t, ob.t, oa.trans, ob.trans, batch, m, n, k, oa.batchStride, ob.batchStride);
        } finally {
            if (oa.t != a) oa.t.close();
            if (ob.t != b) ob.t.close();
        }
        return record(out, new Op.Matmul(), new Tensor[] {a, b});
    }

    // ---- layers -------------------------------------------------------------------------------------------------

    static Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int pt, int pl, int pb, int pr) {
        Backend be = sameBackend("conv2d", x, w, bias);
        expectRank("conv2d", "input (N, C, H, W)", x, 4);
        expectRank("conv2d", "weight (K, C, R, S)", w, 4);
        int[] xs = x.shape(), ws = w.shape();
        if (xs[1] != ws[1])
            throw new IllegalArgumentException("conv2d: input has " + xs[1] + " channels but weight " + Shape.str(ws) + " expects " + ws[1]);
        if (bias != null && (bias.rank() != 1 || bias.dim(0) != ws[0]))
            throw new IllegalArgumentException("conv2d: bias " + Shape.str(bias.shape()) + " should be (" + ws[0] + ",)");
        if (stride < 1 || pt < 0 || pl < 0 || pb < 0 || pr < 0)
            throw new IllegalArgumentException("conv2d: stride must be >= 1 and padding >= 0");
        var g = new Backend.ConvGeom(xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], stride, pt, pl, pb, pr);
        if (xs[2] + pt + pb < ws[2] || xs[3] + pl + pr < ws[3])
            throw new IllegalArgumentException("conv2d: input " + Shape.str(xs) + " with padding is smaller than the kernel " + ws[2] + "x" + ws[3]);
        Tensor xc = x.contiguous(), wc = w.contiguous(), bc = bias == null ? null : bias.contiguous();
        Tensor out = like(x, g.n(), g.k(), g.ho(), g.wo());
        be.conv2dForward(out, xc, wc, bc, g);
        return record(out, new Op.Conv2d(g, bias != null), bias == null ? new Tensor[] {xc, wc} : new Tensor[] {xc, wc, bc});
    }

    static Tensor groupNorm(Tensor x, int groups, Tensor w, Tensor b, float eps, boolean silu) {
        Backend be = sameBackend("groupNorm", x, w, b);
        if (x.rank() < 2) throw new IllegalArgumentException("groupNorm: input must be (N, C, ...), got " + Shape.str(x.shape()));
        int n = x.dim(0), c = x.dim(1), hw = (int) (x.numel() / Math.max(1, (long) n * c));
        if (groups <= 0 || c % groups != 0)
            throw new IllegalArgumentException("groupNorm: " + c + " channels do not divide into " + groups + " groups");
        for (Tensor p : new Tensor[] {w, b})
            if (p != null && (p.rank() != 1 || p.dim(0) != c))
                throw new IllegalArgumentException("groupNorm: affine parameter " + Shape.str(p.shape()) + " should be (" + c + ",)");
        Tensor xc = x.contiguous();
        Tensor out = like(x, x.shape()), mean = like(x, n, groups), rstd = like(x, n, groups);
        be.groupNormForward(out, mean, rstd, xc, w, b, n, c, hw, groups, eps, silu);
        return record(out, new Op.GroupNorm(groups, eps, silu), new Tensor[] {xc, w, b}, mean, rstd);
    }

    /** Fused single-head attention softmax(q k^T * scale) v; q, k, v: (B, L, C). */
    public static Tensor attention(Tensor q, Tensor k, Tensor v, float scale) {
        Backend be = sameBackend("attention", q, k, v);
        expectRank("attention", "q (B, L, C)", q, 3);
        if (!Shape.same(q.shape(), k.shape()) || !Shape.same(q.shape(), v.shape()))
            throw new IllegalArgumentException("attention: q " + Shape.str(q.shape()) + ", k " + Shape.str(k.shape())
                    + " and v " + Shape.str(v.shape()) + " must have the same shape");
        Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
        int bsz = q.dim(0), len = q.dim(1), dim = q.dim(2);
        Tensor out = like(q, q.shape()), lse = like(q, bsz, len);
        be.attentionForward(out, lse, qc, kc, vc, bsz, len, dim, scale);
        return record(out, new Op.Attention(scale), new Tensor[] {qc, kc, vc}, lse);
    }

    static Tensor upsample2x(Tensor x) {
        x.check("upsample2x");
        expectRank("upsample2x", "input (N, C, H, W)", x, 4);
        int[] s = x.shape();
        Tensor c = x.contiguous();
        Tensor out = like(x, s[0], s[1], 2 * s[2], 2 * s[3]);
        x.backend().upsample2xForward(out, c, s[0] * s[1], s[2], s[3]);
        return record(out, new Op.Upsample2x(), new Tensor[] {c});
    }

    static Tensor gather(Tensor table, int[] idx) {
        table.check("gather");
        if (table.rank() < 1) throw new IllegalArgumentException("gather: table must have rank >= 1");
        int rows = table.dim(0);
        for (int i = 0; i < idx.length; i++)
            if (idx[i] < 0 || idx[i] >= rows)
                throw new IllegalArgumentException("gather: index " + idx[i] + " at position " + i + " is out of range [0, " + rows + ")");
        int[] s = table.shape();
        int rowLen = Shape.prod(s, 1, s.length);
        s[0] = idx.length;
        Tensor c = table.contiguous();
        Tensor out = like(table, s);
        table.backend().gatherRows(out, c, idx, rowLen);
        return record(out, new Op.Gather(idx.clone()), new Tensor[] {c});
    }

    static Tensor dropout(Tensor x, double p, Generator gen) {
        if (p < 0 || p >= 1) throw new IllegalArgumentException("dropout: probability must be in [0, 1), got " + p);
        if (p == 0) return x;
        Tensor mask;
        try (GradMode g = GradMode.off()) {
            Tensor u = Tensor.rand(x.backend(), x.dtype(), gen, x.shape());
            Tensor keep = u.gt(Tensor.scalar(x.backend(), x.dtype(), p));
            mask = keep.mul(1.0 / (1.0 - p));
            u.close();
            keep.close();
        }
        return x.mul(mask);
    }

    /** x_t = sqrt(alphaBar_t) x0 + sqrt(1 - alphaBar_t) eps (Ho et al. Eq. 4) with per-sample a = sqrt(alphaBar), b. */
    public static Tensor qSample(Tensor x0, Tensor eps, Tensor a, Tensor b) {
        Backend be = sameBackend("qSample", x0, eps, a, b);
        if (!Shape.same(x0.shape(), eps.shape()))
            throw new IllegalArgumentException("qSample: x0 " + Shape.str(x0.shape()) + " and eps " + Shape.str(eps.shape()) + " differ");
        int n = x0.dim(0);
        if (a.numel() != n || b.numel() != n)
            throw new IllegalArgumentException("qSample: coefficients " + Shape.str(a.shape()) + ", " + Shape.str(b.shape())
                    + " must have one value per sample (" + n + ")");
        Tensor xc = x0.contiguous(), ec = eps.contiguous(), ac = a.contiguous(), bc = b.contiguous();
        Tensor out = like(x0, x0.shape());
        be.qSample(out, xc, ec, ac, bc, n, (int) (x0.numel() / n));
        return record(out, new Op.QSample(), new Tensor[] {xc, ec, ac, bc});
    }
}
