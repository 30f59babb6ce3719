// SPDX-License-Identifier: Apache-2.0
// A seeded position in the Philox stream: each draw takes the next block-aligned range of counters, so the state is
// two longs (seed, offset), which checkpoints save to resume a run with exactly the same random numbers.
package ddpm4j.core;

/** Random number state for {@link Tensor#randn} and friends. Not thread-safe: one per thread or per run. */
public final class Generator {
    private final long seed;
    private long offset;

    public Generator(long seed) { this(seed, 0); }

    public Generator(long seed, long offset) {
        this.seed = seed;
        this.offset = offset;
    }

    public long seed() { return seed; }

    /** Counter position of the next draw, in elements (always a multiple of 4). */
    public long offset() { return offset; }

    /** Reserves {@code n} elements of the stream and returns their start offset. */
    public long advance(long n) {
        long start = offset;
        offset += (n + 3) & ~3L;   // next draw starts on a fresh Philox block
        return start;
    }

    /** A uniform integer in [0, bound) from the stream (host side, e.g. timesteps, shuffles). */
    public int nextInt(int bound) {
        if (bound <= 0) throw new IllegalArgumentException("bound must be positive, got " + bound);
        int[] w = new int[4];
        Philox.block(seed, advance(4) >>> 2, w);
        long r = ((w[0] & 0xFFFFFFFFL) << 32) | (w[1] & 0xFFFFFFFFL);
        return (int) Long.remainderUnsigned(r, bound);
    }

    /** A uniform float in [0, 1) (host side). */
    public float nextFloat() {
        int[] w = new int[4];
        Philox.block(seed, advance(4) >>> 2, w);
        return Philox.uniform(w[0]);
    }

    @Override
    public String toString() { return "Generator(seed=" + seed + ", offset=" + offset + ")"; }
}
