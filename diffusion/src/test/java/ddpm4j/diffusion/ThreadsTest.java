// SPDX-License-Identifier: Apache-2.0
// Issue 7 item 5: two independent models trained and sampled from two Java threads at once give exactly the results
// of running them one after the other (each backend shares its pool and worker threads between the two).
package ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import ddpm4j.nn.UNet2DModel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ThreadsTest {
    /** Losses, final weights and a DDIM sample (eta 1, so the sampler draws noise too) of one small run, all as raw values. */
    record Result(double[] losses, float[] weights, float[] sample) {}

    static Result train(Backend be, long seed, CyclicBarrier start) throws Exception {
        if (start != null) start.await();
        try (UNet2DModel m = Tiny.model(be, seed); DdpmTrainer tr = Tiny.trainer(m, Tiny.images(6, seed + 1), 1e-3, seed + 2, be)) {
            double[] losses = new double[4];
            for (int i = 0; i < losses.length; i++) losses[i] = tr.trainStep().loss();
            List<Float> w = new ArrayList<>();
            for (Tensor p : m.parameters()) for (float f : p.toFloatArray()) w.add(f);
            float[] weights = new float[w.size()];
            for (int i = 0; i < weights.length; i++) weights[i] = w.get(i);
            float[] sample = tr.withEmaWeights(() -> {
                try (Tensor x = new DdimSampler(tr.schedule(), 10, 1.0).sample(m::forward, be, new int[] {3, 1, Tiny.SIDE, Tiny.SIDE},
                        new Generator(seed + 3), null)) {
                    return x.toFloatArray();
                }
            });
            return new Result(losses, weights, sample);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "reference"})
    void twoThreadsAtOnceEqualOneAfterTheOther(String name) throws Exception {
        Backend be = Backends.get(name);
        Result a = train(be, 10, null), b = train(be, 20, null);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 2; round++) {
                var barrier = new CyclicBarrier(2);
                Future<Result> fa = pool.submit(() -> train(be, 10, barrier));
                Future<Result> fb = pool.submit(() -> train(be, 20, barrier));
                assertSame(a, fa.get(), name + " model A, round " + round);
                assertSame(b, fb.get(), name + " model B, round " + round);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static void assertSame(Result want, Result got, String what) {
        assertArrayEquals(want.losses(), got.losses(), 0.0, what + ": losses");
        assertEquals(want.weights().length, got.weights().length);
        for (int i = 0; i < want.weights().length; i++)
            assertEquals(Float.floatToIntBits(want.weights()[i]), Float.floatToIntBits(got.weights()[i]), what + ": weight " + i);
        for (int i = 0; i < want.sample().length; i++)
            assertEquals(Float.floatToIntBits(want.sample()[i]), Float.floatToIntBits(got.sample()[i]), what + ": sample value " + i);
    }
}
