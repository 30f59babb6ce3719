// SPDX-License-Identifier: Apache-2.0
// The noise-prediction network epsTheta(x_t, t) as the samplers, the trainer and the bound see it, so they can be
// tested with tiny stand-in models. UNet2DModel is adapted with {@code unet::forward}.
package ddpm4j.diffusion;

import ddpm4j.core.Tensor;

/** epsTheta(x_t, t): x (N, C, H, W), t (N) diffusers timesteps in [0, T) -> predicted noise (N, C, H, W). */
@FunctionalInterface
public interface EpsModel {
    Tensor forward(Tensor x, int[] t);
}
