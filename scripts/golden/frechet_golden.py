# SPDX-License-Identifier: Apache-2.0
# Golden values for FrechetTest: feature sets (float32) and their Frechet distance computed in float64 by numpy/PyTorch
# along routes other than the Java code's (eigenvalues of the non-symmetric S1 S2, a Denman-Beavers sqrtm of S1 S2, and
# torch.linalg.eigh), which must agree with each other. Run: /usr/bin/python3 scripts/golden/frechet_golden.py
import json
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "diffusion", "src", "test", "resources", "golden", "frechet.json")


def features(rng, n, d, scale, shift):
    z = rng.standard_normal((n, d))
    mix = rng.standard_normal((d, d)) * scale
    x = np.maximum(z @ mix + shift, 0.0) + 0.1 * z  # ReLU-like, correlated, like a feature layer
    return x.astype(np.float32)


def tr_sqrt_eigvals(s1, s2):
    ev = np.linalg.eigvals(s1 @ s2)  # real and >= 0 up to rounding: S1 S2 is similar to a PSD matrix
    assert np.max(np.abs(ev.imag)) < 1e-8 * max(1.0, np.max(np.abs(ev.real)))
    return float(np.sum(np.sqrt(np.clip(ev.real, 0, None))))


def tr_sqrt_denman_beavers(s1, s2, iters=100):
    y = s1 @ s2
    z = np.eye(len(y))
    for _ in range(iters):
        y, z = 0.5 * (y + np.linalg.inv(z)), 0.5 * (z + np.linalg.inv(y))
    return float(np.trace(y))


def tr_sqrt_torch(s1, s2):
    a, b = torch.from_numpy(s1), torch.from_numpy(s2)
    l, v = torch.linalg.eigh(a)
    r = v @ torch.diag(torch.sqrt(torch.clamp(l, min=0))) @ v.T
    inner = r @ b @ r
    li = torch.linalg.eigvalsh(0.5 * (inner + inner.T))
    return float(torch.sqrt(torch.clamp(li, min=0)).sum())


def case(name, a, b, full_rank):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    mu1, mu2 = a64.mean(0), b64.mean(0)
    s1, s2 = np.cov(a64, rowvar=False), np.cov(b64, rowvar=False)
    t1 = tr_sqrt_eigvals(s1, s2)
    t3 = tr_sqrt_torch(s1, s2)
    # zero eigenvalues make tr sqrt ill-conditioned (an eigenvalue error e moves its root by sqrt(e)): looser there
    assert abs(t1 - t3) < (1e-9 if full_rank else 1e-7) * abs(t1), (name, t1, t3)
    if full_rank:
        t2 = tr_sqrt_denman_beavers(s1, s2)
        assert abs(t1 - t2) < 1e-9 * abs(t1), (name, t1, t2)
    dm = float(np.sum((mu1 - mu2) ** 2))
    fd = dm + float(np.trace(s1) + np.trace(s2)) - 2 * t1
    print(f"{name}: d={a.shape[1]} n={a.shape[0]}/{b.shape[0]} |dmu|^2={dm:.12g} tr S1={np.trace(s1):.12g} "
          f"tr S2={np.trace(s2):.12g} tr sqrt(S1 S2)={t1:.15g} FD={fd:.15g}")
    return {
        "a": [[float(v) for v in row] for row in a], "b": [[float(v) for v in row] for row in b],
        "mean_a": mu1.tolist(), "cov_a_row0": s1[0].tolist(),
        "mean_dist2": dm, "trace_a": float(np.trace(s1)), "trace_b": float(np.trace(s2)),
        "trace_sqrt_product": t1, "frechet": fd,
    }


def main():
    torch.set_num_threads(2)
    rng = np.random.default_rng(20261122)
    out = {
        "full_rank": case("full_rank", features(rng, 60, 10, 0.6, 0.3), features(rng, 45, 10, 0.5, 0.5), True),
        "rank_deficient": case("rank_deficient", features(rng, 7, 12, 0.6, 0.2), features(rng, 9, 12, 0.7, 0.4), False),
    }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
