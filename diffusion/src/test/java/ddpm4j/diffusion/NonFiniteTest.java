// SPDX-License-Identifier: Apache-2.0
// Issue 7 item 4: training stops at the first non-finite loss, names the step, applies nothing of it and leaves the
// last good checkpoint; anomaly mode names the first op (forward or backward) whose output is not finite.
package ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.Scope;
import ddpm4j.core.Tensor;
import ddpm4j.core.autograd.Anomaly;
import ddpm4j.core.io.SafeTensors;
import ddpm4j.diffusion.data.Images;
import ddpm4j.nn.UNet2DModel;
import java.io.PrintStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NonFiniteTest {
    final Backend be = Backends.get("cpu");
    @TempDir Path tmp;

    private static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    @Test
    void nanInTheDataStopsAtTheStepThatDrawsIt() throws Exception {
        Images data = Tiny.images(8, 1);
        try (UNet2DModel m = Tiny.model(be, 2); DdpmTrainer tr = Tiny.trainer(m, data, 1e-3, 3, be)) {
            // image perm[5] is the 6th drawn: batch 2 puts it in step 3
            int[] perm = tr.permutation(0);
            data.data()[perm[5] * Tiny.SIDE * Tiny.SIDE + 17] = Float.NaN;
            var opts = new TrainRun.Options(10, 1, 0, 4, 2, 1, tmp);
            var run = new TrainRun(tr, m::forward, new int[] {4, 1, Tiny.SIDE, Tiny.SIDE}, be, opts, null, QUIET);
            var e = assertThrows(DdpmTrainer.NonFiniteException.class, run::run);
            assertEquals(3, e.step);
            assertTrue(e.getMessage().contains("step 3") && e.getMessage().contains("loss"), e.getMessage());
            assertLastGoodState(tr, m, 2);
        }
    }

    @Test
    void divergingRunStopsAtFirstNonFiniteStepAndKeepsLastGoodCheckpoint() throws Exception {
        // lr 1e30: after one Adam step the weights are ~1e29 and the next loss overflows
        try (UNet2DModel m = Tiny.model(be, 2); DdpmTrainer tr = Tiny.trainer(m, Tiny.images(8, 1), 1e30, 3, be)) {
            var opts = new TrainRun.Options(20, 1, 0, 4, 2, 1, tmp);
            var run = new TrainRun(tr, m::forward, new int[] {4, 1, Tiny.SIDE, Tiny.SIDE}, be, opts, null, QUIET);
            var e = assertThrows(DdpmTrainer.NonFiniteException.class, run::run);
            assertTrue(e.step >= 2 && e.step <= 20, "stopped at step " + e.step);
            assertTrue(e.getMessage().contains("step " + e.step), e.getMessage());
            assertLastGoodState(tr, m, e.step - 1);
        }
    }

    /** The trainer is at {@code good}; checkpoint and log end there; the live weights are the checkpoint's, finite. */
    private void assertLastGoodState(DdpmTrainer tr, UNet2DModel m, long good) throws Exception {
        assertEquals(good, tr.step(), "trainer step after the stop");
        Path ck = tmp.resolve(TrainCheckpoint.FILE);
        assertEquals(good, TrainCheckpoint.stepOf(ck), "checkpoint step");
        List<String> log = Files.readAllLines(tmp.resolve("train_log.csv"));
        assertEquals(good + 1, log.size(), "log rows (header + one per good step)");
        for (String row : log.subList(1, log.size())) assertTrue(Double.isFinite(Double.parseDouble(row.split(",")[1])), row);
        try (SafeTensors st = SafeTensors.open(ck)) {
            for (Map.Entry<String, Tensor> p : m.namedParameters().entrySet()) {
                float[] live = p.getValue().toFloatArray();
                assertArrayEquals(st.readF32("model." + p.getKey()), live, "weights changed by the failed step: " + p.getKey());
                for (float v : live) assertTrue(Float.isFinite(v), p.getKey());
            }
        }
        // the stopped trainer reloads its last good checkpoint and trains on (the data is no longer poisoned or not)
        TrainCheckpoint.load(tr, ck);
        assertEquals(good, tr.step());
    }

    @Test
    void anomalyModeNamesFirstNonFiniteForwardOp() {
        try (UNet2DModel m = Tiny.model(be, 2); Scope s = Scope.open()) {
            Tensor w = m.namedParameters().get("conv_in.weight");
            float[] v = w.toFloatArray();
            v[0] = Float.POSITIVE_INFINITY;
            be.copyFromHost(w, v, 0);
            Tensor x = Tensor.randn(be, new Generator(1), 2, 1, Tiny.SIDE, Tiny.SIDE);
            // without anomaly mode the infinity spreads silently to the output
            Tensor y = m.forward(x, new int[] {3, 7});
            boolean nonFinite = false;
            for (float f : y.toFloatArray()) nonFinite |= !Float.isFinite(f);
            assertTrue(nonFinite, "output should be poisoned");
            Anomaly.set(true);
            try {
                var e = assertThrows(Anomaly.NonFiniteException.class, () -> m.forward(x, new int[] {3, 7}));
                assertTrue(e.getMessage().startsWith("anomaly: Conv2d["), e.getMessage());
                assertTrue(e.getMessage().contains("of its output (2, 8, 8, 8)"), e.getMessage());
            } finally {
                Anomaly.set(false);
            }
        }
    }

    @Test
    void anomalyModeNamesFirstNonFiniteBackwardOp() {
        try (Scope s = Scope.open()) {
            // sqrt is finite at 0, its derivative 1 / (2 sqrt x) is not
            Tensor x = Tensor.of(be, new float[] {4f, 0f, 1f}, 3).requiresGrad(true);
            Anomaly.set(true);
            try {
                Tensor y = x.sqrt().mul(2.0).sum();
                var e = assertThrows(Anomaly.NonFiniteException.class, y::backward);
                assertTrue(e.getMessage().startsWith("anomaly: in backward of Unary[kind=SQRT]: Binary[kind=DIV] produced Infinity"), e.getMessage());
                assertTrue(e.getMessage().contains("at flat index 1"), e.getMessage());
            } finally {
                Anomaly.set(false);
            }
        }
    }
}
