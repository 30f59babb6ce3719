// SPDX-License-Identifier: Apache-2.0
// Inverted dropout: active only in training mode, masks drawn from a Philox Generator.
package ddpm4j.nn;

import ddpm4j.core.Generator;
import ddpm4j.core.Tensor;

/** Zeroes each element with probability p and scales the rest by 1/(1-p) in training; identity in eval mode. */
public final class Dropout extends Module {
    private final double p;
    private Generator gen;

    /** @param gen source of the masks (may be null when p == 0) */
    public Dropout(double p, Generator gen) {
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("Dropout: probability must be in [0, 1), got " + p);
        this.p = p;
        this.gen = gen;
    }

    public Tensor forward(Tensor x) {
        if (!isTraining() || p == 0) return x;
        if (gen == null) throw new IllegalStateException("Dropout(p=" + p + ") in training mode needs a Generator");
        return x.dropout(p, gen);
    }

    public double p() { return p; }

    /** Replaces the mask generator (for example to resume a run). */
    public void setGenerator(Generator g) { gen = g; }
}
