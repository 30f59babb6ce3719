// SPDX-License-Identifier: Apache-2.0
// The logic of `ddpm eps --model DIR --input IN --output OUT`: run epsTheta on given inputs, for checking the port
// against PyTorch on one's own weights. The CLI wiring lives in diffusion/cli.
package ddpm4j.nn;

import ddpm4j.core.Backend;
import ddpm4j.core.GradMode;
import ddpm4j.core.Scope;
import ddpm4j.core.Shape;
import ddpm4j.core.Tensor;
import ddpm4j.core.io.FormatException;
import ddpm4j.core.io.SafeTensors;
import ddpm4j.core.io.SafeTensorsEntry;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** Reads {@code sample} (N, C, H, W) and {@code timestep} (N, I64 or F32) and writes {@code eps} (N, C, H, W, F32). */
public final class EpsCommand {
    private EpsCommand() {}

    /** What a run did, for the CLI to print. */
    public record Result(int[] sampleShape, double seconds, String backend) {
        @Override
        public String toString() {
            return "eps " + Shape.str(sampleShape) + " on " + backend + " in " + String.format("%.3f", seconds) + " s";
        }
    }

    /**
     * Loads the model folder, evaluates it in inference mode and writes the output file atomically.
     *
     * @param batch samples per forward pass (bounds memory); at least 1
     */
    public static Result run(Path modelDir, Path input, Path output, Backend be, int batch) throws IOException {
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        float[] sample;
        float[] t;
        int[] shape;
        try (SafeTensors in = SafeTensors.open(input)) {
            if (!in.contains("sample") || !in.contains("timestep"))
                throw new FormatException(input.toString(), "expected tensors 'sample' (N, C, H, W) and 'timestep' (N,);"
                        + " the file has " + in.names());
            long[] s = in.shape("sample");
            if (s.length != 4)
                throw new FormatException(input.toString(), "'sample' has shape " + Arrays.toString(s)
                        + ", expected (N, C, H, W)");
            if (in.dtype("sample") != SafeTensors.Dtype.F32)
                throw new FormatException(input.toString(), "'sample' is " + in.dtype("sample") + ", expected F32");
            shape = new int[4];
            for (int i = 0; i < 4; i++) shape[i] = Math.toIntExact(s[i]);
            sample = in.readF32("sample");
            t = timesteps(in, input, shape[0]);
        }
        long start = System.nanoTime();
        try (UNet2DModel model = DiffusersCheckpoint.load(modelDir, be)) {
            model.eval();
            UNetConfig cfg = model.config();
            if (shape[1] != cfg.inChannels())
                throw new FormatException(input.toString(), "'sample' has " + shape[1] + " channels, the model at "
                        + modelDir + " expects in_channels = " + cfg.inChannels());
            int n = shape[0], per = shape[1] * shape[2] * shape[3];
            int perOut = cfg.outChannels() * shape[2] * shape[3];
            float[] eps = new float[n * perOut];
            for (int at = 0; at < n; at += batch) {
                int b = Math.min(batch, n - at);
                try (Scope s = Scope.open(); GradMode g = GradMode.off()) {
                    Tensor x = Tensor.of(be, Arrays.copyOfRange(sample, at * per, (at + b) * per), b, shape[1], shape[2], shape[3]);
                    float[] out = model.forward(x, Arrays.copyOfRange(t, at, at + b)).toFloatArray();
                    System.arraycopy(out, 0, eps, at * perOut, out.length);
                }
            }
            var entries = new LinkedHashMap<String, SafeTensorsEntry>();
            entries.put("eps", SafeTensorsEntry.f32(new long[] {n, cfg.outChannels(), shape[2], shape[3]}, eps));
            SafeTensors.write(output, entries, Map.of("model", modelDir.toString()));
        }
        return new Result(shape, (System.nanoTime() - start) / 1e9, be.name());
    }

    private static float[] timesteps(SafeTensors in, Path input, int n) throws IOException {
        long[] s = in.shape("timestep");
        long count = 1;
        for (long d : s) count *= d;
        if (s.length > 1 || (count != n && count != 1))
            throw new FormatException(input.toString(), "'timestep' has shape " + Arrays.toString(s) + ", expected (" + n
                    + ",) to match 'sample' (or a single value)");
        float[] t = new float[n];
        switch (in.dtype("timestep")) {
            case I64, I32 -> {
                long[] v = in.readI64("timestep");
                for (int i = 0; i < n; i++) t[i] = v[v.length == 1 ? 0 : i];
            }
            case F32, F64 -> {
                float[] v = in.readF32("timestep");
                for (int i = 0; i < n; i++) t[i] = v[v.length == 1 ? 0 : i];
            }
            default -> throw new FormatException(input.toString(), "'timestep' is " + in.dtype("timestep")
                    + ", expected I64 or F32");
        }
        return t;
    }
}
