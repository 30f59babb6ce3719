// SPDX-License-Identifier: Apache-2.0
// Issue 5, 4(b): a DDPM training step (Algorithm 1: U-Net forward, MSE, backward, global-norm clip, Adam, EMA) and
// ancestral sampling steps (Algorithm 2) on the CUDA backend match the CPU backend: same weights, data and Philox streams.
// Here CUDA is the emulated driver + host-compiled kernels (kernels/target/emu, surefire properties in diffusion/pom.xml).
package ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.BackendProvider;
import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.GradMode;
import ddpm4j.core.Tensor;
import ddpm4j.core.io.Json;
import ddpm4j.diffusion.data.Images;
import ddpm4j.nn.UNet2DModel;
import ddpm4j.nn.UNetConfig;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class CudaStepsTest {
    /**
     * Bounds relative to the largest magnitude of the CPU value(s) they bound. Measured on the emulation: loss and
     * gradient norm <= 2e-7, Adam moments 5e-7 of the largest moment, every x_t / epsTheta / x_0 of sampling <= 5e-7.
     */
    static final double LOSS_TOL = 1e-5, SAMPLE_TOL = 1e-5, MOMENT_TOL = 1e-4;
    /**
     * Parameters and EMA weights after two Adam steps: |cuda - cpu| <= PARAM_TOL * lr (measured 2.3e-3 and 4.4e-4).
     * Adam moves each weight by lr * m / (sqrt(v) + eps): where |g| is near eps, a rounding error in g far below the
     * gradient's scale still changes that weight's step by a visible fraction of lr.
     */
    static final double PARAM_TOL = 1e-2;
    static final double LR = 1e-3, CLIP = 0.05;

    static Backend cpu;
    static Backend cuda;

    @BeforeAll
    static void open() {
        BackendProvider p = Backends.providers().stream().filter(b -> b.name().equals("cuda")).findFirst().orElse(null);
        assumeTrue(p != null, "no cuda backend provider on the classpath");
        assumeTrue(p.available(), () -> "CUDA backend unavailable: " + p.unavailableReason());
        String driver = System.getProperty("ddpm4j.cuda.driverPath", ""), kernels = System.getProperty("ddpm4j.emu.kernels");
        assumeTrue(driver.isBlank() || (kernels != null && Files.exists(Path.of(kernels))),
                "emulated driver without the host-compiled kernels (no g++?)");
        cpu = Backends.get("cpu");
        cuda = p.create();
    }

    @AfterAll
    static void close() {
        if (cuda != null) cuda.close();
    }

    /** nn's small golden U-Net config (two levels, attention in the second, GroupNorm 4) with dropout 0.1. */
    static UNetConfig config() throws Exception {
        String src = "golden/unet-small/config.json";
        try (InputStream in = CudaStepsTest.class.getResourceAsStream("/" + src)) {
            assertTrue(in != null, src + " is missing from nn's test resources");
            return UNetConfig.fromJson(Json.parse(in.readAllBytes(), src), src).withDropout(0.1);
        }
    }

    /** A model on {@code be} holding exactly the weights of {@code from}. */
    static UNet2DModel copyOf(UNet2DModel from, Backend be) {
        UNet2DModel m = new UNet2DModel(from.config(), be, null);
        Map<String, Tensor> dst = m.stateDict();
        try (GradMode g = GradMode.off()) {
            for (var e : from.stateDict().entrySet())
                try (Tensor t = Tensor.of(be, e.getValue().toFloatArray(), e.getValue().shape())) {
                    dst.get(e.getKey()).copyFrom(t);
                }
        }
        return m;
    }

    /** Four 3x4x4 images in [-1, 1] with some structure (4x4: the attention level is 2x2; small keeps the test fast). */
    static Images data() {
        int n = 4, d = 3 * 16;
        float[] x = new float[n * d];
        for (int i = 0; i < n; i++)
            for (int p = 0; p < d; p++) x[i * d + p] = (float) Math.sin(0.37 * p + 1.3 * i) * (p % 7 == i ? 1f : 0.6f);
        return new Images(x, n, 3, 4, 4);
    }

    /** What two training steps leave behind on one backend. */
    record Trained(List<DdpmTrainer.StepStats> stats, List<float[]> params, Map<String, float[]> moments, List<float[]> ema) {}

    static Trained train(UNet2DModel init, Backend be) {
        return train(init, be, data(), 2);
    }

    static Trained train(UNet2DModel init, Backend be, Images images, int batch) {
        var cfg = new DdpmTrainer.Config(batch, LR, 0, CLIP, 0.9f, true, 11);
        try (UNet2DModel m = copyOf(init, be);
             DdpmTrainer tr = new DdpmTrainer(m, m::forward, new NoiseSchedule(SchedulerConfig.paperLinear()), images, cfg, be)) {
            List<DdpmTrainer.StepStats> stats = new ArrayList<>();
            for (int i = 0; i < 2; i++) stats.add(tr.trainStep());
            List<float[]> params = new ArrayList<>(), ema = new ArrayList<>();
            Map<String, float[]> moments = new java.util.LinkedHashMap<>();
            for (Tensor p : m.parameters()) params.add(p.toFloatArray());
            tr.adam().moments().forEach((k, t) -> moments.put(k, t.toFloatArray()));
            for (Tensor t : tr.ema().shadow()) ema.add(t.toFloatArray());
            return new Trained(stats, params, moments, ema);
        }
    }

    /** max |b - a| / max |a| (the error relative to the reference tensor's scale). */
    static double relErr(float[] a, float[] b) {
        assertEquals(a.length, b.length, "element count");
        double worst = 0, scale = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs((double) b[i] - a[i]));
            scale = Math.max(scale, Math.abs(a[i]));
        }
        return scale == 0 ? worst : worst / scale;
    }

    static double maxAbs(float[] a, float[] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((double) b[i] - a[i]));
        return worst;
    }

    /**
     * Two seeded runs on the GPU give the same bits: losses, gradient norms, weights, moments, EMA. Images of 3x16x16 in
     * batches of 8, so GroupNorm's weight gradients and the gradient norm sum over many blocks and cuDNN chooses among
     * its real backward algorithms (several of which sum with atomics). On the emulation, which runs blocks one after
     * another, this holds trivially; on a GPU it checks the two-pass reductions and the deterministic cuDNN choice.
     */
    @Test
    void trainingOnCudaGivesTheSameBitsTwice() throws Exception {
        int n = 8, d = 3 * 16 * 16;
        float[] x = new float[n * d];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(0.013 * i * (1 + i % 5));
        Images images = new Images(x, n, 3, 16, 16);
        Trained a, b;
        try (UNet2DModel init = new UNet2DModel(config(), cpu, new Generator(5))) {
            a = train(init, cuda, images, 8);
            b = train(init, cuda, images, 8);
        }
        for (int s = 0; s < 2; s++) {
            assertEquals(a.stats().get(s).loss(), b.stats().get(s).loss(), 0.0, "step " + (s + 1) + " loss");
            assertEquals(a.stats().get(s).gradNorm(), b.stats().get(s).gradNorm(), 0.0, "step " + (s + 1) + " gradient norm");
        }
        for (int i = 0; i < a.params().size(); i++) {
            assertTrue(java.util.Arrays.equals(a.params().get(i), b.params().get(i)), "parameter " + i + " differs between two runs");
            assertTrue(java.util.Arrays.equals(a.ema().get(i), b.ema().get(i)), "EMA weight " + i + " differs between two runs");
        }
        a.moments().forEach((k, v) -> assertTrue(java.util.Arrays.equals(v, b.moments().get(k)), "Adam moment " + k + " differs"));
    }

    @Test
    void trainingStepOnCudaMatchesCpu() throws Exception {
        Trained want, got;
        try (UNet2DModel init = new UNet2DModel(config(), cpu, new Generator(5))) {
            want = train(init, cpu);
            got = train(init, cuda);
        }
        for (int s = 0; s < 2; s++) {
            var w = want.stats().get(s);
            var g = got.stats().get(s);
            double lossErr = Math.abs(g.loss() - w.loss()) / Math.abs(w.loss()), normErr = Math.abs(g.gradNorm() - w.gradNorm()) / w.gradNorm();
            System.out.printf("step %d: loss cpu %.7f cuda %.7f (rel %.2e); grad norm cpu %.6f cuda %.6f (rel %.2e)%n",
                    s + 1, w.loss(), g.loss(), lossErr, w.gradNorm(), g.gradNorm(), normErr);
            assertTrue(lossErr <= LOSS_TOL, "step " + (s + 1) + " loss: cpu " + w.loss() + ", cuda " + g.loss());
            assertTrue(normErr <= LOSS_TOL, "step " + (s + 1) + " gradient norm: cpu " + w.gradNorm() + ", cuda " + g.gradNorm());
            assertTrue(w.gradNorm() > CLIP, "the clip must act (norm " + w.gradNorm() + " <= " + CLIP + ")");
        }
        double param = 0, ema = 0, moment = 0;
        for (int i = 0; i < want.params().size(); i++) {
            param = Math.max(param, maxAbs(want.params().get(i), got.params().get(i)) / LR);
            ema = Math.max(ema, maxAbs(want.ema().get(i), got.ema().get(i)) / LR);
        }
        // Moments relative to the largest first (second) moment of any parameter: parameters whose gradient is zero up to
        // rounding (|g| ~ 1e-13, e.g. biases feeding a GroupNorm) have moments of pure rounding noise.
        for (String kind : List.of("m.", "v.")) {
            double scale = 0, worst = 0;
            for (var e : want.moments().entrySet()) {
                if (!e.getKey().startsWith(kind)) continue;
                scale = Math.max(scale, maxAbs(new float[e.getValue().length], e.getValue()));
                worst = Math.max(worst, maxAbs(e.getValue(), got.moments().get(e.getKey())));
            }
            moment = Math.max(moment, worst / scale);
        }
        System.out.printf("after 2 steps: params max |diff| %.2e lr, EMA %.2e lr, Adam moments rel %.2e%n", param, ema, moment);
        assertTrue(param <= PARAM_TOL, "parameters differ by " + param + " lr");
        assertTrue(ema <= PARAM_TOL, "EMA weights differ by " + ema + " lr");
        assertTrue(moment <= MOMENT_TOL, "Adam moments differ: relative error " + moment);
    }

    @Test
    void ancestralSamplingStepsOnCudaMatchCpu() throws Exception {
        // Three steps of Algorithm 2 with x_0 clipping from the same x_2: t = 2, 1 add noise (the same Philox draws on
        // both backends), t = 0 does not. Every x_t and epsTheta on the way is compared, then the result.
        NoiseSchedule schedule = new NoiseSchedule(SchedulerConfig.paperLinear().withTimesteps(10));
        float[] start;
        List<List<float[]>> seen = List.of(new ArrayList<>(), new ArrayList<>());
        float[][] result = new float[2][];
        try (UNet2DModel init = new UNet2DModel(config(), cpu, new Generator(6))) {
            try (Tensor x = Tensor.randn(cpu, new Generator(8), 2, 3, 4, 4)) {
                start = x.toFloatArray();
            }
            Backend[] bes = {cpu, cuda};
            for (int k = 0; k < 2; k++) {
                List<float[]> mine = seen.get(k);
                try (UNet2DModel m = copyOf(init, bes[k]); Tensor x = Tensor.of(bes[k], start, 2, 3, 4, 4)) {
                    m.eval();
                    Sampler.StepObserver keep = (t, xt, eps) -> { mine.add(xt.toFloatArray()); mine.add(eps.toFloatArray()); };
                    try (Tensor x0 = new DdpmSampler(schedule, true).denoise(m::forward, x, 2, new Generator(9), keep)) {
                        result[k] = x0.toFloatArray();
                    }
                }
            }
        }
        assertEquals(6, seen.get(0).size(), "x_t and epsTheta at t = 2, 1, 0");
        double worst = relErr(result[0], result[1]);
        for (int i = 0; i < 6; i++) {
            double e = relErr(seen.get(0).get(i), seen.get(1).get(i));
            System.out.printf("sampling t=%d %s: relative error %.2e%n", 2 - i / 2, i % 2 == 0 ? "x_t" : "epsTheta", e);
            worst = Math.max(worst, e);
        }
        System.out.printf("sampling result x_0: relative error %.2e%n", relErr(result[0], result[1]));
        assertTrue(worst <= SAMPLE_TOL, "3 ancestral steps on cuda vs cpu: worst relative error " + worst);
    }
}
