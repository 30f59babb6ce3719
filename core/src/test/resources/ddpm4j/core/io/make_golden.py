# SPDX-License-Identifier: Apache-2.0
# Writes golden.safetensors (the format written by hand from the spec, dtype rounding by PyTorch) and
# golden_expected.json (every tensor upcast by PyTorch) for SafeTensorsTest. Run: /usr/bin/python3 make_golden.py
import json, struct
import torch

tensors = {
    "a.weight": torch.tensor([[1.0, -2.5, 3.25], [1 / 3, 1e-8, -0.0]], dtype=torch.float32),
    "b.half": torch.tensor([1 / 3, 65504.0, -0.0, 1e-7, 70000.0, -2.0], dtype=torch.float32).to(torch.float16),
    "c.bf16": torch.tensor([[1 / 3, 3.0e38], [-1e-30, 1.00390625]], dtype=torch.float32).to(torch.bfloat16),
    "d.double": torch.tensor([0.1, -1e300, 2.0], dtype=torch.float64),
    "e.long": torch.tensor([1, -(2 ** 62), 7], dtype=torch.int64),
    "f.int": torch.tensor([-1, 2147483647, 0], dtype=torch.int32),
    "g.empty": torch.zeros((0, 5), dtype=torch.float32),
    "h.scalar": torch.tensor(2.5, dtype=torch.float32),
}
names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
         torch.int64: "I64", torch.int32: "I32"}

header = {"__metadata__": {"format": "pt", "note": "golden \u00e9"}}
blobs, offset = [], 0
for name, t in tensors.items():
    raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
    header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
    blobs.append(raw)
    offset += len(raw)
text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
text += b" " * (-len(text) % 8)
with open("golden.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

# Expected values as IEEE float32 bit patterns (JSON has no infinities): every tensor upcast to float32 by PyTorch,
# integers as they are, and the float32 inputs of the F16/BF16 tensors before rounding.
def f32_bits(values):
    return [struct.unpack("<i", struct.pack("<f", v))[0] for v in values]

expected = {}
for name, t in tensors.items():
    if t.dtype.is_floating_point:
        expected[name] = {"f32_bits": f32_bits(t.to(torch.float32).reshape(-1).tolist())}
    else:
        expected[name] = {"values": t.reshape(-1).tolist()}
inputs = {"b.half": [1 / 3, 65504.0, -0.0, 1e-7, 70000.0, -2.0], "c.bf16": [1 / 3, 3.0e38, -1e-30, 1.00390625]}
for k, v in inputs.items():
    expected[k]["input_f32_bits"] = f32_bits(torch.tensor(v, dtype=torch.float32).tolist())
with open("golden_expected.json", "w") as f:
    json.dump(expected, f, indent=2)
