// SPDX-License-Identifier: Apache-2.0
// conv2d forward / backward-data / backward-weights through oneDNN (OneDnn's FFM bindings): one cached primitive per
// geometry, run in the layout oneDNN picks (blocked, e.g. nChw16c), with reorders from and to our NCHW/OIHW tensors.
// CpuConv2d calls this first and keeps its im2col + OpenBLAS path for when oneDNN is absent or declines a geometry.
// The two backward passes share one reorder of dy (backward). Forward is forward_training even under no-grad: on
// avx512_core forward_inference picks brg_conv_fwd in NHWC, whose reorders from/to NCHW cost more than it saves.
package ddpm4j.core.cpu;

import ddpm4j.core.Backend.ConvGeom;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * oneDNN convolutions for the CPU backend.
 *
 * <p>Per geometry and direction a primitive is created once (oneDNN JIT-compiles its kernel then) and kept for the
 * JVM's lifetime; a U-Net has a few dozen distinct geometries. Inputs in our plain layouts are reordered into the
 * primitive's layout in per-thread scratch buffers (grown on demand, kept: no allocation in steady state), outputs
 * are reordered back. Memory objects wrap our segments without copying and are destroyed after each call. oneDNN's
 * own temporary storage is passed in ("user" scratchpad mode), so concurrent calls from several Java threads never
 * share a buffer. oneDNN runs on its OpenMP threads, as many as {@link Parallel#threads()}; for a given thread count
 * the results are the same from run to run.
 */
final class DnnlConv2d {
    private enum Kind { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS }

    private record Key(Kind kind, ConvGeom g, boolean bias) {}

    /** One argument of the primitive: our layout, oneDNN's layout, and the reorder between them (null if equal). */
    private record Operand(int arg, MemorySegment userMd, MemorySegment implMd, MemorySegment reorder, long implBytes,
                           boolean output) {}

    private record Plan(MemorySegment primitive, Operand[] operands, long scratchpadBytes, MemorySegment scratchpadMd,
                        String impl) {}

    /** A geometry oneDNN declined (no implementation): CpuConv2d's own path runs it. */
    private static final Plan DECLINED = new Plan(null, null, 0, null, "declined");

    private static final ConcurrentHashMap<Key, Plan> PLANS = new ConcurrentHashMap<>();

    /** Per-thread stream, argument array and scratch buffers (from auto arenas: freed with the thread). */
    private static final class Ctx {
        final MemorySegment stream, args, out;
        final MemorySegment[] scratch = new MemorySegment[SHARED_SLOT + 1];

        Ctx() {
            var b = OneDnn.b();
            Arena arena = Arena.ofAuto();
            out = arena.allocate(ADDRESS);
            args = arena.allocate((long) OneDnn.EXEC_ARG_BYTES * 8, 8);
            try {
                b.ompSetNumThreads().invokeExact(Parallel.threads());
                OneDnn.check((int) b.streamCreate().invokeExact(out, b.engine(), OneDnn.STREAM_DEFAULT),
                        "dnnl_stream_create", "a CPU stream");
            } catch (Throwable t) {
                throw NativeLibs.rethrow(t);
            }
            stream = out.get(ADDRESS, 0);
        }

        MemorySegment scratch(int slot, long bytes) {
            MemorySegment s = scratch[slot];
            if (s == null || s.byteSize() < bytes) scratch[slot] = s = Arena.ofAuto().allocate(Math.max(64, bytes), 64);
            return s;
        }
    }

    private static final ThreadLocal<Ctx> CTX = ThreadLocal.withInitial(Ctx::new);

    /** Scratch slots: 0-3 the operands of one primitive, 4 its scratchpad, 5 dy reordered once for both backwards. */
    private static final int PAD_SLOT = 4, SHARED_SLOT = 5;

    private DnnlConv2d() {}

    /** Whether oneDNN runs convolutions (it loaded; not disabled with {@code -Dddpm4j.onednn=false}). */
    static boolean enabled() {
        return Notice.ENABLED;
    }

    private static final class Notice {
        static final boolean ENABLED = decide();

        private static boolean decide() {
            if (OneDnn.available()) return true;
            if (!"false".equalsIgnoreCase(System.getProperty("ddpm4j.onednn"))) {
                System.err.println("ddpm4j: oneDNN not available (" + OneDnn.error()
                        + "); convolutions use im2col + GEMM, slower");
            }
            return false;
        }
    }

    /** The oneDNN implementation chosen for the forward pass of {@code g} (for example "brg_conv_fwd:avx512_core"). */
    static String implementation(ConvGeom g, boolean bias) {
        return plan(new Key(Kind.FORWARD, g, bias)).impl();
    }

    /** out (N, K, Ho, Wo) = conv(x (N, C, H, W), w (K, C, R, S)) + bias; false if oneDNN declined the geometry. */
    static boolean forward(MemorySegment out, MemorySegment x, MemorySegment w, MemorySegment bias, ConvGeom g) {
        Plan p = plan(new Key(Kind.FORWARD, g, bias != null));
        if (p == DECLINED) return false;
        run(p, bias == null ? new MemorySegment[] {x, w, out} : new MemorySegment[] {x, w, out, bias}, g, -1, null);
        return true;
    }

    /** dx (N, C, H, W) from dy (N, K, Ho, Wo) and w; false if oneDNN declined the geometry. */
    static boolean backwardData(MemorySegment dx, MemorySegment dy, MemorySegment w, ConvGeom g) {
        Plan p = plan(new Key(Kind.BACKWARD_DATA, g, false));
        if (p == DECLINED) return false;
        run(p, new MemorySegment[] {dy, w, dx}, g, -1, null);
        return true;
    }

    /** dw (K, C, R, S) and dbias (K, or null) from dy and x, overwritten; false if oneDNN declined the geometry. */
    static boolean backwardWeights(MemorySegment dw, MemorySegment dbias, MemorySegment dy, MemorySegment x,
                                   ConvGeom g) {
        Plan p = plan(new Key(Kind.BACKWARD_WEIGHTS, g, dbias != null));
        if (p == DECLINED) return false;
        run(p, dbias == null ? new MemorySegment[] {x, dy, dw} : new MemorySegment[] {x, dy, dw, dbias}, g, -1, null);
        return true;
    }

    /**
     * Both backward passes (dx, and dw with dbias or null) from one reorder of dy, when the two primitives want dy in
     * the same blocked layout (the usual case: that saves one activation-sized reorder per call). False, with nothing
     * computed, if oneDNN declined either geometry or the layouts differ: the caller then runs the two separately.
     */
    static boolean backward(MemorySegment dx, MemorySegment dw, MemorySegment dbias, MemorySegment dy, MemorySegment x,
                            MemorySegment w, ConvGeom g) {
        Plan pd = plan(new Key(Kind.BACKWARD_DATA, g, false));
        Plan pw = plan(new Key(Kind.BACKWARD_WEIGHTS, g, dbias != null));
        if (pd == DECLINED || pw == DECLINED) return false;
        Operand dyData = pd.operands()[0], dyWeights = pw.operands()[1];   // see create(): ARG_DIFF_DST positions
        if (!sharesLayout(dyData, dyWeights)) return false;
        var b = OneDnn.b();
        Ctx ctx = CTX.get();
        MemorySegment user = null, impl = null;
        try {
            // 1. dy (plain) -> dy (the primitives' layout), once, into its own scratch slot
            user = memory(b, ctx, dyData.userMd(), dy, g);
            impl = memory(b, ctx, dyData.implMd(), ctx.scratch(SHARED_SLOT, dyData.implBytes()), g);
            reorder(b, ctx, dyData.reorder(), user, impl, g);
            // 2. both primitives read it (run waits on the stream before returning, so impl outlives their use)
            run(pd, new MemorySegment[] {dy, w, dx}, g, 0, impl);
            run(pw, dbias == null ? new MemorySegment[] {x, dy, dw} : new MemorySegment[] {x, dy, dw, dbias}, g, 1, impl);
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        } finally {
            if (impl != null) destroy(b, impl);
            if (user != null) destroy(b, user);
        }
        return true;
    }

    /** Whether both operands are reordered into equal descriptors (a plain dy in either has nothing to share). */
    private static boolean sharesLayout(Operand a, Operand c) {
        if (a.reorder() == null || c.reorder() == null) return false;
        try {
            return (int) OneDnn.b().mdEqual().invokeExact(a.implMd(), c.implMd()) == 1;
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        }
    }

    // 1. wrap our segments; 2. reorder inputs into oneDNN's layout; 3. run; 4. reorder outputs back; 5. free wrappers.
    // Operand {@code preset} (if >= 0) is already in the primitive's layout in memory object {@code presetImpl}.
    private static void run(Plan p, MemorySegment[] data, ConvGeom g, int preset, MemorySegment presetImpl) {
        var b = OneDnn.b();
        Ctx ctx = CTX.get();
        Operand[] ops = p.operands();
        MemorySegment[] user = new MemorySegment[ops.length], impl = new MemorySegment[ops.length];
        MemorySegment pad = MemorySegment.NULL;
        try {
            for (int i = 0; i < ops.length; i++) {
                Operand op = ops[i];
                if (i == preset) continue;
                user[i] = memory(b, ctx, op.userMd(), data[i], g);
                impl[i] = op.reorder() == null ? user[i] : memory(b, ctx, op.implMd(), ctx.scratch(i, op.implBytes()), g);
                if (op.reorder() != null && !op.output()) reorder(b, ctx, op.reorder(), user[i], impl[i], g);
            }
            int n = 0;
            for (int i = 0; i < ops.length; i++) n = putArg(ctx.args, n, ops[i].arg(), i == preset ? presetImpl : impl[i]);
            if (p.scratchpadBytes() > 0) {
                pad = memory(b, ctx, p.scratchpadMd(), ctx.scratch(PAD_SLOT, p.scratchpadBytes()), g);
                n = putArg(ctx.args, n, OneDnn.ARG_SCRATCHPAD, pad);
            }
            OneDnn.check((int) b.primExecute().invokeExact(p.primitive(), ctx.stream, n, ctx.args),
                    "dnnl_primitive_execute", g);
            for (int i = 0; i < ops.length; i++) {
                if (ops[i].reorder() != null && ops[i].output()) reorder(b, ctx, ops[i].reorder(), impl[i], user[i], g);
            }
            OneDnn.check((int) b.streamWait().invokeExact(ctx.stream), "dnnl_stream_wait", g);
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        } finally {
            for (int i = 0; i < ops.length; i++) {
                if (impl[i] != null && impl[i] != user[i]) destroy(b, impl[i]);
                if (user[i] != null) destroy(b, user[i]);
            }
            if (pad != MemorySegment.NULL) destroy(b, pad);
        }
    }

    private static int putArg(MemorySegment args, int n, int arg, MemorySegment memory) {
        args.set(JAVA_INT, (long) n * OneDnn.EXEC_ARG_BYTES, arg);
        args.set(ADDRESS, (long) n * OneDnn.EXEC_ARG_BYTES + 8, memory);
        return n + 1;
    }

    private static void reorder(OneDnn.Bindings b, Ctx ctx, MemorySegment prim, MemorySegment from, MemorySegment to,
                                ConvGeom g) throws Throwable {
        int n = putArg(ctx.args, 0, OneDnn.ARG_FROM, from);
        n = putArg(ctx.args, n, OneDnn.ARG_TO, to);
        OneDnn.check((int) b.primExecute().invokeExact(prim, ctx.stream, n, ctx.args), "dnnl_primitive_execute (reorder)", g);
    }

    private static MemorySegment memory(OneDnn.Bindings b, Ctx ctx, MemorySegment md, MemorySegment data, ConvGeom g)
            throws Throwable {
        OneDnn.check((int) b.memCreate().invokeExact(ctx.out, md, b.engine(), data), "dnnl_memory_create", g);
        return ctx.out.get(ADDRESS, 0);
    }

    private static void destroy(OneDnn.Bindings b, MemorySegment memory) {
        try {
            int ignored = (int) b.memDestroy().invokeExact(memory);
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        }
    }

    private static Plan plan(Key key) {
        Plan p = PLANS.get(key);
        return p != null ? p : PLANS.computeIfAbsent(key, DnnlConv2d::create);
    }

    // Descriptors: "any" layouts for the primitive to choose; plain NCHW / OIHW for ours; bias always plain.
    private static Plan create(Key key) {
        var b = OneDnn.b();
        ConvGeom g = key.g();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = md(b, arena, OneDnn.TAG_ANY, g.n(), g.c(), g.h(), g.w());
            MemorySegment wts = md(b, arena, OneDnn.TAG_ANY, g.k(), g.c(), g.r(), g.s());
            MemorySegment dst = md(b, arena, OneDnn.TAG_ANY, g.n(), g.k(), g.ho(), g.wo());
            MemorySegment bias = key.bias() ? md(b, arena, OneDnn.TAG_A, g.k()) : MemorySegment.NULL;
            MemorySegment strides = dims(arena, g.stride(), g.stride()), dil = dims(arena, 0, 0);
            MemorySegment padL = dims(arena, g.padTop(), g.padLeft()), padR = dims(arena, g.padBottom(), g.padRight());
            MemorySegment attr = attr(b, arena);
            MemorySegment out = arena.allocate(ADDRESS);
            // the forward descriptor: the primitive itself, or the backward passes' required hint
            MemorySegment fwdBias = key.kind() == Kind.FORWARD ? bias : MemorySegment.NULL;
            int st = (int) b.convFwdPd().invokeExact(out, b.engine(), OneDnn.FORWARD_TRAINING, OneDnn.CONVOLUTION_DIRECT,
                    src, wts, fwdBias, dst, strides, dil, padL, padR, attr);
            if (st == 3) return DECLINED;   // unimplemented
            OneDnn.check(st, "dnnl_convolution_forward_primitive_desc_create", g);
            MemorySegment fwd = out.get(ADDRESS, 0), pd;
            Operand[] ops;
            switch (key.kind()) {
                case FORWARD -> {
                    pd = fwd;
                    ops = new Operand[key.bias() ? 4 : 3];
                    ops[0] = operand(b, arena, pd, OneDnn.ARG_SRC, OneDnn.QUERY_SRC_MD, false, g.n(), g.c(), g.h(), g.w());
                    ops[1] = operand(b, arena, pd, OneDnn.ARG_WEIGHTS, OneDnn.QUERY_WEIGHTS_MD, false, g.k(), g.c(), g.r(), g.s());
                    ops[2] = operand(b, arena, pd, OneDnn.ARG_DST, OneDnn.QUERY_DST_MD, true, g.n(), g.k(), g.ho(), g.wo());
                    if (key.bias()) ops[3] = new Operand(OneDnn.ARG_BIAS, bias, bias, null, 0, false);
                }
                case BACKWARD_DATA -> {
                    st = (int) b.convBwdDataPd().invokeExact(out, b.engine(), OneDnn.CONVOLUTION_DIRECT, src, wts, dst,
                            strides, dil, padL, padR, fwd, attr);
                    if (st == 3) return DECLINED;
                    OneDnn.check(st, "dnnl_convolution_backward_data_primitive_desc_create", g);
                    pd = out.get(ADDRESS, 0);
                    ops = new Operand[] {
                        operand(b, arena, pd, OneDnn.ARG_DIFF_DST, OneDnn.QUERY_DIFF_DST_MD, false, g.n(), g.k(), g.ho(), g.wo()),
                        operand(b, arena, pd, OneDnn.ARG_WEIGHTS, OneDnn.QUERY_WEIGHTS_MD, false, g.k(), g.c(), g.r(), g.s()),
                        operand(b, arena, pd, OneDnn.ARG_DIFF_SRC, OneDnn.QUERY_DIFF_SRC_MD, true, g.n(), g.c(), g.h(), g.w())};
                }
                default -> {
                    st = (int) b.convBwdWeightsPd().invokeExact(out, b.engine(), OneDnn.CONVOLUTION_DIRECT, src, wts, bias,
                            dst, strides, dil, padL, padR, fwd, attr);
                    if (st == 3) return DECLINED;
                    OneDnn.check(st, "dnnl_convolution_backward_weights_primitive_desc_create", g);
                    pd = out.get(ADDRESS, 0);
                    ops = new Operand[key.bias() ? 4 : 3];
                    ops[0] = operand(b, arena, pd, OneDnn.ARG_SRC, OneDnn.QUERY_SRC_MD, false, g.n(), g.c(), g.h(), g.w());
                    ops[1] = operand(b, arena, pd, OneDnn.ARG_DIFF_DST, OneDnn.QUERY_DIFF_DST_MD, false, g.n(), g.k(), g.ho(), g.wo());
                    ops[2] = operand(b, arena, pd, OneDnn.ARG_DIFF_WEIGHTS, OneDnn.QUERY_DIFF_WEIGHTS_MD, true, g.k(), g.c(), g.r(), g.s());
                    if (key.bias()) ops[3] = new Operand(OneDnn.ARG_DIFF_BIAS, bias, bias, null, 0, true);
                }
            }
            MemorySegment padMd = (MemorySegment) b.pdQueryMd().invokeExact(pd, OneDnn.QUERY_SCRATCHPAD_MD, 0);
            long padBytes = padMd.equals(MemorySegment.NULL) ? 0 : (long) b.mdGetSize().invokeExact(padMd);
            OneDnn.check((int) b.primCreate().invokeExact(out, pd), "dnnl_primitive_create", g);
            MemorySegment prim = out.get(ADDRESS, 0);
            MemorySegment info = arena.allocate(ADDRESS);
            String impl = (int) b.pdQuery().invokeExact(pd, OneDnn.QUERY_IMPL_INFO_STR, 0, info) == 0
                    ? info.get(ADDRESS, 0).reinterpret(256).getString(0) : "?";
            // The descriptors stay alive (the plan points into the primitive descriptors); src/wts/dst "any" do not.
            for (MemorySegment m : new MemorySegment[] {src, wts, dst}) {
                int ignored = (int) b.mdDestroy().invokeExact(m);
            }
            int ignored = (int) b.attrDestroy().invokeExact(attr);
            return new Plan(prim, ops, padBytes, padMd, impl);
        } catch (Throwable t) {
            throw NativeLibs.rethrow(t);
        }
    }

    // Our plain layout (abcd) and the primitive's (queried); a reorder primitive when they differ.
    private static Operand operand(OneDnn.Bindings b, Arena arena, MemorySegment pd, int arg, int query, boolean output,
                                   long... shape) throws Throwable {
        MemorySegment implMd = (MemorySegment) b.pdQueryMd().invokeExact(pd, query, 0);
        MemorySegment userMd = md(b, arena, OneDnn.TAG_ABCD, shape);
        if ((int) b.mdEqual().invokeExact(userMd, implMd) == 1) return new Operand(arg, userMd, userMd, null, 0, output);
        MemorySegment out = arena.allocate(ADDRESS);
        MemorySegment from = output ? implMd : userMd, to = output ? userMd : implMd;
        OneDnn.check((int) b.reorderPd().invokeExact(out, from, b.engine(), to, b.engine(), MemorySegment.NULL),
                "dnnl_reorder_primitive_desc_create", java.util.Arrays.toString(shape));
        MemorySegment rpd = out.get(ADDRESS, 0);
        OneDnn.check((int) b.primCreate().invokeExact(out, rpd), "dnnl_primitive_create (reorder)",
                java.util.Arrays.toString(shape));
        MemorySegment reorder = out.get(ADDRESS, 0);
        int ignored = (int) b.pdDestroy().invokeExact(rpd);
        return new Operand(arg, userMd, implMd, reorder, (long) b.mdGetSize().invokeExact(implMd), output);
    }

    // A memory descriptor that outlives the arena (oneDNN owns it; plans keep theirs for the JVM's lifetime).
    private static MemorySegment md(OneDnn.Bindings b, Arena arena, int tag, long... shape) throws Throwable {
        MemorySegment out = arena.allocate(ADDRESS);
        OneDnn.check((int) b.mdCreateWithTag().invokeExact(out, shape.length, dims(arena, shape), OneDnn.F32, tag),
                "dnnl_memory_desc_create_with_tag", java.util.Arrays.toString(shape));
        return out.get(ADDRESS, 0);
    }

    private static MemorySegment dims(Arena arena, long... values) {
        MemorySegment d = arena.allocate(JAVA_LONG, OneDnn.MAX_NDIMS);
        for (int i = 0; i < values.length; i++) d.setAtIndex(JAVA_LONG, i, values[i]);
        return d;
    }

    private static MemorySegment attr(OneDnn.Bindings b, Arena arena) throws Throwable {
        MemorySegment out = arena.allocate(ADDRESS);
        OneDnn.check((int) b.attrCreate().invokeExact(out), "dnnl_primitive_attr_create", "attributes");
        MemorySegment attr = out.get(ADDRESS, 0);
        OneDnn.check((int) b.attrSetScratchpad().invokeExact(attr, OneDnn.SCRATCHPAD_USER),
                "dnnl_primitive_attr_set_scratchpad_mode", "attributes");
        return attr;
    }
}
