// SPDX-License-Identifier: Apache-2.0
// Algorithm 1 of Ho et al. 2020: t ~ U{0..T-1}, eps ~ N(0, I), gradient step on ||eps - epsTheta(q_sample(x0, t, eps), t)||^2
// (L_simple, Eq. 14), with Adam + warmup, global-norm clipping, EMA. Pairs with TrainCheckpoint (state on disk),
// TrainRun (logs, plots, grids) and DdpmTrainerTest (loss falls; resume is bit-exact).
package ddpm4j.diffusion;

import ddpm4j.core.Backend;
import ddpm4j.core.GradMode;
import ddpm4j.core.Generator;
import ddpm4j.core.Ops;
import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;
import ddpm4j.core.optim.Adam;
import ddpm4j.core.optim.Ema;
import ddpm4j.core.optim.GradClip;
import ddpm4j.diffusion.data.Images;
import ddpm4j.nn.Dropout;
import ddpm4j.nn.Module;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * A training run's live state: model, EMA, Adam moments, the random stream (seed, offset), the dropout stream, the
 * data order (epoch, position) and the step. Everything random comes from seeded Philox streams drawn in a fixed order,
 * so a run resumed from a checkpoint repeats the losses of an uninterrupted run bit for bit (same backend and threads).
 */
public final class DdpmTrainer implements AutoCloseable {
    /**
     * Hyper-parameters (the paper's defaults in {@link #paper()}).
     *
     * @param batchSize images per step
     * @param lr        peak Adam learning rate (2e-4)
     * @param warmup    linear warmup steps (5000)
     * @param gradClip  global gradient norm bound (1.0)
     * @param emaDecay  EMA decay of the weights (0.9999)
     * @param hflip     random horizontal flips (off for digits)
     * @param seed      seed of every random stream of the run
     */
    public record Config(int batchSize, double lr, long warmup, double gradClip, float emaDecay, boolean hflip, long seed) {
        public Config {
            if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
            if (!(lr > 0)) throw new IllegalArgumentException("learning rate must be > 0, got " + lr);
            if (warmup < 0) throw new IllegalArgumentException("warmup must be >= 0, got " + warmup);
            if (!(gradClip > 0)) throw new IllegalArgumentException("gradient clip must be > 0, got " + gradClip);
            if (!(emaDecay >= 0 && emaDecay <= 1)) throw new IllegalArgumentException("EMA decay must be in [0, 1], got " + emaDecay);
        }

        /** Batch 128, lr 2e-4, warmup 5000, clip 1, EMA 0.9999, flips on, seed 0. */
        public static Config paper() { return new Config(128, 2e-4, 5000, 1.0, 0.9999f, true, 0); }
    }

    /** Loss and gradient norm of one step. */
    public record StepStats(long step, double loss, double gradNorm, double lr) {}

    /** Thrown when a loss or gradient norm is NaN or infinite; nothing of that step was applied. */
    public static final class NonFiniteException extends RuntimeException {
        public final long step;

        NonFiniteException(long step, String what, double value) {
            super("training stopped at step " + step + ": the " + what + " is " + value
                    + "; the parameters were not updated (the last checkpoint is the last good state)");
            this.step = step;
        }
    }

    private final Module model;
    private final EpsModel eps;
    private final NoiseSchedule schedule;
    private final Images data;
    private final Config config;
    private final Backend be;
    private final List<Tensor> params;
    private final Adam adam;
    private final Ema ema;
    private final List<Dropout> dropouts = new ArrayList<>();
    Generator gen;
    Generator dropoutGen;
    long step;
    int epoch;
    int position;
    private int[] perm;

    /**
     * @param model the network's parameters (trained in place)
     * @param eps   its forward pass
     * @param data  training images in [-1, 1], (N, C, H, W)
     */
    public DdpmTrainer(Module model, EpsModel eps, NoiseSchedule schedule, Images data, Config config, Backend be) {
        if (data.n() < 1) throw new IllegalArgumentException("the training set is empty");
        this.model = model;
        this.eps = eps;
        this.schedule = schedule;
        this.data = data;
        this.config = config;
        this.be = be;
        // the step's peak is what a training run's memory is judged by: cached blocks may not lift it (HostPool)
        be.capMemoryFootprint(true);
        this.params = model.parameters();
        this.adam = Adam.ddpm(params, config.lr(), config.warmup());
        this.ema = new Ema(params, config.emaDecay());
        collectDropouts(model);
        gen = new Generator(config.seed());
        setDropoutGenerator(new Generator(config.seed() + 1));
    }

    private void collectDropouts(Module m) {
        if (m instanceof Dropout d) dropouts.add(d);
        for (Module c : m.children().values()) collectDropouts(c);
    }

    void setDropoutGenerator(Generator g) {
        dropoutGen = g;
        for (Dropout d : dropouts) d.setGenerator(g);
    }

    public long step() { return step; }

    public Config config() { return config; }

    public NoiseSchedule schedule() { return schedule; }

    Module model() { return model; }

    Adam adam() { return adam; }

    Ema ema() { return ema; }

    List<Tensor> params() { return params; }

    /** The data order of an epoch: a Fisher-Yates shuffle from a stream of its own, so it is a function of (seed, epoch). */
    int[] permutation(int e) {
        Generator g = new Generator(config.seed() * 1_000_003L + 7919L * e + 17);
        int[] p = new int[data.n()];
        for (int i = 0; i < p.length; i++) p[i] = i;
        for (int i = p.length - 1; i > 0; i--) {
            int j = g.nextInt(i + 1);
            int tmp = p[i]; p[i] = p[j]; p[j] = tmp;
        }
        return p;
    }

    private int nextIndex() {
        if (perm == null) perm = permutation(epoch);
        if (position >= perm.length) {
            epoch++;
            position = 0;
            perm = permutation(epoch);
        }
        return perm[position++];
    }

    void resetOrder(int epoch, int position) {
        this.epoch = epoch;
        this.position = position;
        this.perm = null;
    }

    /** The next batch (B, C, H, W) on the host, flipped left-right at random when configured. */
    float[] nextBatch() {
        int b = config.batchSize(), per = data.imageSize(), w = data.w(), rows = data.c() * data.h();
        float[] x = new float[b * per];
        for (int i = 0; i < b; i++) {
            int idx = nextIndex();
            System.arraycopy(data.data(), idx * per, x, i * per, per);
        }
        if (config.hflip())
            for (int i = 0; i < b; i++) {
                if (gen.nextFloat() >= 0.5f) continue;
                for (int r = 0; r < rows; r++) {
                    int base = i * per + r * w;
                    for (int a = 0, z = w - 1; a < z; a++, z--) { float t = x[base + a]; x[base + a] = x[base + z]; x[base + z] = t; }
                }
            }
        return x;
    }

    /**
     * One step of Algorithm 1 on the next batch of the data. Every intermediate lives in a {@link Scope}, so memory is
     * reused step to step.
     *
     * @throws NonFiniteException if the loss or the gradient norm is not finite (nothing is updated then)
     */
    public StepStats trainStep() { return trainStep(null); }

    /**
     * {@link #trainStep()}, running {@code afterBackward} (when not null) between the backward pass and the gradient
     * clipping, so a profiler can tell the optimizer's time from the network's (bench's EndToEnd does).
     */
    public StepStats trainStep(Runnable afterBackward) {
        model.train(true);
        long s = step + 1;
        int b = config.batchSize(), T = schedule.steps();
        try (Scope scope = Scope.open()) {
            // 1. x_0 ~ q(x_0)
            Tensor x0 = Tensor.of(be, nextBatch(), b, data.c(), data.h(), data.w());
            // 2. t ~ Uniform({0, ..., T-1})  (the paper's {1, ..., T})
            int[] t = new int[b];
            for (int i = 0; i < b; i++) t[i] = gen.nextInt(T);
            // 3. eps ~ N(0, I)
            Tensor noise = Tensor.randn(be, gen, x0.shape());
            // 4. x_t = sqrt(alphaBar_t) x_0 + sqrt(1 - alphaBar_t) eps  (Eq. 4), then L_simple = ||eps - epsTheta||^2
            float[][] ab = schedule.qSampleCoefs(t);
            Tensor xt = Ops.qSample(x0, noise, Tensor.of(be, ab[0], b), Tensor.of(be, ab[1], b));
            Tensor loss = eps.forward(xt, t).mseLoss(noise);
            // activations are closed as the backward pass leaves them (the step's peak is at its start)
            loss.backwardReleasingGraph();
            if (afterBackward != null) afterBackward.run();
            // 5. clip by global norm, check for NaN/Inf before anything changes, Adam, EMA
            GradClip.Result clip = GradClip.byGlobalNorm(params, config.gradClip());
            double lossValue = loss.item(), norm = clip.norm().item();
            if (!Double.isFinite(lossValue)) { adam.releaseGrads(); throw new NonFiniteException(s, "loss", lossValue); }
            if (!Double.isFinite(norm)) { adam.releaseGrads(); throw new NonFiniteException(s, "gradient norm", norm); }
            double lr = adam.nextLr();
            try (GradMode g = GradMode.off()) {
                adam.step(clip.scale());
                ema.update();
            }
            // gradients hold no memory between steps: the next forward pass peaks lower (the CIFAR-10 U-Net: by 143 MiB)
            adam.releaseGrads();
            step = s;
            return new StepStats(s, lossValue, norm, lr);
        }
    }

    /** Runs {@code body} with the EMA weights in the model (eval mode), then puts the trained weights back. */
    public <T> T withEmaWeights(Supplier<T> body) {
        List<Tensor> saved = new ArrayList<>();
        boolean wasTraining = model.isTraining();
        try (GradMode g = GradMode.off()) {
            for (int i = 0; i < params.size(); i++) {
                saved.add(params.get(i).copy().detachFromScope());
                params.get(i).copyFrom(ema.shadow().get(i));
            }
            model.eval();
            return body.get();
        } finally {
            try (GradMode g = GradMode.off()) {
                for (int i = 0; i < saved.size(); i++) {
                    params.get(i).copyFrom(saved.get(i));
                    saved.get(i).close();
                }
            }
            model.train(wasTraining);
        }
    }

    @Override
    public void close() {
        adam.close();
        ema.close();
    }
}
