// SPDX-License-Identifier: Apache-2.0
// Adam (Kingma and Ba 2015) with the DDPM settings (lr 2e-4, betas 0.9/0.999, eps 1e-8), a learning-rate schedule
// and an optional gradient scale from global-norm clipping, fused into one backend kernel per parameter.
package ddpm4j.core.optim;

import ddpm4j.core.Shape;
import ddpm4j.core.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongToDoubleFunction;

/** Adam over a fixed list of leaf parameters. Moments are zero-initialised on first use. */
public final class Adam implements AutoCloseable {
    private final List<Tensor> params;
    private final List<Tensor> m = new ArrayList<>(), v = new ArrayList<>();
    private final LongToDoubleFunction lr;
    private final float beta1, beta2, eps;
    private long step;

    /**
     * @param params leaves with {@code requiresGrad}
     * @param lr     learning rate as a function of the 1-based step (see {@link #linearWarmup})
     */
    public Adam(List<Tensor> params, LongToDoubleFunction lr, float beta1, float beta2, float eps) {
        this.params = List.copyOf(params);
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        for (Tensor p : this.params) {
            m.add(Tensor.zeros(p.backend(), p.shape()).detachFromScope());
            v.add(Tensor.zeros(p.backend(), p.shape()).detachFromScope());
        }
    }

    /** The paper's optimizer: lr 2e-4 with {@code warmup} linear warmup steps, betas 0.9/0.999, eps 1e-8. */
    public static Adam ddpm(List<Tensor> params, double lr, long warmup) {
        return new Adam(params, linearWarmup(lr, warmup), 0.9f, 0.999f, 1e-8f);
    }

    /** lr * min(1, step / warmup). */
    public static LongToDoubleFunction linearWarmup(double lr, long warmup) {
        return s -> warmup <= 0 ? lr : lr * Math.min(1.0, (double) s / warmup);
    }

    /** Steps taken so far. */
    public long steps() { return step; }

    /** Learning rate of the next step. */
    public double nextLr() { return lr.applyAsDouble(step + 1); }

    /**
     * One update of every parameter that has a gradient.
     * @param gradScale one-element tensor multiplying all gradients (from {@link GradClip}), or null
     */
    public void step(Tensor gradScale) {
        step++;
        float rate = (float) lr.applyAsDouble(step);
        float bc1 = (float) (1 - Math.pow(beta1, step)), bc2 = (float) (1 - Math.pow(beta2, step));
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            if (p.grad() == null) continue;
            p.backend().adamUpdate(p, p.grad(), m.get(i), v.get(i), gradScale, rate, beta1, beta2, eps, bc1, bc2);
        }
    }

    /** Zeroes gradient buffers in place (kept for reuse rather than freed). */
    public void zeroGrad() {
        for (Tensor p : params) if (p.grad() != null) p.grad().fill(0);
    }

    /**
     * Frees the gradient buffers (PyTorch's {@code zero_grad(set_to_none=True)}): they hold no memory between steps,
     * and the next backward pass takes each parameter's gradient over without a copy or a zero fill.
     */
    public void releaseGrads() {
        for (Tensor p : params) if (p.grad() != null) p.setGrad(null);
    }

    /** First and second moments by parameter index ("m.3", "v.3") and the step count, for checkpoints. */
    public Map<String, Tensor> moments() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) {
            out.put("m." + i, m.get(i));
            out.put("v." + i, v.get(i));
        }
        return out;
    }

    /** Restores moments saved by {@link #moments()} (host float arrays keyed the same way) and the step count. */
    public void load(Map<String, float[]> moments, long steps) {
        for (int i = 0; i < params.size(); i++) {
            for (String kind : new String[] {"m", "v"}) {
                String key = kind + "." + i;
                float[] data = moments.get(key);
                Tensor dst = (kind.equals("m") ? m : v).get(i);
                if (data == null) throw new IllegalArgumentException("optimizer state: missing " + key);
                if (data.length != dst.numel())
                    throw new IllegalArgumentException("optimizer state: " + key + " has " + data.length + " values, expected "
                            + dst.numel() + " for parameter shape " + Shape.str(dst.shape()));
                dst.backend().copyFromHost(dst, data, 0);
            }
        }
        this.step = steps;
    }

    @Override
    public void close() {
        m.forEach(Tensor::close);
        v.forEach(Tensor::close);
    }
}
