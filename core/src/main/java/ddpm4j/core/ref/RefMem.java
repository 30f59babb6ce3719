// SPDX-License-Identifier: Apache-2.0
// Element access for the reference backend: any dtype, any strides, read and written as double.
package ddpm4j.core.ref;

import ddpm4j.core.DType;
import ddpm4j.core.Tensor;
import ddpm4j.core.mem.HostStorage;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A tensor argument seen as a flat double array (contiguous tensors: element i at offset + i). */
final class RefMem {
    private final MemorySegment seg;
    private final boolean f64;
    private final long offset;
    private final int[] shape;
    private final long[] strides;
    private final boolean contiguous;

    RefMem(Tensor t) {
        this.seg = ((HostStorage) t.storage()).segment();
        this.f64 = t.dtype() == DType.F64;
        this.offset = t.offset();
        this.shape = t.shape();
        this.strides = t.strides();
        this.contiguous = t.isContiguous();
    }

    static RefMem of(Tensor t) { return t == null ? null : new RefMem(t); }

    /** Element {@code i} in row-major order of the tensor's shape (honours strides). */
    double get(long i) { return raw(contiguous ? offset + i : index(i)); }

    void set(long i, double v) {
        long at = contiguous ? offset + i : index(i);
        if (f64) seg.setAtIndex(ValueLayout.JAVA_DOUBLE, at, v);
        else seg.setAtIndex(ValueLayout.JAVA_FLOAT, at, (float) v);
    }

    void add(long i, double v) { set(i, get(i) + v); }

    /** Raw storage element (for batched matmul with explicit strides). */
    double raw(long at) {
        return f64 ? seg.getAtIndex(ValueLayout.JAVA_DOUBLE, at) : seg.getAtIndex(ValueLayout.JAVA_FLOAT, at);
    }

    long offset() { return offset; }

    private long index(long linear) {
        long at = offset;
        for (int d = shape.length - 1; d >= 0; d--) {
            long c = linear % shape[d];
            linear /= shape[d];
            at += c * strides[d];
        }
        return at;
    }
}
