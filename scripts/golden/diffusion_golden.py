# SPDX-License-Identifier: Apache-2.0
# Independent float64 reference for diffusion/src/test: schedule constants (linear and cosine, written from the
# papers' formulas) and the variational bound (Ho et al. 2020 Eq. 5 and 13) of a fixed dummy model on fixed noise.
# Output: diffusion/src/test/resources/golden/diffusion.json. Run: /usr/bin/python3 scripts/golden/diffusion_golden.py
import json, math, os
import numpy as np

def linear_betas(T, b0, b1):
    return np.array([b0 + (b1 - b0) * i / (T - 1) for i in range(T)], dtype=np.float64)

def cosine_betas(T, s=0.008):
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    return np.array([min(1 - f((i + 1) / T) / f(i / T), 0.999) for i in range(T)], dtype=np.float64)

def constants(betas):
    alphas = 1 - betas
    ab = np.cumprod(alphas)
    abp = np.concatenate([[1.0], ab[:-1]])
    post_var = betas * (1 - abp) / (1 - ab)
    return dict(beta=betas, alphaBar=ab, alphaBarPrev=abp, posteriorVariance=post_var,
                posteriorLogVarianceClipped=np.log(np.concatenate([[post_var[1]], post_var[1:]])),
                posteriorMeanCoef1=betas * np.sqrt(abp) / (1 - ab),
                posteriorMeanCoef2=(1 - abp) * np.sqrt(alphas) / (1 - ab))

def pick(c, idx):
    return {k: {str(i): float(v[i]) for i in idx} for k, v in c.items()}

def cdf(x):  # the tanh approximation of the original DDPM code
    return 0.5 * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * np.power(x, 3))))

def vb(T, b0, b1, var_type, clip, pixels, shape):
    c = constants(linear_betas(T, b0, b1))
    betas, ab = c["beta"], c["alphaBar"]
    n = shape[0]; d = int(np.prod(shape[1:]))
    x0 = (np.float32(pixels) / np.float32(127.5) - np.float32(1)).astype(np.float64).reshape(n, d)
    log2 = math.log(2) * d
    kl = lambda m1, lv1, m2, lv2: 0.5 * (-1 + lv2 - lv1 + np.exp(lv1 - lv2) + (m1 - m2) ** 2 * np.exp(-lv2))
    prior = kl(np.sqrt(ab[-1]) * x0, math.log(1 - ab[-1]), 0.0, 0.0).sum(1) / log2
    if var_type == "fixed_small":
        model_lv = c["posteriorLogVarianceClipped"]
    else:
        model_lv = np.log(np.concatenate([[c["posteriorVariance"][1]], betas[1:]]))
    steps = np.zeros((T, n))
    k = np.arange(n * d).reshape(n, d)
    for t in range(T - 1, -1, -1):
        eps = (1.5 * np.sin(0.37 * k + 1.3 * t)).astype(np.float32).astype(np.float64)
        xt = (math.sqrt(ab[t]) * x0 + math.sqrt(1 - ab[t]) * eps).astype(np.float32).astype(np.float64)
        eps_hat = np.tanh(0.8 * xt + 0.01 * t)                      # the dummy model, in float64
        x0_hat = xt / math.sqrt(ab[t]) - math.sqrt(1 / ab[t] - 1) * eps_hat
        if clip:
            x0_hat = np.clip(x0_hat, -1, 1)
        m1, m2 = c["posteriorMeanCoef1"][t], c["posteriorMeanCoef2"][t]
        model_mean = m1 * x0_hat + m2 * xt
        if t == 0:
            inv = np.exp(-0.5 * model_lv[0]); cen = x0 - model_mean
            cp, cm = cdf(inv * (cen + 1 / 255)), cdf(inv * (cen - 1 / 255))
            lp = np.where(x0 < -0.999, np.log(np.maximum(cp, 1e-12)),
                          np.where(x0 > 0.999, np.log(np.maximum(1 - cm, 1e-12)), np.log(np.maximum(cp - cm, 1e-12))))
            steps[t] = -lp.sum(1) / log2
        else:
            steps[t] = kl(m1 * x0 + m2 * xt, c["posteriorLogVarianceClipped"][t], model_mean, model_lv[t]).sum(1) / log2
    total = prior + steps.sum(0)
    return dict(T=T, beta_start=b0, beta_end=b1, variance_type=var_type, clip=clip, shape=shape,
                pixels=[int(p) for p in pixels], prior=prior.tolist(), decoder=steps[0].tolist(),
                steps=steps.mean(1).tolist(), total=total.tolist())

if __name__ == "__main__":
    rng = np.random.RandomState(7)
    shape = [2, 1, 4, 4]
    pixels = rng.randint(0, 256, size=int(np.prod(shape)))
    pixels[:3] = [0, 255, 128]                                      # both open edge bins and a middle bin
    out = dict(
        linear=pick(constants(linear_betas(1000, 1e-4, 0.02)), [0, 1, 487, 999]),
        cosine=pick(constants(cosine_betas(1000)), [0, 1, 500, 999]),
        vb_small=vb(10, 1e-3, 0.3, "fixed_small", True, pixels, shape),
        vb_large=vb(10, 1e-3, 0.3, "fixed_large", False, pixels, shape))
    path = os.path.join(os.path.dirname(__file__), "../../diffusion/src/test/resources/golden/diffusion.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", os.path.normpath(path))
