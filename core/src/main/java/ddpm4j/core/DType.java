// SPDX-License-Identifier: Apache-2.0
// Element types of tensors. F32 is what models run in; F64 exists for the reference backend's gradient checks.
package ddpm4j.core;

/** Element type of a {@link Tensor}. Fast backends support {@link #F32} only; the reference backend also {@link #F64}. */
public enum DType {
    F32(4), F64(8);

    private final int bytes;

    DType(int bytes) { this.bytes = bytes; }

    /** Size of one element in bytes. */
    public int bytes() { return bytes; }
}
