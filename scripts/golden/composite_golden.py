# SPDX-License-Identifier: Apache-2.0
# Golden values for CompositeGoldenTest: a small conv net with GroupNorm+SiLU, a TF-style stride-2 convolution,
# attention-style softmax and an MSE loss, in float64 PyTorch. Inputs are float32-representable so the Java side
# can run it in F32 and F64. Run: /usr/bin/python3 scripts/golden/composite_golden.py
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from golden_io import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "../../core/src/test/resources/golden/composite.safetensors")


def main():
    g = torch.Generator().manual_seed(20251122)

    def rnd(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g) * scale).float().double().requires_grad_(True)

    p = {
        "x": rnd(2, 3, 7, 7), "w1": rnd(6, 3, 3, 3, scale=0.3), "b1": rnd(6, scale=0.1),
        "gw": (1 + rnd(6, scale=0.2)).detach().requires_grad_(True), "gb": rnd(6, scale=0.2),
        "w2": rnd(6, 6, 3, 3, scale=0.2), "b2": rnd(6, scale=0.1), "wq": rnd(6, 6, scale=0.4),
        "target": rnd(2, 6, scale=0.5),
    }
    h = F.conv2d(p["x"], p["w1"], p["b1"], stride=1, padding=1)            # (2, 6, 7, 7)
    h = F.silu(F.group_norm(h, 3, p["gw"], p["gb"], eps=1e-5))
    h = F.conv2d(F.pad(h, (0, 1, 0, 1)), p["w2"], p["b2"], stride=2)       # (2, 6, 3, 3)
    s = h.flatten(2).transpose(1, 2)                                       # (2, 9, 6)
    att = torch.softmax((s @ p["wq"]) @ s.transpose(1, 2) / 6 ** 0.5, dim=-1)
    y = torch.tanh(att @ s + s).mean(1)                                    # (2, 6)
    loss = F.mse_loss(y, p["target"])
    loss.backward()
    out = {k: v.detach() for k, v in p.items()}
    out["y"] = y.detach()
    out["loss"] = loss.detach().reshape(1)
    for k, v in p.items():
        out["grad." + k] = v.grad.detach()
    write_safetensors(OUT, out, {"generator": "scripts/golden/composite_golden.py", "torch": torch.__version__})
    print("loss", loss.item(), "->", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
