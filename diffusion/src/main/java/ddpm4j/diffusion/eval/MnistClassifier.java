// SPDX-License-Identifier: Apache-2.0
// A small MNIST CNN written with the engine's own modules and trained with its Adam, for the sample-quality figures of
// issue 4 item 9 (confidence share, class histogram, Frechet distance in its 128-d feature layer). Pairs with Quality.
package ddpm4j.diffusion.eval;

import ddpm4j.core.Backend;
import ddpm4j.core.GradMode;
import ddpm4j.core.Generator;
import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;
import ddpm4j.core.io.AtomicFiles;
import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.Json;
import ddpm4j.core.io.SafeTensors;
import ddpm4j.core.io.SafeTensorsEntry;
import ddpm4j.core.optim.Adam;
import ddpm4j.diffusion.data.Images;
import ddpm4j.nn.Conv2d;
import ddpm4j.nn.DiffusersCheckpoint;
import ddpm4j.nn.Linear;
import ddpm4j.nn.Module;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * conv 3x3 1->32, ReLU; conv 3x3 stride 2 32->64, ReLU; conv 3x3 stride 2 64->64, ReLU; flatten (64*7*7);
 * linear 3136->128, ReLU (the feature layer); linear 128->10 (logits). Input (N, 1, 28, 28) scaled to [-1, 1] as the
 * diffusion model's data (byte / 127.5 - 1). 458,570 parameters.
 */
public final class MnistClassifier extends Module {
    /** Width of the feature layer. */
    public static final int FEATURES = 128;
    /** Files of a classifier folder. */
    public static final String WEIGHTS = "model.safetensors", CONFIG = "classifier.json";
    static final String ARCHITECTURE = "conv3x3(1->32,s1)-relu-conv3x3(32->64,s2)-relu-conv3x3(64->64,s2)-relu-flatten-linear(3136->128)-relu-linear(128->10)";
    private final Conv2d c1, c2, c3;
    private final Linear fc1, fc2;

    /** A classifier with PyTorch's default initialisation from {@code gen} (zeros when {@code gen} is null). */
    public MnistClassifier(Backend be, Generator gen) {
        c1 = registerModule("c1", new Conv2d(be, gen, 1, 32, 3, 1, 1));
        c2 = registerModule("c2", new Conv2d(be, gen, 32, 64, 3, 2, 1));
        c3 = registerModule("c3", new Conv2d(be, gen, 64, 64, 3, 2, 1));
        fc1 = registerModule("fc1", new Linear(be, gen, 64 * 7 * 7, FEATURES));
        fc2 = registerModule("fc2", new Linear(be, gen, FEATURES, 10));
    }

    /** Feature-layer activations (N, 128) of x (N, 1, 28, 28). */
    public Tensor features(Tensor x) {
        if (x.rank() != 4 || x.dim(1) != 1 || x.dim(2) != 28 || x.dim(3) != 28)
            throw new IllegalArgumentException("MnistClassifier: input " + Arrays.toString(x.shape()) + " should be (N, 1, 28, 28)");
        Tensor h = c3.forward(c2.forward(c1.forward(x).relu()).relu()).relu();
        return fc1.forward(h.reshape(x.dim(0), 64 * 7 * 7)).relu();
    }

    /** Logits (N, 10) from features (N, 128). */
    public Tensor logits(Tensor features) { return fc2.forward(features); }

    /** Mean cross-entropy -log softmax(logits)[label], with the row maximum (a constant) subtracted first for stability. */
    static Tensor crossEntropy(Tensor logits, int[] labels) {
        int n = logits.dim(0);
        float[] onehot = new float[n * 10];
        for (int i = 0; i < n; i++) onehot[i * 10 + labels[i]] = 1;
        Tensor m;
        try (GradMode g = GradMode.off()) { m = logits.detach().max(1, true); }
        Tensor shifted = logits.sub(m);
        Tensor logSumExp = shifted.exp().sum(1, false).log();
        Tensor picked = shifted.mul(Tensor.of(logits.backend(), onehot, n, 10)).sum(1, false);
        return logSumExp.sub(picked).mean();
    }

    /** Training settings: Adam (betas 0.9/0.999), linear warmup then cosine decay to 0 over all steps. */
    public record FitOptions(int epochs, int batch, double lr, int warmup, long seed) {
    }

    /**
     * Trains on shuffled (seeded) mini-batches; the last partial batch of each epoch is dropped. Logs the running loss
     * every 50 steps to {@code log}.
     *
     * @throws IllegalStateException on a non-finite loss (names the step)
     */
    public void fit(Images train, int[] labels, FitOptions o, PrintStream log) {
        checkImages(train);
        if (labels.length != train.n()) throw new IllegalArgumentException(train.n() + " images but " + labels.length + " labels");
        int n = train.n(), b = o.batch(), per = train.imageSize(), perEpoch = n / b;
        long total = (long) perEpoch * o.epochs();
        Backend be = c1.parameters().getFirst().backend();
        train(true);
        Generator gen = new Generator(o.seed());
        java.util.function.LongToDoubleFunction lr = s -> s <= o.warmup() ? o.lr() * s / Math.max(1, o.warmup())
                : 0.5 * o.lr() * (1 + Math.cos(Math.PI * (s - o.warmup()) / Math.max(1, total - o.warmup())));
        try (Adam adam = new Adam(parameters(), lr, 0.9f, 0.999f, 1e-8f)) {
            long step = 0, t0 = System.nanoTime();
            float[] x = new float[b * per];
            int[] y = new int[b];
            for (int e = 0; e < o.epochs(); e++) {
                int[] perm = new int[n];
                for (int i = 0; i < n; i++) perm[i] = i;
                for (int i = n - 1; i > 0; i--) { int j = gen.nextInt(i + 1); int t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
                double run = Double.NaN;
                for (int k = 0; k < perEpoch; k++) {
                    for (int i = 0; i < b; i++) {
                        System.arraycopy(train.data(), perm[k * b + i] * per, x, i * per, per);
                        y[i] = labels[perm[k * b + i]];
                    }
                    double l;
                    try (Scope s = Scope.open()) {
                        Tensor loss = crossEntropy(logits(features(Tensor.of(be, x, b, 1, 28, 28))), y);
                        loss.backward();
                        l = loss.item();
                        if (!Double.isFinite(l)) throw new IllegalStateException("classifier loss is " + l + " at step " + (step + 1));
                        try (GradMode g = GradMode.off()) { adam.step(null); }
                        adam.zeroGrad();
                    }
                    run = Double.isNaN(run) ? l : 0.95 * run + 0.05 * l;
                    if (++step % 50 == 0 || step == total) {
                        double secs = (System.nanoTime() - t0) / 1e9;
                        log.printf(java.util.Locale.ROOT, "classifier: epoch %d/%d step %d/%d loss %.4f lr %.2e %.0f s (ETA %.0f s)%n",
                                e + 1, o.epochs(), step, total, run, lr.applyAsDouble(step), secs, secs / step * (total - step));
                    }
                }
            }
        }
        train(false);
    }

    /** Softmax probabilities (N, 10) and features (N, 128), row-major on the host, computed in batches. */
    public record Outputs(float[] probs, float[] features, int n) {}

    /** Runs the classifier (no gradients) over images in batches of {@code batch}. */
    public Outputs evaluate(Images x, int batch) {
        checkImages(x);
        Backend be = c1.parameters().getFirst().backend();
        int n = x.n(), per = x.imageSize();
        float[] probs = new float[n * 10], feats = new float[n * FEATURES];
        boolean was = isTraining();
        train(false);
        try (GradMode g = GradMode.off()) {
            for (int at = 0; at < n; at += batch) {
                int b = Math.min(batch, n - at);
                try (Scope s = Scope.open()) {
                    Tensor f = features(Tensor.of(be, Arrays.copyOfRange(x.data(), at * per, (at + b) * per), b, 1, 28, 28));
                    System.arraycopy(logits(f).softmax(1).toFloatArray(), 0, probs, at * 10, b * 10);
                    System.arraycopy(f.toFloatArray(), 0, feats, at * FEATURES, b * FEATURES);
                }
            }
        }
        train(was);
        return new Outputs(probs, feats, n);
    }

    /** Share of images whose arg-max class equals the label. */
    public double accuracy(Images x, int[] labels) {
        float[] p = evaluate(x, 500).probs();
        int ok = 0;
        for (int i = 0; i < x.n(); i++) if (argmax(p, i) == labels[i]) ok++;
        return (double) ok / x.n();
    }

    static int argmax(float[] probs, int row) {
        int best = 0;
        for (int k = 1; k < 10; k++) if (probs[row * 10 + k] > probs[row * 10 + best]) best = k;
        return best;
    }

    private static void checkImages(Images x) {
        if (x.c() != 1 || x.h() != 28 || x.w() != 28)
            throw new IllegalArgumentException("MnistClassifier takes 1x28x28 images, got " + x.c() + "x" + x.h() + "x" + x.w());
    }

    /** Writes {@value #WEIGHTS} (F32) and {@value #CONFIG} (architecture, input scaling, {@code info}), each atomically. */
    public void save(Path dir, Map<String, Object> info) throws IOException {
        Files.createDirectories(dir);
        var entries = new LinkedHashMap<String, SafeTensorsEntry>();
        for (var e : stateDict().entrySet()) {
            long[] shape = Arrays.stream(e.getValue().shape()).asLongStream().toArray();
            entries.put(e.getKey(), SafeTensorsEntry.f32(shape, e.getValue().toFloatArray()));
        }
        SafeTensors.write(dir.resolve(WEIGHTS), entries, Map.of("format", "pt"));
        var cfg = new LinkedHashMap<String, Object>();
        cfg.put("_class_name", "MnistClassifier");
        cfg.put("architecture", ARCHITECTURE);
        cfg.put("input", "(N, 1, 28, 28), pixel bytes scaled as b / 127.5 - 1 to [-1, 1]");
        cfg.put("feature_layer", "fc1 after ReLU, " + FEATURES + " values");
        cfg.put("parameters", parameterCount());
        cfg.putAll(info);
        AtomicFiles.writeString(dir.resolve(CONFIG), Json.write(cfg) + "\n");
    }

    /** Loads a folder written by {@link #save}; checks {@value #CONFIG} names this architecture. */
    public static MnistClassifier load(Path dir, Backend be) throws IOException {
        Path cfgFile = dir.resolve(CONFIG);
        if (!Files.isRegularFile(cfgFile))
            throw new NoSuchFileException(cfgFile.toString(), null, "classifier folder should hold " + CONFIG + " and " + WEIGHTS
                    + " (train one with `ddpm classifier --out DIR`)");
        if (!(Json.parse(cfgFile) instanceof Map<?, ?> cfg) || !ARCHITECTURE.equals(cfg.get("architecture")))
            throw new FormatException(cfgFile.toString(), "\"architecture\" should be \"" + ARCHITECTURE + "\"");
        MnistClassifier c = new MnistClassifier(be, null);
        try {
            DiffusersCheckpoint.loadWeights(c, dir.resolve(WEIGHTS));
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
        c.eval();
        return c;
    }
}
