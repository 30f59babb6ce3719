// SPDX-License-Identifier: Apache-2.0
// An n-dimensional array on a backend, with strides (views share storage) and a node in the autograd graph.
// Factories, views and bookkeeping live here; the ops themselves (checks, output allocation, graph recording) in
// Ops, which Tensor's fluent methods call. Pairs with autograd/Autograd (backward) and Backend (kernels).
package ddpm4j.core;

import ddpm4j.core.autograd.Autograd;
import ddpm4j.core.autograd.Node;
import java.util.Arrays;

/**
 * A float tensor. Created on a {@link Backend} (default {@link Backends#current()}), freed by {@link #close()} or by
 * the enclosing {@link Scope}; memory of unreachable, unclosed tensors is reclaimed by a cleaner as a last resort.
 * Any use of a closed tensor throws {@link IllegalStateException} naming the op.
 */
public final class Tensor implements AutoCloseable {
    private static final java.util.concurrent.atomic.AtomicLong CREATED = new java.util.concurrent.atomic.AtomicLong();

    private final Backend backend;
    private final Storage storage;
    private final int[] shape;
    private final long[] strides;
    private final long offset;
    private final boolean borrowed;          // internal kernel-argument view: holds no reference on the storage
    private boolean requiresGrad;
    private Tensor grad;
    private Node node;
    private volatile boolean closed;
    private Scope scope;
    private final long serial = CREATED.getAndIncrement();   // creation order, for adoptGrad

    Tensor(Storage storage, int[] shape, long[] strides, long offset, boolean borrowed) {
        this.backend = storage.backend();
        this.storage = storage;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
        this.borrowed = borrowed;
        if (!borrowed) {
            Scope s = Scope.current();
            if (s != null) { scope = s; s.adopt(this); }
        }
    }

    // ---- factories ----------------------------------------------------------------------------------------------

    /** Uninitialised tensor. */
    public static Tensor empty(Backend be, DType dtype, int... shape) {
        if (!be.supports(dtype))
            throw new IllegalArgumentException("backend '" + be.name() + "' does not support " + dtype + " tensors");
        int[] s = shape.clone();
        long n = Shape.numel(s);
        return new Tensor(be.allocate(n, dtype), s, Shape.strides(s), 0, false);
    }

    public static Tensor empty(int... shape) { return empty(Backends.current(), DType.F32, shape); }

    public static Tensor full(Backend be, DType dtype, double value, int... shape) {
        Tensor t = empty(be, dtype, shape);
        be.fill(t, value);
        return t;
    }

    public static Tensor zeros(Backend be, int... shape) { return full(be, DType.F32, 0, shape); }

    public static Tensor zeros(int... shape) { return zeros(Backends.current(), shape); }

    public static Tensor ones(Backend be, int... shape) { return full(be, DType.F32, 1, shape); }

    public static Tensor ones(int... shape) { return ones(Backends.current(), shape); }

    /** A one-element tensor of rank 0. */
    public static Tensor scalar(Backend be, DType dtype, double value) { return full(be, dtype, value); }

    /** Copies {@code data} (row-major) into a new F32 tensor of that shape. */
    public static Tensor of(Backend be, float[] data, int... shape) {
        if (Shape.numel(shape) != data.length)
            throw new IllegalArgumentException("Tensor.of: " + data.length + " values do not fill shape " + Shape.str(shape)
                    + " (" + Shape.numel(shape) + " elements)");
        Tensor t = empty(be, DType.F32, shape);
        be.copyFromHost(t, data, 0);
        return t;
    }

    public static Tensor of(float[] data, int... shape) { return of(Backends.current(), data, shape); }

    /** Copies {@code data} into a new F64 tensor (reference backend). */
    public static Tensor of(Backend be, double[] data, int... shape) {
        if (Shape.numel(shape) != data.length)
            throw new IllegalArgumentException("Tensor.of: " + data.length + " values do not fill shape " + Shape.str(shape));
        Tensor t = empty(be, DType.F64, shape);
        be.copyFromHost(t, data, 0);
        return t;
    }

    /** Standard normal draws from the generator's Philox stream. */
    public static Tensor randn(Backend be, Generator gen, int... shape) {
        Tensor t = empty(be, DType.F32, shape);
        be.fillNormal(t, gen.seed(), gen.advance(t.numel()));
        return t;
    }

    /** Uniform draws in [0, 1) from the generator's Philox stream. */
    public static Tensor rand(Backend be, Generator gen, int... shape) { return rand(be, DType.F32, gen, shape); }

    /** Uniform draws in [0, 1) of the given element type. */
    public static Tensor rand(Backend be, DType dtype, Generator gen, int... shape) {
        Tensor t = empty(be, dtype, shape);
        be.fillUniform(t, gen.seed(), gen.advance(t.numel()));
        return t;
    }

    // ---- accessors (for backends and tests) ---------------------------------------------------------------------

    public Backend backend() { return backend; }

    public Storage storage() { return storage; }

    public DType dtype() { return storage.dtype(); }

    public int[] shape() { return shape.clone(); }

    public int dim(int axis) { return shape[Shape.axis("dim", axis, shape.length)]; }

    public int rank() { return shape.length; }

    /** Element strides (0 where broadcast). */
    public long[] strides() { return strides.clone(); }

    /** Offset of the first element in the storage, in elements. */
    public long offset() { return offset; }

    public long numel() { return Shape.numel(shape); }

    /** Row-major with no gaps (dimensions of size 1 may have any stride). */
    public boolean isContiguous() {
        long expect = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != expect) return false;
            expect *= shape[i];
        }
        return true;
    }

    public boolean isClosed() { return closed; }

    Scope scope() { return scope; }

    public Node node() { return node; }

    /** Throws if closed; {@code op} names the caller in the message. */
    public Tensor check(String op) {
        if (closed || storage.isReleased())
            throw new IllegalStateException(op + ": tensor " + Shape.str(shape) + " " + dtype() + " was closed (freed) and cannot be used");
        return this;
    }

    // ---- autograd -----------------------------------------------------------------------------------------------

    public boolean requiresGrad() { return requiresGrad; }

    /** Marks a leaf as a parameter whose gradient {@link #backward()} accumulates into {@link #grad()}. */
    public Tensor requiresGrad(boolean on) {
        if (node != null) throw new IllegalStateException("requiresGrad: only leaf tensors can be marked; this one is the output of " + node.op());
        requiresGrad = on;
        return this;
    }

    /** Accumulated gradient of a leaf, or null before the first backward. */
    public Tensor grad() { return grad; }

    /** Replaces the gradient buffer (optimizers and {@code zeroGrad}); the previous one is closed. */
    public void setGrad(Tensor g) {
        if (grad != null && grad != g) grad.close();
        grad = g;
        if (g != null) g.detachFromScope();
    }

    /**
     * For autograd: a mark such that every tensor created afterwards (on any thread) is newer than it; see
     * {@link #adoptGrad}.
     */
    public static long creationMark() { return CREATED.get(); }

    /**
     * For autograd: makes {@code g} this leaf's gradient buffer without copying it, if that is safe, and says whether it
     * did (if not, nothing changed and the caller still owns {@code g}). Safe means: this leaf has no open gradient
     * yet; {@code g} was created at or after {@code mark} (a {@link #creationMark()} taken when the backward pass
     * began, so it is a temporary of that pass that no caller holds, never an input, parameter or seed); it is open,
     * not a borrowed view, not in the graph, has this leaf's shape, dtype and backend, covers the whole of its storage
     * contiguously, and no other tensor (view, detached alias) uses that storage. {@code g} then leaves its scope,
     * which will no longer free it, and is owned by this leaf like any gradient buffer.
     */
    public boolean adoptGrad(Tensor g, long mark) {
        if (grad != null && !grad.closed) return false;
        if (g == this || g.serial < mark || g.closed || g.borrowed || g.node != null || g.grad != null) return false;
        if (g.backend != backend || g.dtype() != dtype() || !Shape.same(g.shape, shape)) return false;
        if (g.offset != 0 || !g.isContiguous() || g.storage.numel() != g.numel()) return false;
        if (g.storage.refCount() != 1 || g.storage.isReleased()) return false;
        setGrad(g);
        return true;
    }

    public void setNode(Node n) {
        node = n;
        requiresGrad = n != null;
    }

    /** Back-propagates from this scalar. */
    public void backward() { Autograd.backward(this, null); }

    /** Back-propagates with the given gradient of this tensor. */
    public void backward(Tensor gradient) { Autograd.backward(this, gradient); }

    /**
     * As {@link #backward()}, and closes every intermediate tensor of the graph (each one below this scalar made by
     * an op, and what its op saved) as soon as its derivative has run, as PyTorch frees saved tensors when
     * {@code retain_graph} is false: activations leave during the backward pass rather than when their scope closes,
     * which lowers a training step's peak. Leaves (parameters, inputs) and this tensor stay; reading one of the closed
     * intermediates afterwards throws.
     */
    public void backwardReleasingGraph() { Autograd.backward(this, null, true); }

    /** Same data, cut from the graph. */
    public Tensor detach() {
        check("detach");
        storage.retain();
        return new Tensor(storage, shape, strides, offset, false);
    }

    // ---- lifetime -----------------------------------------------------------------------------------------------

    /** Moves this tensor to the enclosing scope (or out of all scopes), so the current scope does not free it. */
    public Tensor keep() {
        if (scope != null) {
            Scope parent = scope.parent();
            scope = parent;
            if (parent != null) parent.adopt(this);
        }
        return this;
    }

    /** Takes this tensor out of every scope: it lives until closed (parameters, optimizer state). */
    public Tensor detachFromScope() {
        scope = null;
        return this;
    }

    /** Frees this tensor's reference to its storage (the memory returns to the pool when no view uses it). */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        node = null;
        if (!borrowed) storage.release();
        if (grad != null) { grad.close(); grad = null; }
    }

    // ---- views --------------------------------------------------------------------------------------------------

    /** A view sharing storage; registered in the current scope. */
    Tensor view(int[] newShape, long[] newStrides, long newOffset) {
        storage.retain();
        return new Tensor(storage, newShape, newStrides, newOffset, false);
    }

    /** A kernel-argument view valid while this tensor lives; never registered, never retains. */
    public Tensor borrow(int[] newShape, long[] newStrides, long newOffset) {
        return new Tensor(storage, newShape, newStrides, newOffset, true);
    }

    /** This tensor viewed with another shape of the same size (a view when contiguous, else a copy). -1 is inferred. */
    public Tensor reshape(int... newShape) { return Ops.reshape(this, newShape); }

    public Tensor permute(int... dims) { return Ops.permute(this, dims); }

    public Tensor transpose(int a, int b) {
        int r = rank();
        int[] dims = new int[r];
        for (int i = 0; i < r; i++) dims[i] = i;
        int x = Shape.axis("transpose", a, r), y = Shape.axis("transpose", b, r);
        dims[x] = y;
        dims[y] = x;
        return permute(dims);
    }

    /** Elements {@code start..end} along {@code axis} (a view). */
    public Tensor slice(int axis, int start, int end) { return Ops.slice(this, axis, start, end); }

    /** Broadcast view to {@code newShape} (stride 0 where expanded). */
    public Tensor expand(int... newShape) { return Ops.expand(this, newShape); }

    public Tensor unsqueeze(int axis) {
        int a = axis < 0 ? axis + rank() + 1 : axis;
        int[] s = new int[rank() + 1];
        for (int i = 0, j = 0; i < s.length; i++) s[i] = i == a ? 1 : shape[j++];
        return reshape(s);
    }

    /** A contiguous tensor with the same values (this one if already contiguous). */
    public Tensor contiguous() { return isContiguous() ? this : Ops.copy(this); }

    /** A contiguous copy. */
    public Tensor copy() { return Ops.copy(this); }

    // ---- elementwise --------------------------------------------------------------------------------------------

    public Tensor add(Tensor o) { return Ops.binary(Backend.BinaryOp.ADD, this, o); }
    public Tensor sub(Tensor o) { return Ops.binary(Backend.BinaryOp.SUB, this, o); }
    public Tensor mul(Tensor o) { return Ops.binary(Backend.BinaryOp.MUL, this, o); }
    public Tensor div(Tensor o) { return Ops.binary(Backend.BinaryOp.DIV, this, o); }
    public Tensor maximum(Tensor o) { return Ops.binary(Backend.BinaryOp.MAX, this, o); }
    public Tensor minimum(Tensor o) { return Ops.binary(Backend.BinaryOp.MIN, this, o); }
    /** 1 where equal, else 0 (no gradient). */
    public Tensor eq(Tensor o) { return Ops.binary(Backend.BinaryOp.EQ, this, o); }
    /** 1 where greater, else 0 (no gradient). */
    public Tensor gt(Tensor o) { return Ops.binary(Backend.BinaryOp.GT, this, o); }
    public Tensor add(double c) { return Ops.affine(this, 1, c); }
    public Tensor sub(double c) { return Ops.affine(this, 1, -c); }
    public Tensor mul(double c) { return Ops.affine(this, c, 0); }
    public Tensor div(double c) { return Ops.affine(this, 1 / c, 0); }
    /** scale * this + shift. */
    public Tensor affine(double scale, double shift) { return Ops.affine(this, scale, shift); }
    public Tensor neg() { return Ops.unary(Backend.UnaryOp.NEG, this); }
    public Tensor exp() { return Ops.unary(Backend.UnaryOp.EXP, this); }
    public Tensor log() { return Ops.unary(Backend.UnaryOp.LOG, this); }
    public Tensor sqrt() { return Ops.unary(Backend.UnaryOp.SQRT, this); }
    public Tensor rsqrt() { return Ops.unary(Backend.UnaryOp.RSQRT, this); }
    public Tensor square() { return Ops.unary(Backend.UnaryOp.SQUARE, this); }
    public Tensor tanh() { return Ops.unary(Backend.UnaryOp.TANH, this); }
    public Tensor sigmoid() { return Ops.unary(Backend.UnaryOp.SIGMOID, this); }
    public Tensor silu() { return Ops.unary(Backend.UnaryOp.SILU, this); }
    public Tensor sin() { return Ops.unary(Backend.UnaryOp.SIN, this); }
    public Tensor cos() { return Ops.unary(Backend.UnaryOp.COS, this); }
    public Tensor relu() { return Ops.unary(Backend.UnaryOp.RELU, this); }
    public Tensor abs() { return Ops.unary(Backend.UnaryOp.ABS, this); }

    // ---- reductions ---------------------------------------------------------------------------------------------

    /** Sum of all elements (rank 0). */
    public Tensor sum() { return Ops.sum(this, allAxes(), false); }

    public Tensor sum(int[] axes, boolean keepDim) { return Ops.sum(this, axes, keepDim); }

    public Tensor sum(int axis, boolean keepDim) { return Ops.sum(this, new int[] {axis}, keepDim); }

    public Tensor mean() { return Ops.mean(this, allAxes(), false); }

    public Tensor mean(int[] axes, boolean keepDim) { return Ops.mean(this, axes, keepDim); }

    /** Maximum along one axis. */
    public Tensor max(int axis, boolean keepDim) { return Ops.max(this, axis, keepDim); }

    public Tensor softmax(int axis) { return Ops.softmax(this, axis); }

    /** Sums broadcast dimensions away so the result has {@code target} shape (gradient of broadcasting). */
    public Tensor sumTo(int... target) { return Ops.sumTo(this, target); }

    private int[] allAxes() {
        int[] a = new int[rank()];
        for (int i = 0; i < a.length; i++) a[i] = i;
        return a;
    }

    // ---- layers -------------------------------------------------------------------------------------------------

    /** Batched matrix product over the last two axes, batch axes broadcast. */
    public Tensor matmul(Tensor o) { return Ops.matmul(this, o); }

    /** 2-D convolution, symmetric padding. */
    public Tensor conv2d(Tensor weight, Tensor bias, int stride, int pad) {
        return Ops.conv2d(this, weight, bias, stride, pad, pad, pad, pad);
    }

    /** 2-D convolution with per-side padding (top, left, bottom, right). */
    public Tensor conv2d(Tensor weight, Tensor bias, int stride, int padTop, int padLeft, int padBottom, int padRight) {
        return Ops.conv2d(this, weight, bias, stride, padTop, padLeft, padBottom, padRight);
    }

    /** GroupNorm over (N, C, ...) with optional affine weight/bias (C), optionally fused with SiLU. */
    public Tensor groupNorm(int groups, Tensor weight, Tensor bias, float eps, boolean silu) {
        return Ops.groupNorm(this, groups, weight, bias, eps, silu);
    }

    /** Nearest-neighbour 2x upsampling of (N, C, H, W). */
    public Tensor upsample2x() { return Ops.upsample2x(this); }

    /** Rows {@code idx[i]} of this tensor along axis 0. */
    public Tensor gather(int[] idx) { return Ops.gather(this, idx); }

    /** Inverted dropout with probability p, mask from the generator; identity when p == 0. */
    public Tensor dropout(double p, Generator gen) { return Ops.dropout(this, p, gen); }

    /** Mean squared error against a target of the same shape. */
    public Tensor mseLoss(Tensor target) { return Ops.mse(this, target); }

    // ---- in-place (no autograd: optimizers, gradient buffers) ---------------------------------------------------

    public Tensor fill(double v) {
        check("fill");
        backend.fill(this, v);
        return this;
    }

    /** this += o (o broadcast to this shape). */
    public Tensor addInPlace(Tensor o) { Ops.addInPlace(this, o); return this; }

    /** this *= c. */
    public Tensor scaleInPlace(double c) {
        check("scaleInPlace");
        backend.affine(this, this, c, 0);
        return this;
    }

    /** Copies values of {@code src} (same shape, any backend) into this tensor. */
    public Tensor copyFrom(Tensor src) { Ops.copyInto(this, src); return this; }

    // ---- host access --------------------------------------------------------------------------------------------

    public float[] toFloatArray() {
        check("toFloatArray");
        float[] out = new float[Math.toIntExact(numel())];
        backend.copyToHost(contiguousForRead(), out, 0);
        return out;
    }

    public double[] toDoubleArray() {
        check("toDoubleArray");
        double[] out = new double[Math.toIntExact(numel())];
        backend.copyToHost(contiguousForRead(), out, 0);
        return out;
    }

    private Tensor contiguousForRead() {
        if (isContiguous()) return this;
        try (GradMode g = GradMode.off()) { return Ops.copy(this); }
    }

    /** The value of a one-element tensor. */
    public double item() {
        if (numel() != 1)
            throw new IllegalStateException("item: tensor of shape " + Shape.str(shape) + " has " + numel() + " elements, expected 1");
        return toDoubleArray()[0];
    }

    /** A copy on another backend (this tensor if already there). */
    public Tensor to(Backend other) {
        check("to");
        if (other == backend) return this;
        Tensor t = empty(other, dtype(), shape);
        if (dtype() == DType.F64) other.copyFromHost(t, toDoubleArray(), 0);
        else other.copyFromHost(t, toFloatArray(), 0);
        return t;
    }

    @Override
    public String toString() {
        String head = "Tensor" + Shape.str(shape) + " " + dtype() + " on " + backend.name();
        if (closed) return head + " (closed)";
        if (numel() > 16) return head;
        return head + " " + Arrays.toString(toFloatArray());
    }
}
