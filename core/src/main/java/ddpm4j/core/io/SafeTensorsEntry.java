// SPDX-License-Identifier: Apache-2.0
// One tensor to be written by SafeTensors.write: storage dtype, shape and values (float[], long[] or raw bytes).
package ddpm4j.core.io;

import ddpm4j.core.io.SafeTensors.Dtype;
import java.util.Arrays;

/**
 * A tensor for {@link SafeTensors#write}. Exactly one of {@code floats}, {@code longs} and {@code raw} is non-null; the
 * factories check that its length matches the shape. Floats are stored as F32, F16 (round to nearest even), BF16 (round
 * to nearest even) or F64; longs as I64 or I32 (range-checked); raw bytes (little-endian) as any dtype.
 */
public record SafeTensorsEntry(Dtype dtype, long[] shape, float[] floats, long[] longs, byte[] raw) {
    /** Validates the combination; prefer the factories. */
    public SafeTensorsEntry {
        int sources = (floats != null ? 1 : 0) + (longs != null ? 1 : 0) + (raw != null ? 1 : 0);
        if (dtype == null || shape == null || sources != 1) {
            throw new IllegalArgumentException("an entry needs a dtype, a shape and exactly one of floats/longs/raw");
        }
        shape = shape.clone();
        long numel = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            numel = Math.multiplyExact(numel, d);
        }
        if (floats != null && !dtype.isFloat()) {
            throw new IllegalArgumentException("float values cannot be stored as " + dtype);
        }
        if (longs != null && dtype != Dtype.I64 && dtype != Dtype.I32) {
            throw new IllegalArgumentException("long values are stored as I64 or I32, not " + dtype);
        }
        long have = floats != null ? floats.length : longs != null ? longs.length : raw.length / dtype.size;
        if (raw != null && raw.length % dtype.size != 0 || have != numel) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + numel + " elements but "
                    + (raw != null ? raw.length + " bytes of " + dtype : have + " values") + " were given");
        }
    }

    /** Stores {@code values} as F32. */
    public static SafeTensorsEntry f32(long[] shape, float[] values) {
        return new SafeTensorsEntry(Dtype.F32, shape, values, null, null);
    }

    /** Stores {@code values} as F16 (values beyond +-65504 become infinities). */
    public static SafeTensorsEntry f16(long[] shape, float[] values) {
        return new SafeTensorsEntry(Dtype.F16, shape, values, null, null);
    }

    /** Stores {@code values} as BF16. */
    public static SafeTensorsEntry bf16(long[] shape, float[] values) {
        return new SafeTensorsEntry(Dtype.BF16, shape, values, null, null);
    }

    /** Stores {@code values} as I64. */
    public static SafeTensorsEntry i64(long[] shape, long[] values) {
        return new SafeTensorsEntry(Dtype.I64, shape, null, values, null);
    }

    /** Stores raw little-endian bytes as {@code dtype}. */
    public static SafeTensorsEntry raw(Dtype dtype, long[] shape, byte[] bytes) {
        return new SafeTensorsEntry(dtype, shape, null, null, bytes);
    }

    /** Number of elements. */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Size of the stored data in bytes. */
    public long byteSize() {
        return numel() * dtype.size;
    }

    /** A copy of the shape. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** float to bfloat16 bits, rounding to nearest even; NaN stays a quiet NaN. */
    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }
}
