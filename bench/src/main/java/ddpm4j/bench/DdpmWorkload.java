// SPDX-License-Identifier: Apache-2.0
// The measured work of issue 6 on one U-Net: a training step (Alg. 1: q_sample, epsTheta, L_simple, backward,
// global-norm clip, Adam, EMA) and an ancestral sampling step (Alg. 2: epsTheta, fused posterior-mean update). Peer:
// peer.py's Workload class, op for op. Used by TrainStepBench, SampleStepBench, ProfileStep and EndToEnd.
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.DType;
import ddpm4j.core.Generator;
import ddpm4j.core.GradMode;
import ddpm4j.core.Ops;
import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;
import ddpm4j.core.optim.Adam;
import ddpm4j.core.optim.Ema;
import ddpm4j.core.optim.GradClip;
import ddpm4j.nn.UNet2DModel;
import ddpm4j.nn.UNetConfig;
import java.util.List;

/** A U-Net with its optimizer state and the paper's linear schedule (beta 1e-4 .. 0.02, T = 1000), all in float64. */
final class DdpmWorkload implements AutoCloseable {
    static final int T = 1000;

    final Backend be;
    final UNetConfig config;
    final UNet2DModel model;
    final int batch, c, hw;
    private final List<Tensor> params;
    private Adam adam;
    private Ema ema;
    private final double[] beta = new double[T], alphaBar = new double[T];
    private final Generator gen = new Generator(1234);
    private Tensor x0;

    /** Builds the model (PyTorch's default initialisation from a fixed seed) and, if {@code training}, Adam and EMA. */
    DdpmWorkload(Backend be, String configName, int batch, boolean training) {
        this.be = be;
        this.config = BenchSupport.config(configName);
        this.model = new UNet2DModel(config, be, new Generator(42));
        this.batch = batch;
        this.c = config.inChannels();
        this.hw = config.sampleSize();
        this.params = model.parameters();
        double prod = 1;
        for (int t = 0; t < T; t++) {
            beta[t] = 1e-4 + (0.02 - 1e-4) * t / (T - 1);
            prod *= 1 - beta[t];
            alphaBar[t] = prod;
        }
        if (training) {
            adam = Adam.ddpm(params, 2e-4, 5000);
            ema = new Ema(params, 0.9999f);
            x0 = BenchSupport.uniform(be, 99, -1, 1, batch, c, hw, hw);
        } else {
            model.eval();
        }
    }

    /** A fresh x_T ~ N(0, I) of the sampling shape, outside every scope. */
    Tensor noise(long seed) { return BenchSupport.randn(be, seed, batch, c, hw, hw); }

    /**
     * One training step of Algorithm 1 on a fixed batch, as DdpmTrainer.trainStep does it (the loss and the gradient
     * norm are read back to the host to check they are finite). Returns the loss.
     */
    double trainStep() { return trainStep(null); }

    /** As {@link #trainStep()}, calling {@code beforeOptimizer} between backward and clipping (for the profile). */
    double trainStep(Runnable beforeOptimizer) {
        try (Scope s = Scope.open()) {
            // 1. t ~ U{0..T-1}, eps ~ N(0, I), x_t = sqrt(alphaBar_t) x_0 + sqrt(1 - alphaBar_t) eps   (Eq. 4)
            int[] t = new int[batch];
            float[] a = new float[batch], b = new float[batch];
            for (int i = 0; i < batch; i++) {
                t[i] = gen.nextInt(T);
                a[i] = (float) Math.sqrt(alphaBar[t[i]]);
                b[i] = (float) Math.sqrt(1 - alphaBar[t[i]]);
            }
            Tensor eps = Tensor.randn(be, gen, x0.shape());
            Tensor xt = Ops.qSample(x0, eps, Tensor.of(be, a, batch), Tensor.of(be, b, batch));
            // 2. L_simple = ||eps - epsTheta(x_t, t)||^2 (Eq. 14), backward
            Tensor loss = model.forward(xt, t).mseLoss(eps);
            loss.backward();
            if (beforeOptimizer != null) beforeOptimizer.run();
            // 3. clip by global norm 1, Adam (lr 2e-4, warmup), EMA 0.9999
            GradClip.Result clip = GradClip.byGlobalNorm(params, 1.0);
            double value = loss.item();
            if (!Double.isFinite(value + clip.norm().item())) throw new IllegalStateException("non-finite loss or gradient");
            try (GradMode g = GradMode.off()) {
                adam.step(clip.scale());
                ema.update();
            }
            adam.zeroGrad();
            return value;
        }
    }

    /**
     * One ancestral step of Algorithm 2 at timestep {@code t} (diffusers index, 0..T-1): eps = epsTheta(x_t, t), then
     * x_{t-1} = mu0 clip(x0(eps)) + muT x_t + sigma z in one fused kernel, written to {@code out}.
     */
    void sampleStep(Tensor out, Tensor xt, int t) {
        try (Scope s = Scope.open(); GradMode g = GradMode.off()) {
            int[] ts = new int[batch];
            java.util.Arrays.fill(ts, t);
            Tensor eps = model.forward(xt, ts);
            Tensor z = t > 0 ? Tensor.randn(be, gen, xt.shape()) : Tensor.zeros(be, xt.shape());
            Tensor coef = Tensor.of(be, ancestralCoefs(t), batch, 5);
            be.ancestralStep(out, xt, eps, z, coef, batch, c * hw * hw, true);
            be.sync();
        }
    }

    /**
     * One DDIM step (Song et al. 2021, Eq. 12, eta = 0) from t to tPrev (-1: to x_0) through the same fused kernel:
     * x0 = clip(c0 x_t - c1 eps); x_{tPrev} = sqrt(ab') x0 + sqrt(1 - ab') (x_t - sqrt(ab) x0) / sqrt(1 - ab).
     */
    void ddimStep(Tensor out, Tensor xt, int t, int tPrev) {
        try (Scope s = Scope.open(); GradMode g = GradMode.off()) {
            int[] ts = new int[batch];
            java.util.Arrays.fill(ts, t);
            Tensor eps = model.forward(xt, ts);
            double ab = alphaBar[t], abPrev = tPrev >= 0 ? alphaBar[tPrev] : 1.0;
            double muT = Math.sqrt((1 - abPrev) / (1 - ab)), mu0 = Math.sqrt(abPrev) - muT * Math.sqrt(ab);
            float[] row = {(float) (1 / Math.sqrt(ab)), (float) Math.sqrt(1 / ab - 1), (float) mu0, (float) muT, 0f};
            float[] rows = new float[batch * 5];
            for (int i = 0; i < batch; i++) System.arraycopy(row, 0, rows, 5 * i, 5);
            Tensor z = Tensor.zeros(be, xt.shape());
            be.ancestralStep(out, xt, eps, z, Tensor.of(be, rows, batch, 5), batch, c * hw * hw, true);
            be.sync();
        }
    }

    /** Rows (c0, c1, mu0, muT, sigma) for every sample: the posterior q(x_{t-1} | x_t, x_0) of Eq. 6-7, sigma^2 = beta-tilde. */
    float[] ancestralCoefs(int t) {
        double ab = alphaBar[t], abPrev = t > 0 ? alphaBar[t - 1] : 1.0, alpha = 1 - beta[t];
        double c0 = 1 / Math.sqrt(ab), c1 = Math.sqrt(1 / ab - 1);
        double mu0 = beta[t] * Math.sqrt(abPrev) / (1 - ab), muT = (1 - abPrev) * Math.sqrt(alpha) / (1 - ab);
        double sigma = t > 0 ? Math.sqrt(beta[t] * (1 - abPrev) / (1 - ab)) : 0;
        float[] row = {(float) c0, (float) c1, (float) mu0, (float) muT, (float) sigma};
        float[] out = new float[batch * 5];
        for (int i = 0; i < batch; i++) System.arraycopy(row, 0, out, 5 * i, 5);
        return out;
    }

    /** An empty tensor of the sampling shape, outside every scope. */
    Tensor emptySample() { return Tensor.empty(be, DType.F32, batch, c, hw, hw).detachFromScope(); }

    long parameterCount() { return model.parameterCount(); }

    @Override
    public void close() {
        if (adam != null) adam.close();
        if (ema != null) ema.close();
        if (x0 != null) x0.close();
        model.close();
    }
}
