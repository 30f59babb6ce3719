// SPDX-License-Identifier: Apache-2.0
// Exponential moving average of parameters (the paper samples from EMA weights, decay 0.9999).
package ddpm4j.core.optim;

import ddpm4j.core.Tensor;
import java.util.ArrayList;
import java.util.List;

/** shadow = decay * shadow + (1 - decay) * param, one fused kernel per parameter. */
public final class Ema implements AutoCloseable {
    private final List<Tensor> params;
    private final List<Tensor> shadow = new ArrayList<>();
    private final float decay;

    public Ema(List<Tensor> params, float decay) {
        if (!(decay >= 0 && decay <= 1)) throw new IllegalArgumentException("ema: decay must be in [0, 1], got " + decay);
        this.params = List.copyOf(params);
        this.decay = decay;
        for (Tensor p : this.params) shadow.add(Tensor.empty(p.backend(), p.dtype(), p.shape()).detachFromScope().copyFrom(p));
    }

    public float decay() { return decay; }

    public void update() {
        for (int i = 0; i < params.size(); i++) params.get(i).backend().emaUpdate(shadow.get(i), params.get(i), decay);
    }

    /** The averaged copy of parameter i (same order as given). */
    public List<Tensor> shadow() { return shadow; }

    @Override
    public void close() { shadow.forEach(Tensor::close); }
}
