# SPDX-License-Identifier: Apache-2.0
# diffusers' UNet2DModel (positional time embedding, DownBlock2D/AttnDownBlock2D/UpBlock2D/AttnUpBlock2D, UNetMidBlock2D)
# in plain PyTorch with diffusers' state-dict names; used by unet_golden.py. Java twin: nn/.../UNet2DModel.java.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------------------------
# The network, parameter names exactly as diffusers' state dict
# ---------------------------------------------------------------------------------------------------------------
def timestep_embedding(t, dim, flip_sin_to_cos, shift, max_period=10000):
    """Sinusoidal embedding in float32, op for op as diffusers' get_timestep_embedding."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(0, half, dtype=torch.float32)
    exponent = exponent / (half - shift)
    freqs = torch.exp(exponent)
    args = t[:, None].float() * freqs[None, :]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps, dropout, output_scale_factor):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None
        self.output_scale_factor = output_scale_factor

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return (x + h) / self.output_scale_factor


class Attention(nn.Module):
    """Self-attention over H*W positions: GroupNorm, q/k/v, softmax(q k^T / sqrt(d)) v, out proj, residual."""

    def __init__(self, c, head_dim, groups, eps, rescale_output_factor):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, c, eps=eps)
        self.to_q = nn.Linear(c, c)
        self.to_k = nn.Linear(c, c)
        self.to_v = nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c), nn.Dropout(0.0)])
        self.heads = c // head_dim
        self.head_dim = head_dim
        self.rescale_output_factor = rescale_output_factor

    def forward(self, x):
        n, c, h, w = x.shape
        y = self.group_norm(x).reshape(n, c, h * w).transpose(1, 2)  # (N, HW, C)

        def split(t):  # (N, HW, C) -> (N, heads, HW, d): channel = head * d + j
            return t.reshape(n, h * w, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.to_q(y)), split(self.to_k(y)), split(self.to_v(y))
        a = torch.softmax(q @ k.transpose(-1, -2) * self.head_dim ** -0.5, dim=-1)
        o = (a @ v).transpose(1, 2).reshape(n, h * w, c)
        o = self.to_out[0](o).transpose(1, 2).reshape(n, c, h, w)
        return (o + x) / self.rescale_output_factor


class Downsample2D(nn.Module):
    def __init__(self, c, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:  # TF "SAME"-style: pad right and bottom only
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def head_dim_for(cfg, channels):
    return cfg["attention_head_dim"] if cfg.get("attention_head_dim") is not None else channels


class DownBlock(nn.Module):
    def __init__(self, cfg, attn, cin, cout, temb, add_downsample):
        super().__init__()
        g, eps, p = cfg["norm_num_groups"], cfg["norm_eps"], cfg.get("dropout", 0.0)
        if attn:
            self.attentions = nn.ModuleList(
                [Attention(cout, head_dim_for(cfg, cout), g, eps, 1.0) for _ in range(cfg["layers_per_block"])])
        else:
            self.attentions = None
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, temb, g, eps, p, 1.0)
                                      for i in range(cfg["layers_per_block"])])
        self.downsamplers = nn.ModuleList([Downsample2D(cout, cfg.get("downsample_padding", 1))]) \
            if add_downsample else None

    def forward(self, x, temb):
        states = []
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x)
            states.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            states.append(x)
        return x, states


class UpBlock(nn.Module):
    def __init__(self, cfg, attn, cin, cout, prev, temb, add_upsample):
        super().__init__()
        g, eps, p = cfg["norm_num_groups"], cfg["norm_eps"], cfg.get("dropout", 0.0)
        layers = cfg["layers_per_block"] + 1
        if attn:
            self.attentions = nn.ModuleList([Attention(cout, head_dim_for(cfg, cout), g, eps, 1.0)
                                             for _ in range(layers)])
        else:
            self.attentions = None
        resnets = []
        for i in range(layers):
            skip = cin if i == layers - 1 else cout
            rin = prev if i == 0 else cout
            resnets.append(ResnetBlock2D(rin + skip, cout, temb, g, eps, p, 1.0))
        self.resnets = nn.ModuleList(resnets)
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if add_upsample else None

    def forward(self, x, skips, temb):
        for i, resnet in enumerate(self.resnets):
            x = resnet(torch.cat([x, skips.pop()], dim=1), temb)  # the most recent skip first
            if self.attentions is not None:
                x = self.attentions[i](x)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class MidBlock(nn.Module):
    def __init__(self, cfg, c, temb):
        super().__init__()
        g, eps, p = cfg["norm_num_groups"], cfg["norm_eps"], cfg.get("dropout", 0.0)
        s = cfg.get("mid_block_scale_factor", 1.0)
        ga = cfg.get("attn_norm_num_groups") or g
        self.attentions = nn.ModuleList([Attention(c, head_dim_for(cfg, c), ga, eps, s)]) \
            if cfg.get("add_attention", True) else None
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c, temb, g, eps, p, s) for _ in range(2)])

    def forward(self, x, temb):
        x = self.resnets[0](x, temb)
        if self.attentions is not None:
            x = self.attentions[0](x)
        return self.resnets[1](x, temb)


class UNet2DModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        ch = cfg["block_out_channels"]
        temb = 4 * ch[0]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        self.down_blocks = nn.ModuleList()
        cout = ch[0]
        for i, kind in enumerate(cfg["down_block_types"]):
            cin, cout = cout, ch[i]
            self.down_blocks.append(DownBlock(cfg, kind == "AttnDownBlock2D", cin, cout, temb, i < len(ch) - 1))
        self.mid_block = MidBlock(cfg, ch[-1], temb)
        rev = list(reversed(ch))
        self.up_blocks = nn.ModuleList()
        cout = rev[0]
        for i, kind in enumerate(cfg["up_block_types"]):
            prev, cout, cin = cout, rev[i], rev[min(i + 1, len(ch) - 1)]
            self.up_blocks.append(UpBlock(cfg, kind == "AttnUpBlock2D", cin, cout, prev, temb, i < len(ch) - 1))
        self.conv_norm_out = nn.GroupNorm(cfg["norm_num_groups"], ch[0], eps=cfg["norm_eps"])
        self.conv_out = nn.Conv2d(ch[0], cfg["out_channels"], 3, padding=1)

    def time_features(self, t):
        c = self.cfg
        return timestep_embedding(t, c["block_out_channels"][0], c["flip_sin_to_cos"], c["freq_shift"])

    def forward(self, x, t):
        if self.cfg.get("center_input_sample", False):
            x = 2 * x - 1.0
        emb = self.time_embedding(self.time_features(t).to(x.dtype))
        x = self.conv_in(x)
        skips = [x]
        for block in self.down_blocks:
            x, states = block(x, emb)
            skips += states
        x = self.mid_block(x, emb)
        for block in self.up_blocks:
            x = block(x, skips, emb)
        return self.conv_out(F.silu(self.conv_norm_out(x)))
