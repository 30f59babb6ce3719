// SPDX-License-Identifier: Apache-2.0
// The measured work of issue 6 on one U-Net, run through the diffusion module's own code, so the benchmarks time what
// `ddpm train` / `ddpm sample` run: DdpmTrainer.trainStep (Alg. 1), DdpmSampler.step (Alg. 2) and DdimSampler.step.
// Peer: peer.py's Workload class, op for op. Used by TrainStepBench, SampleStepBench and EndToEnd.
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import ddpm4j.diffusion.DdimSampler;
import ddpm4j.diffusion.DdpmSampler;
import ddpm4j.diffusion.DdpmTrainer;
import ddpm4j.diffusion.EpsModel;
import ddpm4j.diffusion.NoiseSchedule;
import ddpm4j.diffusion.data.Images;
import ddpm4j.nn.UNet2DModel;
import ddpm4j.nn.UNetConfig;

/** A U-Net with the paper's linear schedule (beta 1e-4 .. 0.02, T = 1000) and either a trainer or the two samplers. */
final class DdpmWorkload implements AutoCloseable {
    static final int T = 1000;
    /** DDIM with 50 of the T steps, eta = 0 (`ddpm sample`'s default). */
    static final int DDIM_STEPS = 50;

    final Backend be;
    final UNetConfig config;
    final UNet2DModel model;
    final int batch, c, hw;
    private final EpsModel eps;
    private final NoiseSchedule schedule = NoiseSchedule.linear();
    private final DdpmSampler ancestral = new DdpmSampler(schedule);
    private final DdimSampler ddim = new DdimSampler(schedule, DDIM_STEPS, 0.0);
    private final Generator gen = new Generator(1234);
    private DdpmTrainer trainer;

    /**
     * Builds the model (PyTorch's default initialisation from a fixed seed) and, if {@code training}, a DdpmTrainer
     * with the paper's hyper-parameters (lr 2e-4, warmup 5000, clip 1, EMA 0.9999, no flips) over a data set of one
     * batch of uniform images in [-1, 1] (held in memory, as `ddpm train` holds its data set).
     */
    DdpmWorkload(Backend be, String configName, int batch, boolean training) {
        this.be = be;
        this.config = BenchSupport.config(configName);
        this.model = new UNet2DModel(config, be, new Generator(42));
        this.eps = model::forward;
        this.batch = batch;
        this.c = config.inChannels();
        this.hw = config.sampleSize();
        if (training) {
            Generator g = new Generator(99);
            float[] x0 = new float[batch * c * hw * hw];
            for (int i = 0; i < x0.length; i++) x0[i] = 2 * g.nextFloat() - 1;
            trainer = new DdpmTrainer(model, eps, schedule, new Images(x0, batch, c, hw, hw),
                    new DdpmTrainer.Config(batch, 2e-4, 5000, 1.0, 0.9999f, false, 1234), be);
        } else {
            model.eval();
        }
    }

    /** A fresh x_T ~ N(0, I) of the sampling shape, outside every scope. */
    Tensor noise(long seed) { return BenchSupport.randn(be, seed, batch, c, hw, hw); }

    /** One DdpmTrainer.trainStep (Algorithm 1 on the next batch); returns the loss. */
    double trainStep() { return trainStep(null); }

    /** As {@link #trainStep()}, calling {@code afterBackward} between backward and clipping (for the profile). */
    double trainStep(Runnable afterBackward) { return trainer.trainStep(afterBackward).loss(); }

    /**
     * Step i of Algorithm 2 (from t = T - 1 - i): DdpmSampler.step, epsTheta then the fused posterior-mean update with
     * fresh noise. Returns x_{t-1} (outside every scope, the caller closes it); {@code xt} is left as it is.
     */
    Tensor ancestralStep(Tensor xt, int i) { return ancestral.step(eps, xt, i, gen, null); }

    /** Step i of DDIM-50 (eta 0): DdimSampler.step through the same fused kernel. Returns the next x (caller closes it). */
    Tensor ddimStep(Tensor xt, int i) { return ddim.step(eps, xt, i, gen, null); }

    long parameterCount() { return model.parameterCount(); }

    @Override
    public void close() {
        if (trainer != null) trainer.close();
        model.close();
    }
}
