// SPDX-License-Identifier: Apache-2.0
// Shared set-up of the JMH benchmarks, the profile and the end-to-end runs: backends, seeded inputs, the two U-Net
// configs of issue 6 (a small MNIST U-Net and the paper's CIFAR-10 U-Net) and TOOLCHAIN.md's peaks (PeakProbe measures
// the current ones in each run; these are the fallback and the comparison).
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;
import ddpm4j.nn.UNetConfig;
import java.util.List;

/** Static helpers; benchmark state itself lives in each benchmark's {@code @State} fields. */
final class BenchSupport {
    /** Peak FP32 of the 2-core benchmark machine (AVX-512 FMA microbenchmark, TOOLCHAIN.md), GFLOP/s. */
    static final double PEAK_GFLOPS = 470;
    /** STREAM triad bandwidth with 2 threads on the same machine (TOOLCHAIN.md), GB/s. */
    static final double PEAK_GBS = 38;

    private BenchSupport() {}

    /** The named backend ("cpu", "cuda", "reference"), with a clear message where it is missing. */
    static Backend backend(String name) {
        try {
            return Backends.get(name);
        } catch (IllegalStateException e) {
            throw new IllegalStateException("benchmark backend '" + name + "' cannot run here: " + e.getMessage(), e);
        }
    }

    /** Standard normal tensor from a fixed seed, outside every scope (benchmark state). */
    static Tensor randn(Backend be, long seed, int... shape) {
        return Tensor.randn(be, new Generator(seed), shape).detachFromScope();
    }

    /** Uniform tensor in [lo, hi) from a fixed seed, outside every scope. */
    static Tensor uniform(Backend be, long seed, double lo, double hi, int... shape) {
        Tensor u = Tensor.rand(be, new Generator(seed), shape).detachFromScope();
        be.affine(u, u, hi - lo, lo);
        return u;
    }

    /**
     * The small MNIST U-Net of issue 6: 32x32x1, block_out_channels (64, 128, 128), two residual blocks per level,
     * single-head attention at 16x16, GroupNorm(32) eps 1e-6, the CIFAR-10 network's embedding settings.
     */
    static UNetConfig mnistConfig() {
        return new UNetConfig(32, 1, 1, false, false, 1, List.of("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                List.of("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), List.of(64, 128, 128), 2, 1, 0, 0.0, "silu",
                null, 32, null, 1e-6, true);
    }

    /** "mnist" (small U-Net, 32x32x1) or "cifar10" (the paper's 35.7M-parameter network, 32x32x3). */
    static UNetConfig config(String name) {
        return switch (name) {
            case "mnist" -> mnistConfig();
            case "cifar10" -> UNetConfig.cifar10();
            default -> throw new IllegalArgumentException("unknown U-Net config '" + name + "'; expected mnist or cifar10");
        };
    }

    /** Drops every gradient buffer (PyTorch's zero_grad(set_to_none=True)), so each iteration starts clean. */
    static void clearGrads(Tensor... ts) {
        for (Tensor t : ts) if (t != null) t.setGrad(null);
    }

    static void clearGrads(List<Tensor> ts) {
        for (Tensor t : ts) t.setGrad(null);
    }
}
