# SPDX-License-Identifier: Apache-2.0
# PyTorch 1.13 peer for ddpm4j's op benchmarks (issue 2): the same shapes as the JMH op benchmarks, timed on 2 threads,
# printed as JSON (min / median ms over repetitions). Run: /usr/bin/python3 bench/pytorch/peer_ops.py [--reps N] [--only SUBSTR]
# Best setting here (TOOLCHAIN.md): OPENBLAS_NUM_THREADS=1 and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for the run.
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def timed(fn, reps, warmup, budget_s, clock=time.perf_counter):
    """Runs fn warmup times, then up to reps times (stopping early past budget_s); returns the times in ms."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    for _ in range(reps):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1e3)
        if time.perf_counter() - start > budget_s and len(times) >= 3:
            break
    return times


def gemm_cases():
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        out = torch.empty(n, n)
        yield f"gemm_{n}", {"M": n, "N": n, "K": n}, 2.0 * n ** 3, 0, lambda a=a, b=b, out=out: torch.mm(a, b, out=out)


def conv_cases():
    # conv3x3, stride 1, pad 1, bias: the U-Net's ResBlock convolutions
    for n, c, hw in ((16, 64, 32), (16, 128, 16)):
        x = torch.randn(n, c, hw, hw, requires_grad=True)
        w = (torch.randn(c, c, 3, 3) / math.sqrt(9 * c)).requires_grad_()
        b = torch.zeros(c, requires_grad=True)
        flops = 2.0 * n * c * c * 9 * hw * hw
        g = torch.randn(n, c, hw, hw)
        shape = {"N": n, "Cin": c, "Cout": c, "H": hw, "W": hw, "k": 3}

        def fwd(x=x, w=w, b=b):
            with torch.no_grad():
                return F.conv2d(x, w, b, padding=1)

        def fwd_bwd(x=x, w=w, b=b, g=g):
            x.grad = w.grad = b.grad = None
            F.conv2d(x, w, b, padding=1).backward(g)

        yield f"conv3x3_n{n}_c{c}_{hw}x{hw}_fwd", shape, flops, 0, fwd
        yield f"conv3x3_n{n}_c{c}_{hw}x{hw}_fwdbwd", shape, 3 * flops, 0, fwd_bwd


def groupnorm_cases():
    # GroupNorm(32) with affine weights; bytes: read x (and g) and write y (and dx) once, as the napkin math
    for n, c, hw in ((16, 128, 16), (16, 64, 32)):
        x = torch.randn(n, c, hw, hw, requires_grad=True)
        gn = torch.nn.GroupNorm(32, c)
        g = torch.randn(n, c, hw, hw)
        elems = n * c * hw * hw
        shape = {"N": n, "C": c, "H": hw, "W": hw, "groups": 32}

        def fwd(x=x, gn=gn):
            with torch.no_grad():
                return gn(x)

        def fwd_bwd(x=x, gn=gn, g=g):
            x.grad = None
            gn.zero_grad(set_to_none=True)
            gn(x).backward(g)

        def fwd_silu(x=x, gn=gn):
            with torch.no_grad():
                return F.silu(gn(x))

        def fwd_bwd_silu(x=x, gn=gn, g=g):
            x.grad = None
            gn.zero_grad(set_to_none=True)
            F.silu(gn(x)).backward(g)

        yield f"groupnorm32_n{n}_c{c}_{hw}x{hw}_fwd", shape, 0, 8 * elems, fwd
        yield f"groupnorm32_n{n}_c{c}_{hw}x{hw}_fwdbwd", shape, 0, 20 * elems, fwd_bwd
        yield f"groupnorm32_silu_n{n}_c{c}_{hw}x{hw}_fwd", shape, 0, 8 * elems, fwd_silu
        yield f"groupnorm32_silu_n{n}_c{c}_{hw}x{hw}_fwdbwd", shape, 0, 20 * elems, fwd_bwd_silu


class AttnBlock(torch.nn.Module):
    """The DDPM U-Net attention block: GroupNorm(32), 1x1 q/k/v, softmax(q k^T / sqrt(C)) v, 1x1 proj, residual."""

    def __init__(self, c):
        super().__init__()
        self.norm = torch.nn.GroupNorm(32, c)
        self.qkv = torch.nn.Conv2d(c, 3 * c, 1)
        self.proj = torch.nn.Conv2d(c, c, 1)

    def forward(self, x):
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, h * w).unbind(1)
        att = torch.softmax(torch.bmm(q.transpose(1, 2), k) / math.sqrt(c), dim=-1)   # (n, hw, hw)
        out = torch.bmm(v, att.transpose(1, 2)).reshape(n, c, h, w)                   # (n, c, hw)
        return x + self.proj(out)


def attention_cases():
    n, c, hw = 8, 256, 16
    blk = AttnBlock(c)
    x = torch.randn(n, c, hw, hw, requires_grad=True)
    g = torch.randn(n, c, hw, hw)
    t = hw * hw
    flops = 2.0 * n * (4 * c * c * t + 2 * t * t * c)   # qkv + proj 1x1 convs, q k^T and att v
    shape = {"N": n, "C": c, "H": hw, "W": hw}

    def fwd():
        with torch.no_grad():
            return blk(x)

    def fwd_bwd():
        x.grad = None
        blk.zero_grad(set_to_none=True)
        blk(x).backward(g)

    yield f"attention_n{n}_c{c}_{hw}x{hw}_fwd", shape, flops, 0, fwd
    yield f"attention_n{n}_c{c}_{hw}x{hw}_fwdbwd", shape, 3 * flops, 0, fwd_bwd


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=30, help="timed repetitions per op (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    ap.add_argument("--budget", type=float, default=2.0, help="seconds per op before stopping early (default 2)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--only", default="", help="run only ops whose name contains this")
    ap.add_argument("--cputime", action="store_true",
                    help="time with the thread's CPU clock (use with --threads 1 on a loaded machine)")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    results = []
    for family in (gemm_cases, conv_cases, groupnorm_cases, attention_cases):
        for name, shape, flops, nbytes, fn in family():
            if args.only and args.only not in name:
                continue
            ms = timed(fn, args.reps, args.warmup, args.budget, time.thread_time if args.cputime else time.perf_counter)
            lo, med = min(ms), statistics.median(ms)
            r = {"op": name, "shape": shape, "reps": len(ms), "min_ms": round(lo, 4), "median_ms": round(med, 4)}
            if flops:
                r["gflops_median"] = round(flops / med / 1e6, 2)
            if nbytes:
                r["gbs_median"] = round(nbytes / med / 1e6, 2)
            results.append(r)
            print(f"{name:44s} min {lo:9.3f} ms  median {med:9.3f} ms", file=sys.stderr)
    env = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")}
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "clock": "thread_cpu" if args.cputime else "wall", "mkldnn": torch.backends.mkldnn.is_available(),
                      "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "env": env,
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
