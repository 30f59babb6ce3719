// SPDX-License-Identifier: Apache-2.0
// Issue 7 item 3 (in the tests): training steps and sampling keep no memory from step to step, and once the model,
// its optimizer and EMA are closed the backend's live bytes are back at their baseline. Soak runs: scripts/soak.sh.
package ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import ddpm4j.core.cpu.CpuBackend;
import ddpm4j.core.ref.ReferenceBackend;
import ddpm4j.nn.UNet2DModel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LeakTest {
    @ParameterizedTest
    @ValueSource(strings = {"cpu", "reference"})
    void modelOptimizerAndStepsFreeEverything(String name) {
        // A backend of its own: the shared ones also hold tensors that other tests in this JVM left to the garbage
        // collector, and a Cleaner freeing one of those mid-test would move the count (CI saw exactly that).
        Backend be = name.equals("cpu") ? new CpuBackend() : new ReferenceBackend();
        assumeTrue(be.liveBytes() >= 0, name + " backend does not count its memory");
        long base = be.liveBytes();
        long model;
        try (UNet2DModel m = Tiny.model(be, 3); DdpmTrainer tr = Tiny.trainer(m, Tiny.images(6, 4), 1e-3, 5, be)) {
            model = be.liveBytes() - base;
            assertTrue(model >= 4L * m.parameterCount() * 3, "parameters, Adam m and v, EMA: " + model + " B");
            tr.trainStep();
            long steady = be.liveBytes();
            for (int i = 0; i < 4; i++) tr.trainStep();
            assertEquals(steady, be.liveBytes(), "live bytes grew over 4 training steps");
            float[] x = tr.withEmaWeights(() -> {
                try (Tensor s = new DdpmSampler(tr.schedule()).sample(m::forward, be, new int[] {2, 1, Tiny.SIDE, Tiny.SIDE},
                        new Generator(9), null)) {
                    return s.toFloatArray();
                }
            });
            assertEquals(2 * Tiny.SIDE * Tiny.SIDE, x.length);
            assertEquals(steady, be.liveBytes(), "live bytes grew while sampling " + Tiny.T + " steps with EMA weights");
        }
        assertEquals(base, be.liveBytes(), "after closing model and trainer, " + (be.liveBytes() - base)
                + " B are still live (model + optimizer + EMA held " + model + " B)");
        be.trim();
    }
}
