// SPDX-License-Identifier: Apache-2.0
// Test helper: a tiny U-Net (8x8, channels 8/8, attention at level 1, dropout), random images and a trainer around
// them, for the reliability tests (LeakTest, NonFiniteTest, ThreadsTest).
package ddpm4j.diffusion;

import ddpm4j.core.Backend;
import ddpm4j.core.Generator;
import ddpm4j.diffusion.data.Images;
import ddpm4j.nn.UNet2DModel;
import ddpm4j.nn.UNetConfig;
import java.util.List;
import java.util.Random;

final class Tiny {
    static final int SIDE = 8, T = 50;

    private Tiny() {}

    static UNetConfig config() {
        return new UNetConfig(SIDE, 1, 1, false, false, 1, List.of("DownBlock2D", "AttnDownBlock2D"),
                List.of("AttnUpBlock2D", "UpBlock2D"), List.of(8, 8), 1, 1, 0, 0.1, "silu", null, 4, null, 1e-6, true);
    }

    static UNet2DModel model(Backend be, long seed) {
        return new UNet2DModel(config(), be, new Generator(seed));
    }

    /** {@code n} images in [-1, 1] from a seeded java.util.Random. */
    static Images images(int n, long seed) {
        var r = new Random(seed);
        float[] x = new float[n * SIDE * SIDE];
        for (int i = 0; i < x.length; i++) x[i] = r.nextFloat() * 2 - 1;
        return new Images(x, n, 1, SIDE, SIDE);
    }

    static NoiseSchedule schedule() {
        return new NoiseSchedule(SchedulerConfig.paperLinear().withTimesteps(T));
    }

    static DdpmTrainer trainer(UNet2DModel m, Images data, double lr, long seed, Backend be) {
        return new DdpmTrainer(m, m::forward, schedule(), data, new DdpmTrainer.Config(2, lr, 2, 1.0, 0.9f, true, seed), be);
    }
}
