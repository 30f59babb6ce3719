#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Golden files for the U-Net (issue 3): diffusers' UNet2DModel rebuilt in plain PyTorch 1.13 with diffusers'
# parameter names, deterministic hash weights (HashWeights.java regenerates them bit-identically), and F64 references.
"""Writes nn/src/test/resources/golden/unet-*/ ; run with /usr/bin/python3 scripts/golden/unet_golden.py.

Directories written:
  unet-small/               config.json, diffusion_pytorch_model.safetensors (F32), io.safetensors
  unet-small-f16/           same config, F16 weights (new attention names)
  unet-small-bf16-legacy/   same config, BF16 weights with the OLD attention names (query/key/value/proj_attn)
  unet-cifar10/             google/ddpm-cifar10-32's config.json and io.safetensors; no weights (35.7M parameters):
                            tests regenerate them with the hash scheme below (checked by the SHA-256 in the metadata)

io.safetensors holds `sample` (N,C,H,W F32), `timestep` (N, I64), `t_emb` (the sinusoidal embedding, N x C0),
`eps` (the model output), and for the small config also `eps_f16`/`eps_bf16` (outputs with the F16/BF16-rounded
weights), `R` (a fixed random tensor), `loss` = mean(eps * R) and `grad.<param>` for EVERY parameter. All references
are computed in float64 from the float32 weights and inputs (the sinusoidal embedding is computed in float32 as
diffusers does), then stored as F32.

Hash weights (same in HashWeights.java): for a parameter `name` of shape S and element i (row-major),
  key = fnv1a64(utf8(name)) + seed * GAMMA              (mod 2^64, GAMMA = 0x9E3779B97F4A7C15)
  z   = splitmix64_mix(key + (i + 1) * GAMMA)
  r   = 2 * (z >>> 40) / 2^24 - 1                       (in [-1, 1), exact in float64)
  weight with rank >= 2: r / sqrt(prod(S[1:]))          (fan-in scaling, like PyTorch's default init)
  rank-1 `.weight` (GroupNorm gamma): 1 + 0.25 r
  `.bias`: 0.25 r when its `.weight` sibling has rank 1, else r / sqrt(fan_in of the sibling weight)
  each value computed in float64 and rounded once to float32.
"""
import os
import sys

import torch

from golden_io import read_safetensors, to_legacy_names, weights_sha256, write_config, write_safetensors, hash_weights
from unet_model import UNet2DModel

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "nn", "src", "test", "resources", "golden")
SEED = 20200619  # DDPM's arXiv date; any fixed number works

# ---------------------------------------------------------------------------------------------------------------
# Configs (diffusers config.json format)
# ---------------------------------------------------------------------------------------------------------------
SMALL_CONFIG = {
    "_class_name": "UNet2DModel",
    "_diffusers_version": "0.30.0",
    "act_fn": "silu",
    "add_attention": True,
    "attention_head_dim": 8,          # 16/8 = 2 and 32/8 = 4 heads: multi-head, as train_unconditional makes
    "attn_norm_num_groups": None,
    "block_out_channels": [16, 32],
    "center_input_sample": False,
    "class_embed_type": None,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D"],
    "downsample_padding": 1,
    "downsample_type": "conv",
    "dropout": 0.0,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 3,
    "layers_per_block": 1,
    "mid_block_scale_factor": 1.5,
    "norm_eps": 1e-05,
    "norm_num_groups": 4,
    "num_class_embeds": None,
    "num_train_timesteps": None,
    "out_channels": 3,
    "resnet_time_scale_shift": "default",
    "sample_size": 8,
    "time_embedding_type": "positional",
    "up_block_types": ["AttnUpBlock2D", "UpBlock2D"],
    "upsample_type": "conv",
}

# google/ddpm-cifar10-32's config.json (the paper's CIFAR-10 network), as published on the hub.
CIFAR_CONFIG = {
    "_class_name": "UNet2DModel",
    "_diffusers_version": "0.0.4",
    "act_fn": "silu",
    "attention_head_dim": None,
    "block_out_channels": [128, 256, 256, 256],
    "center_input_sample": False,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"],
    "downsample_padding": 0,
    "flip_sin_to_cos": False,
    "freq_shift": 1,
    "in_channels": 3,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-06,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 32,
    "time_embedding_type": "positional",
    "up_block_types": ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
}
CIFAR_PARAMS = 35_746_307


# ---------------------------------------------------------------------------------------------------------------
# Golden runs
# ---------------------------------------------------------------------------------------------------------------
def build(cfg, seed):
    model = UNet2DModel(cfg)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    sd = hash_weights(shapes, seed)
    model.load_state_dict(sd, strict=True)
    return model, sd


def forward64(model, sd32, x, t):
    """The model in float64 on the float32 (or upcast) weights; returns (eps, t_emb)."""
    model.load_state_dict({k: v.to(torch.float32) for k, v in sd32.items()}, strict=True)
    m = model.double()
    return m(x.double(), t), m.time_features(t)


def small(out_dir):
    cfg = SMALL_CONFIG
    model, sd = build(cfg, SEED)
    model.eval()
    nparams = sum(p.numel() for p in model.parameters())
    g = torch.Generator().manual_seed(1)
    n, c, s = 2, cfg["in_channels"], cfg["sample_size"]
    x = torch.randn(n, c, s, s, generator=g)
    t = torch.tensor([7, 863], dtype=torch.int64)
    R = torch.randn(n, cfg["out_channels"], s, s, generator=g)

    eps, t_emb = forward64(model, sd, x, t)
    loss = (eps * R.double()).mean()
    model.zero_grad()
    loss.backward()
    grads = {f"grad.{k}": p.grad.to(torch.float32) for k, p in model.named_parameters()}
    assert len(grads) == len(sd), "every state-dict entry is a parameter"

    sd16 = {k: v.to(torch.float16) for k, v in sd.items()}
    sdbf = {k: v.to(torch.bfloat16) for k, v in sd.items()}
    with torch.no_grad():
        eps16, _ = forward64(model, sd16, x, t)
        epsbf, _ = forward64(model, sdbf, x, t)

    d = os.path.join(out_dir, "unet-small")
    write_config(d, cfg)
    write_safetensors(os.path.join(d, "diffusion_pytorch_model.safetensors"), sd, {"format": "pt"})
    io = {"sample": x, "timestep": t, "t_emb": t_emb.float(), "eps": eps.float(), "R": R,
          "loss": loss.detach().float().reshape(1), "eps_f16": eps16.float(), "eps_bf16": epsbf.float()}
    io.update(grads)
    meta = {"num_parameters": nparams, "seed": SEED, "weights_sha256": weights_sha256(sd),
            "note": "references in float64 from F32 weights; loss = mean(eps * R)"}
    write_safetensors(os.path.join(d, "io.safetensors"), io, meta)

    d16 = os.path.join(out_dir, "unet-small-f16")
    write_config(d16, cfg)
    write_safetensors(os.path.join(d16, "diffusion_pytorch_model.safetensors"), sd16, {"format": "pt"})
    dbf = os.path.join(out_dir, "unet-small-bf16-legacy")
    write_config(dbf, cfg)
    write_safetensors(os.path.join(dbf, "diffusion_pytorch_model.safetensors"), to_legacy_names(sdbf),
                      {"format": "pt"})

    back = read_safetensors(os.path.join(d, "io.safetensors"))
    assert torch.equal(back["eps"], eps.float()) and torch.equal(back["timestep"], t)
    assert torch.equal(read_safetensors(os.path.join(d16, "diffusion_pytorch_model.safetensors"))["conv_in.weight"],
                       sd16["conv_in.weight"])
    print(f"small: {nparams} parameters, loss {loss.item():.9g}, |eps| mean {eps.abs().mean().item():.6g}, "
          f"max |eps_f16 - eps| {(eps16 - eps).abs().max().item():.3g}, "
          f"max |eps_bf16 - eps| {(epsbf - eps).abs().max().item():.3g}")
    for p in sorted(os.listdir(d)) + [None]:
        if p:
            print(f"  {p}: {os.path.getsize(os.path.join(d, p))} bytes")


def cifar(out_dir, weights_out=None):
    cfg = CIFAR_CONFIG
    model, sd = build(cfg, SEED)
    model.eval()
    nparams = sum(p.numel() for p in model.parameters())
    print(f"cifar10: {nparams} parameters")
    assert nparams == CIFAR_PARAMS, f"expected {CIFAR_PARAMS} parameters, got {nparams}"
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 32, 32, generator=g)
    t = torch.tensor([0, 999], dtype=torch.int64)
    with torch.no_grad():
        eps, t_emb = forward64(model, sd, x, t)
        eps32 = model.float()(x, t)
    d = os.path.join(out_dir, "unet-cifar10")
    write_config(d, cfg)
    meta = {"num_parameters": nparams, "seed": SEED, "weights_sha256": weights_sha256(sd),
            "note": "weights not stored: regenerate with the hash scheme of scripts/golden/unet_golden.py"}
    write_safetensors(os.path.join(d, "io.safetensors"),
                      {"sample": x, "timestep": t, "t_emb": t_emb.float(), "eps": eps.float()}, meta)
    rel = ((eps32.double() - eps).norm() / eps.norm()).item()
    print(f"cifar10: |eps| mean {eps.abs().mean().item():.6g}, PyTorch F32 vs F64 relative error {rel:.3g}")
    if weights_out:
        write_config(weights_out, cfg)
        write_safetensors(os.path.join(weights_out, "diffusion_pytorch_model.safetensors"), sd, {"format": "pt"})
        print(f"cifar10 weights written to {weights_out}")


def main():
    torch.set_num_threads(2)
    out_dir = OUT
    args = sys.argv[1:]
    weights_out = None
    if "--cifar-weights" in args:
        weights_out = args[args.index("--cifar-weights") + 1]
    small(out_dir)
    cifar(out_dir, weights_out)


if __name__ == "__main__":
    main()
