#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# PyTorch 1.13 peer of ddpm4j's whole benchmark suite (issues 2, 3, 6): the op shapes of peer_ops.py, the U-Net
# (scripts/golden/unet_model.py, diffusers' UNet2DModel in plain PyTorch) forward / forward+backward, the training step
# (Alg. 1 with clipping, Adam, EMA), the ancestral sampling step (Alg. 2), the fused-kernel compositions (q_sample,
# ancestral update, Adam, EMA), DDIM-50 and 1000-step sampling of 16 images, and the peak RSS of each end-to-end
# workload (one fresh subprocess each, VmHWM). Pairs with bench/src/main/java/ddpm4j/bench/*Bench.java and EndToEnd.java.
"""Run: /usr/bin/python3 bench/pytorch/peer.py [--quick] [--only SUBSTR] [--full-sampling] > peer.json

Best setting on this machine (TOOLCHAIN.md): torch.set_num_threads(2), OPENBLAS_NUM_THREADS=1, and OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE unset for the run (bench/run.sh does that). JSON on stdout: min and median ms over repetitions.

--device cuda (PyTorch 2.x with CUDA) runs the same work on the GPU, every timed call ended by torch.cuda.synchronize(),
in full FP32 (cuDNN's and cuBLAS's TF32 off, as ddpm4j's CUDA backend by default) unless --tf32; peak RSS is not
measured there. This is the peer of `EndToEnd --backend cuda` and the JMH suite with -p backend=cuda."""
import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "golden"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import peer_ops  # noqa: E402
from unet_model import Attention, UNet2DModel  # noqa: E402

T = 1000
SYNC = lambda: None  # noqa: E731  torch.cuda.synchronize with --device cuda: a timed call ends when the GPU is done

# The small MNIST U-Net of issue 6 (BenchSupport.mnistConfig) and google/ddpm-cifar10-32's config (UNetConfig.cifar10).
MNIST_CONFIG = {
    "act_fn": "silu", "attention_head_dim": None, "block_out_channels": [64, 128, 128], "center_input_sample": False,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D"], "downsample_padding": 0,
    "flip_sin_to_cos": False, "freq_shift": 1, "in_channels": 1, "layers_per_block": 2, "mid_block_scale_factor": 1,
    "norm_eps": 1e-06, "norm_num_groups": 32, "out_channels": 1, "sample_size": 32,
    "up_block_types": ["UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
}
CIFAR_CONFIG = dict(MNIST_CONFIG, **{
    "block_out_channels": [128, 256, 256, 256], "in_channels": 3, "out_channels": 3,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
})
CONFIGS = {"mnist": MNIST_CONFIG, "cifar10": CIFAR_CONFIG}
TRAIN_BATCH = {"mnist": 16, "cifar10": 8}


class Workload:
    """A U-Net with Adam and EMA and the linear schedule, doing what DdpmWorkload.java runs (DdpmTrainer.trainStep,
    DdpmSampler.step, DdimSampler.step), op for op."""

    def __init__(self, config, batch, training):
        torch.manual_seed(42)
        cfg = CONFIGS[config]
        self.model = UNet2DModel(cfg)
        self.batch, self.c, self.hw = batch, cfg["in_channels"], cfg["sample_size"]
        # the schedule on the host, as ddpm4j's sampler keeps it: a step's scalar coefficients are host arithmetic, not
        # reads from the GPU; training gathers per-sample alpha_bar_t from a copy on the device of the tensors
        beta = torch.linspace(1e-4, 0.02, T, dtype=torch.float64, device="cpu")
        self.beta, self.alpha_bar = beta, torch.cumprod(1 - beta, 0)
        self.alpha_bar_dev = self.alpha_bar.to(torch.empty(0).device)
        self.params = list(self.model.parameters())
        if training:
            self.model.train()
            self.opt = torch.optim.Adam(self.params, lr=2e-4, betas=(0.9, 0.999), eps=1e-8)
            self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min(1.0, (s + 1) / 5000))
            self.ema = [p.detach().clone() for p in self.params]
            self.x0 = torch.rand(batch, self.c, self.hw, self.hw) * 2 - 1
        else:
            self.model.eval()

    def train_step(self):
        # 1. t ~ U{0..T-1}, eps ~ N(0, I), x_t = sqrt(alphaBar_t) x_0 + sqrt(1 - alphaBar_t) eps   (Eq. 4)
        t = torch.randint(0, T, (self.batch,))
        ab = self.alpha_bar_dev[t].float()[:, None, None, None]
        eps = torch.randn_like(self.x0)
        xt = ab.sqrt() * self.x0 + (1 - ab).sqrt() * eps
        # 2. L_simple, backward
        self.opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(self.model(xt, t), eps)
        loss.backward()
        # 3. clip by global norm 1, Adam with warmup, EMA 0.9999 (foreach kernels: PyTorch's fastest form in 1.13)
        norm = torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        value = loss.item()
        if not math.isfinite(value + norm.item()):
            raise RuntimeError("non-finite loss or gradient")
        self.opt.step()
        self.sched.step()
        with torch.no_grad():
            torch._foreach_mul_(self.ema, 0.9999)
            torch._foreach_add_(self.ema, self.params, alpha=1 - 0.9999)
        return value

    def coefs(self, t):
        ab = self.alpha_bar[t].item()
        ab_prev = self.alpha_bar[t - 1].item() if t > 0 else 1.0
        beta = self.beta[t].item()
        c0, c1 = 1 / math.sqrt(ab), math.sqrt(1 / ab - 1)
        mu0 = beta * math.sqrt(ab_prev) / (1 - ab)
        mut = (1 - ab_prev) * math.sqrt(1 - beta) / (1 - ab)
        sigma = math.sqrt(beta * (1 - ab_prev) / (1 - ab)) if t > 0 else 0.0
        return c0, c1, mu0, mut, sigma

    @torch.no_grad()
    def sample_step(self, x, t):
        """Alg. 2, line 4 in posterior-mean form with x0 clipped to [-1, 1] (diffusers' DDPMScheduler.step)."""
        eps = self.model(x, torch.full((self.batch,), t, dtype=torch.long))
        c0, c1, mu0, mut, sigma = self.coefs(t)
        x0 = (c0 * x - c1 * eps).clamp_(-1, 1)
        out = mu0 * x0 + mut * x
        if t > 0:
            out += sigma * torch.randn_like(x)
        return out

    @torch.no_grad()
    def ddim_step(self, x, t, t_prev):
        """DDIM (Song et al., Eq. 12) with eta = 0 and x0 clipped to [-1, 1]."""
        eps = self.model(x, torch.full((self.batch,), t, dtype=torch.long))
        ab = self.alpha_bar[t].item()
        ab_prev = self.alpha_bar[t_prev].item() if t_prev >= 0 else 1.0
        x0 = ((x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)).clamp_(-1, 1)
        eps = (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
        return math.sqrt(ab_prev) * x0 + math.sqrt(1 - ab_prev) * eps

    def noise(self):
        return torch.randn(self.batch, self.c, self.hw, self.hw)


def attention_cases():
    n, c, hw = 8, 256, 16
    blk = Attention(c, c, 32, 1e-6, 1.0)
    x = torch.randn(n, c, hw, hw, requires_grad=True)
    g = torch.randn(n, c, hw, hw)
    t = hw * hw
    flops = 2.0 * n * (4 * c * c * t + 2 * t * t * c)

    def fwd():
        with torch.no_grad():
            return blk(x)

    def fwd_bwd():
        x.grad = None
        blk.zero_grad(set_to_none=True)
        blk(x).backward(g)

    yield f"attention_n{n}_c{c}_{hw}x{hw}_fwd", {"N": n, "C": c, "H": hw, "W": hw}, flops, 0, fwd
    yield f"attention_n{n}_c{c}_{hw}x{hw}_fwdbwd", {"N": n, "C": c, "H": hw, "W": hw}, 3 * flops, 0, fwd_bwd


def unet_cases():
    for config in ("mnist", "cifar10"):
        cfg = CONFIGS[config]
        torch.manual_seed(42)
        model = UNet2DModel(cfg)
        b, c, hw = 16, cfg["in_channels"], cfg["sample_size"]
        x, dy = torch.randn(b, c, hw, hw), torch.randn(b, c, hw, hw)
        t = torch.tensor([(37 * i + 11) % T for i in range(b)])

        def fwd(model=model, x=x, t=t):
            model.eval()
            with torch.no_grad():
                return model(x, t)

        def fwd_bwd(model=model, x=x, t=t, dy=dy):
            model.train()
            model.zero_grad(set_to_none=True)
            model(x, t).backward(dy)

        shape = {"config": config, "batch": b}
        yield f"unet_{config}_b{b}_fwd", shape, 0, 0, fwd
        yield f"unet_{config}_b{b}_fwdbwd", shape, 0, 0, fwd_bwd


def step_cases():
    for config in ("mnist", "cifar10"):
        w = Workload(config, TRAIN_BATCH[config], True)
        yield f"train_{config}_b{w.batch}", {"config": config, "batch": w.batch}, 0, 0, w.train_step
    for config in ("mnist", "cifar10"):
        w = Workload(config, 16, False)
        x = w.noise()
        yield f"sample_{config}_b16", {"config": config, "batch": 16}, 0, 0, lambda w=w, x=x: w.sample_step(x, 500)


def fused_cases():
    for n, d in ((16, 3072), (64, 262144)):
        x0, eps, z = torch.rand(n, d) * 2 - 1, torch.randn(n, d), torch.randn(n, d)
        a, b = torch.rand(n, 1), torch.rand(n, 1)
        yield f"qsample_{n}x{d}", {"n": n, "d": d}, 0, 12 * n * d, lambda x0=x0, eps=eps, a=a, b=b: x0 * a + eps * b
        col = [torch.full((n, 1), v) for v in (1.4142, 1.0, 0.0061, 0.9935, 0.0998)]

        def ancestral(x=x0, eps=eps, z=z, col=col):
            x0_ = (x * col[0] - eps * col[1]).clamp_(-1, 1)
            return x0_ * col[2] + x * col[3] + z * col[4]

        yield f"ancestral_{n}x{d}", {"n": n, "d": d}, 0, 16 * n * d, ancestral
    for p in (1048576, 35746307):
        param = torch.nn.Parameter(torch.randn(p))
        param.grad = torch.randn(p)
        opt = torch.optim.Adam([param], lr=2e-4, betas=(0.9, 0.999), eps=1e-8)
        shadow = param.detach().clone()

        def ema(shadow=shadow, param=param):
            with torch.no_grad():
                shadow.mul_(0.9999).add_(param, alpha=1 - 0.9999)

        yield f"adam_{p}", {"P": p}, 0, 28 * p, opt.step
        yield f"ema_{p}", {"P": p}, 0, 12 * p, ema


def gpu_peaks():
    """What "% of peak" divides by on a GPU: an FP32 8192^3 GEMM (TF32 off) and a 1 GiB device-to-device copy."""
    n, tf32 = 8192, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    gemm_ms = min(peer_ops.timed(lambda: (torch.mm(a, b, out=c), SYNC()), 10, 3, 10.0))
    torch.backends.cuda.matmul.allow_tf32 = tf32
    x = torch.empty(1 << 28)
    y = torch.empty_like(x)
    copy_ms = min(peer_ops.timed(lambda: (y.copy_(x), SYNC()), 20, 3, 10.0))
    print(f"gpu peaks: FP32 GEMM {2 * n ** 3 / gemm_ms / 1e9:.1f} TFLOP/s, copy {8 * (1 << 28) / copy_ms / 1e6:.0f} GB/s",
          file=sys.stderr)
    return {"fp32_gemm_gflops": round(2 * n ** 3 / gemm_ms / 1e6, 1), "copy_gbs": round(8 * (1 << 28) / copy_ms / 1e6, 1)}


def loop(op, total, max_steps, budget_s, step):
    """Runs steps 0.. of a loop of `total` (at most max_steps, stopping past budget_s once 3 ran) and scales the time."""
    t0 = time.perf_counter()
    done = 0
    while done < min(total, max_steps):
        step(done)
        done += 1
        if done >= 3 and time.perf_counter() - t0 > budget_s:
            break
    ms = (time.perf_counter() - t0) * 1e3 * total / done
    print(f"{op}: {ms:.0f} ms ({done} of {total} steps run)", file=sys.stderr)
    return {"op": op, "steps": total, "steps_run": done, "ms": round(ms, 1), "images_per_s": round(16e3 / ms, 5),
            "extrapolated": done != total}


def sampling_runs(args):
    """DDIM-50 and 1000-step ancestral sampling of 16 images (EndToEnd.sampling's twin): the 1000-step loop runs
    --ddpm-steps steps, and a loop past --sampling-budget seconds stops; both are scaled to the full count."""
    out = []
    steps = T if args.full_sampling else args.ddpm_steps
    budget = float("inf") if args.full_sampling else args.sampling_budget
    for config in ("mnist", "cifar10"):
        if args.only and args.only not in f"ddim50_{config} ddpm1000_{config}":
            continue
        w = Workload(config, 16, False)
        torch.manual_seed(3)
        x = [w.noise()]
        for t in (999, 998):  # warm-up: first-call allocations and oneDNN primitive creation
            w.sample_step(x[0], t)
        ts = [(49 - i) * (T // 50) for i in range(50)]  # DdimSampler's "leading" spacing: 980, 960, ..., 0

        def ddim(i):
            x[0] = w.ddim_step(x[0], ts[i], ts[i + 1] if i + 1 < len(ts) else -1)
            SYNC()

        def ancestral(i):
            x[0] = w.sample_step(x[0], T - 1 - i)
            SYNC()

        out.append(loop(f"ddim50_{config}_b16", 50, 50, budget, ddim))
        out.append(loop(f"ddpm1000_{config}_b16", T, steps, budget, ancestral))
    return out


def rss_child(name):
    """Runs one end-to-end workload a few times in this (fresh) process and prints its peak resident set in MiB."""
    kind, config = name.split("_")[:2]
    if kind == "train":
        w = Workload(config, TRAIN_BATCH[config], True)
        for _ in range(2):
            w.train_step()
    else:
        w = Workload(config, 16, False)
        x = w.noise()
        for t in (999, 998, 997):
            x = w.sample_step(x, t)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork + exec, so a child of a big parent would report the parent's
    with open("/proc/self/status") as f:
        hwm_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"workload": name, "peak_rss_mib": hwm_kb / 1024,
                      "parameters": sum(p.numel() for p in w.model.parameters())}))


def peak_rss(args):
    out = []
    for name in ("train_mnist_b16", "train_cifar10_b8", "sample_mnist_b16", "sample_cifar10_b16"):
        if args.only and args.only not in name:
            continue
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--rss-child", name, "--threads", str(args.threads)],
                           capture_output=True, text=True, check=True)
        out.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(f"peak RSS {name}: {out[-1]['peak_rss_mib']:.0f} MiB", file=sys.stderr)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 repetitions, short budgets, 5 sampling steps")
    ap.add_argument("--only", default="", help="run only workloads whose name contains this")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--reps", type=int, default=20, help="timed repetitions per workload (default 20)")
    ap.add_argument("--model-reps", type=int, default=20, help="at most this many for U-Net-level workloads (default 20)")
    ap.add_argument("--budget", type=float, default=8.0, help="seconds per workload before stopping early (default 8)")
    ap.add_argument("--ddpm-steps", type=int, default=100, help="steps of the 1000-step loop actually run (default 100)")
    ap.add_argument("--sampling-budget", type=float, default=120.0,
                    help="seconds after which a sampling loop stops and is scaled (default 120)")
    ap.add_argument("--full-sampling", action="store_true", help="run all 1000 ancestral steps, no time budget")
    ap.add_argument("--part", choices=("all", "ops", "models", "end2end"), default="all",
                    help="ops: kernels, layers and fused updates; models: U-Net and DDPM steps; end2end: sampling runs "
                         "and peak memory (bench/run.sh runs each right after ddpm4j's same part)")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda (needs PyTorch 2.x built with CUDA)")
    ap.add_argument("--tf32", action="store_true", help="with --device cuda: let cuDNN and cuBLAS use TF32 tensor cores")
    ap.add_argument("--rss-child", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.device != "cpu":
        global SYNC
        if not torch.cuda.is_available():
            sys.exit(f"peer.py: --device {args.device} but torch {torch.__version__} sees no CUDA device")
        torch.set_default_device(args.device)  # every tensor and parameter below is made on the GPU
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.benchmark = False
        SYNC = torch.cuda.synchronize
    if args.rss_child:
        rss_child(args.rss_child)
        return
    if args.quick:
        args.reps, args.budget, args.ddpm_steps, args.sampling_budget = 2, 1.0, 5, 10.0
    torch.manual_seed(0)
    results = []
    parts = {"ops": (peer_ops.gemm_cases, peer_ops.conv_cases, peer_ops.groupnorm_cases, attention_cases, fused_cases),
             "models": (unet_cases, step_cases), "end2end": ()}
    families = parts[args.part] if args.part != "all" else parts["ops"] + parts["models"]
    for family in families:
        for name, shape, flops, nbytes, fn in family():
            if args.only and args.only not in name:
                continue
            big = family in (unet_cases, step_cases)   # seconds per call on a loaded machine: one warm-up call
            if args.device != "cpu":
                fn = lambda f=fn: (f(), SYNC())  # noqa: E731
            ms = peer_ops.timed(fn, min(args.reps, args.model_reps) if big else args.reps, 1 if args.quick or big else 2,
                                args.budget)
            lo, med = min(ms), statistics.median(ms)
            r = {"op": name, "shape": shape, "reps": len(ms), "min_ms": round(lo, 4), "median_ms": round(med, 4)}
            if flops:
                r["gflops_median"] = round(flops / med / 1e6, 2)
            if nbytes:
                r["gbs_median"] = round(nbytes / med / 1e6, 2)
            results.append(r)
            print(f"{name:44s} min {lo:9.3f} ms  median {med:9.3f} ms  ({len(ms)} reps)", file=sys.stderr)
    sampling = sampling_runs(args) if args.part in ("all", "end2end") else []
    rss = peak_rss(args) if args.part in ("all", "end2end") and args.device == "cpu" else []
    env = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    gpu = torch.cuda.get_device_name() if args.device != "cpu" else None
    peaks = gpu_peaks() if gpu and args.part in ("all", "ops") else None
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "device": args.device, "gpu": gpu,
                      "tf32": args.tf32 if gpu else None, "gpu_peaks": peaks,
                      "mkldnn": torch.backends.mkldnn.is_available(), "machine": platform.processor() or platform.machine(),
                      "cpus": os.cpu_count(), "env": env, "results": results, "sampling": sampling, "peak_rss": rss},
                     indent=1))


if __name__ == "__main__":
    main()
