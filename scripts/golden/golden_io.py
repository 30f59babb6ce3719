# SPDX-License-Identifier: Apache-2.0
# Golden-file helpers: a minimal safetensors writer/reader and the hash weight scheme that HashWeights.java
# reproduces bit for bit (see unet_golden.py's docstring for the scheme).
import hashlib
import json
import math
import os
import struct

import numpy as np
import torch


# ---------------------------------------------------------------------------------------------------------------
# Hash weights (see the module docstring; HashWeights.java is the twin)
# ---------------------------------------------------------------------------------------------------------------
M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def hash_uniform(name: str, n: int, seed: int) -> np.ndarray:
    """n values r in [-1, 1), float64, element i from splitmix64(key + (i + 1) * GAMMA)."""
    key = (fnv1a64(name.encode("utf-8")) + seed * GAMMA) & M64
    i = np.arange(1, n + 1, dtype=np.uint64)
    z = np.uint64(key) + i * np.uint64(GAMMA)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) * (2.0 / (1 << 24)) - 1.0


def hash_weights(shapes: dict, seed: int) -> dict:
    out = {}
    for name, shape in shapes.items():
        n = int(np.prod(shape)) if len(shape) else 1
        r = hash_uniform(name, n, seed)
        if name.endswith(".bias"):
            wshape = shapes[name[: -len(".bias")] + ".weight"]
            v = 0.25 * r if len(wshape) == 1 else r * (1.0 / math.sqrt(int(np.prod(wshape[1:]))))
        elif len(shape) == 1:
            v = 1.0 + 0.25 * r
        else:
            v = r * (1.0 / math.sqrt(int(np.prod(shape[1:]))))
        out[name] = torch.from_numpy(v.astype(np.float32).reshape(shape))
    return out


# ---------------------------------------------------------------------------------------------------------------
# safetensors: 8-byte little-endian header length, JSON header (padded with spaces to 8 bytes), raw data
# ---------------------------------------------------------------------------------------------------------------
DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
          torch.float64: "F64"}
VIEW = {torch.float16: torch.int16, torch.bfloat16: torch.int16}


def tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().contiguous()
    if t.dtype in VIEW:
        t = t.view(VIEW[t.dtype])
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write_safetensors(path: str, tensors: dict, metadata: dict = None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name]
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path: str) -> dict:
    """Reader used only to check the writer round-trips."""
    inv = {v: k for k, v in DTYPES.items()}
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8: 8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        lo, hi = e["data_offsets"]
        raw = bytearray(data[8 + n + lo: 8 + n + hi])
        dt = inv[e["dtype"]]
        t = torch.frombuffer(raw, dtype=VIEW.get(dt, dt)) if hi > lo else torch.empty(0, dtype=VIEW.get(dt, dt))
        out[name] = t.view(dt).reshape(e["shape"]).clone()
    return out


def write_config(directory: str, cfg: dict):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


OLD_ATTENTION_NAMES = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}


def to_legacy_names(sd: dict) -> dict:
    out = {}
    for k, v in sd.items():
        if ".attentions." in k:
            for new, old in OLD_ATTENTION_NAMES.items():
                k = k.replace(f".{new}.", f".{old}.")
        out[k] = v
    return out


def weights_sha256(sd: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(sd):
        h.update(name.encode("utf-8"))
        h.update(tensor_bytes(sd[name].to(torch.float32)))
    return h.hexdigest()
