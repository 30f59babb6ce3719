// SPDX-License-Identifier: Apache-2.0
// Package overview of ddpm4j.nn: the DDPM U-Net as diffusers' UNet2DModel, written only against ddpm4j.core.Tensor.
/**
 * Layers and the DDPM U-Net. {@link ddpm4j.nn.Module} holds named parameters with diffusers' dotted names;
 * {@link ddpm4j.nn.UNet2DModel} is built from a {@link ddpm4j.nn.UNetConfig} (a diffusers config.json) and loaded or
 * saved with {@link ddpm4j.nn.DiffusersCheckpoint}; {@link ddpm4j.nn.EpsCommand} is the logic of {@code ddpm eps}.
 * Golden files come from {@code scripts/golden/unet_golden.py} (PyTorch 1.13 twin of the network).
 */
package ddpm4j.nn;
