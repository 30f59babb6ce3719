// SPDX-License-Identifier: Apache-2.0
// CPU elementwise kernels (fill, copy, unary, binary with broadcast views, affine) against the reference backend.
package ddpm4j.core.cpu;

import ddpm4j.core.Backend.BinaryOp;
import ddpm4j.core.Backend.UnaryOp;
import ddpm4j.core.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static ddpm4j.core.cpu.CpuCheck.be;
import static ddpm4j.core.testing.Close.assertClose;

class CpuElementwiseTest {
    static final int[][] SHAPES = {{1}, {7, 33}, {3, 1000}, {2, 3, 5, 7}};

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void unaryMatchesReference(UnaryOp op) {
        boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT;
        for (int[] shape : SHAPES) {
            Tensor[] x = positive ? CpuCheck.uniform(5, 0.05, 4, shape) : CpuCheck.uniform(5, -6, 6, shape);
            Tensor[] out = CpuCheck.empty(shape);
            for (int i = 0; i < 2; i++) be(i).unary(op, out[i], x[i]);
            // Vector API transcendental functions are within a few ulp of the correctly rounded result
            assertClose(op + " " + java.util.Arrays.toString(shape), out[0], out[1], 1e-6, 2e-6);
        }
    }

    /**
     * A contiguous tensor longer than CpuStrided.PIECE is cut into pieces run on both cores: every element must come
     * out with the same bits as when its part of the tensor runs alone on one thread, for every op.
     */
    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void longRowsCutIntoPiecesGiveTheSameBits(UnaryOp op) {
        int n = 3 * CpuStrided.PIECE + 1003, part = 1000;                  // 4 pieces; parts not vector-aligned
        boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT;
        Tensor x = (positive ? CpuCheck.uniform(6, 0.05, 4, n) : CpuCheck.uniform(6, -6, 6, n))[1];
        Tensor y = CpuCheck.normal(7, n)[1];
        Tensor[] whole = {CpuCheck.empty(n)[1], CpuCheck.empty(n)[1], CpuCheck.empty(n)[1]};
        Tensor[] parts = {CpuCheck.empty(n)[1], CpuCheck.empty(n)[1], CpuCheck.empty(n)[1]};
        CpuCheck.CPU.unary(op, whole[0], x);
        CpuCheck.CPU.binary(BinaryOp.values()[op.ordinal() % BinaryOp.values().length], whole[1], x, y);
        CpuCheck.CPU.affine(whole[2], x, 0.75, -0.5);
        for (int at = 0; at < n; at += part) {
            int end = Math.min(n, at + part);
            CpuCheck.CPU.unary(op, parts[0].slice(0, at, end), x.slice(0, at, end));
            CpuCheck.CPU.binary(BinaryOp.values()[op.ordinal() % BinaryOp.values().length], parts[1].slice(0, at, end),
                    x.slice(0, at, end), y.slice(0, at, end));
            CpuCheck.CPU.affine(parts[2].slice(0, at, end), x.slice(0, at, end), 0.75, -0.5);
        }
        for (int k = 0; k < 3; k++) {
            float[] w = whole[k].toFloatArray(), p = parts[k].toFloatArray();
            for (int i = 0; i < n; i++)
                if (Float.floatToRawIntBits(w[i]) != Float.floatToRawIntBits(p[i]))
                    org.junit.jupiter.api.Assertions.fail(op + " kernel " + k + " at " + i + ": whole " + w[i] + ", in parts " + p[i]);
        }
        Tensor[] ref = CpuCheck.empty(n);
        Tensor xr = (positive ? CpuCheck.uniform(6, 0.05, 4, n) : CpuCheck.uniform(6, -6, 6, n))[0];
        CpuCheck.REF.unary(op, ref[0], xr);
        assertClose(op + " long row vs reference", ref[0], whole[0], 1e-6, 2e-6);
    }

    @ParameterizedTest
    @EnumSource(BinaryOp.class)
    void binaryWithBroadcastMatchesReference(BinaryOp op) {
        Tensor[] a = CpuCheck.normal(1, 3, 1, 33), b = CpuCheck.normal(2, 3, 7, 33), c = CpuCheck.normal(3, 1, 7, 1);
        Tensor[] out = CpuCheck.empty(3, 7, 33), out2 = CpuCheck.empty(3, 7, 33), out3 = CpuCheck.empty(3, 7, 33);
        for (int i = 0; i < 2; i++) {
            be(i).binary(op, out[i], a[i].expand(3, 7, 33), b[i]);             // row broadcast (stride 0 inside)
            be(i).binary(op, out2[i], b[i], c[i].expand(3, 7, 33));            // scalar per row
            be(i).binary(op, out3[i], b[i], b[i]);                               // a == b exercises EQ/GT
        }
        assertClose(op + " row broadcast", out[0], out[1], 1e-6, 1e-6);
        assertClose(op + " column broadcast", out2[0], out2[1], 1e-6, 1e-6);
        assertClose(op + " same", out3[0], out3[1], 1e-6, 1e-6);
    }

    @Test
    void binaryOnTransposedViews() {
        Tensor[] a = CpuCheck.normal(4, 33, 7), b = CpuCheck.normal(5, 7, 33);
        Tensor[] out = CpuCheck.empty(7, 33);
        for (int i = 0; i < 2; i++) be(i).binary(BinaryOp.MUL, out[i], a[i].transpose(0, 1), b[i]);
        assertClose("mul transposed", out[0], out[1], 1e-6, 1e-6);
    }

    @Test
    void transposingCopies() {
        Tensor[] x = CpuCheck.normal(7, 4, 40, 35), y = CpuCheck.normal(8, 2, 3, 20, 17), z = CpuCheck.normal(9, 16, 16);
        Tensor[] ox = CpuCheck.empty(4, 35, 40), oy = CpuCheck.empty(2, 17, 3, 20), oz = CpuCheck.empty(16, 16);
        for (int i = 0; i < 2; i++) {
            be(i).copy(ox[i], x[i].transpose(1, 2));
            be(i).copy(oy[i], y[i].permute(0, 3, 1, 2));
            be(i).copy(oz[i], z[i].transpose(0, 1));
        }
        assertClose("transpose (4, 40, 35)", ox[0], ox[1], 0, 0);
        assertClose("permute (2, 3, 20, 17) -> (0, 3, 1, 2)", oy[0], oy[1], 0, 0);
        assertClose("transpose (16, 16)", oz[0], oz[1], 0, 0);
    }

    @Test
    void fillCopyAffine() {
        Tensor[] x = CpuCheck.normal(6, 5, 7, 33);
        Tensor[] copy = CpuCheck.empty(33, 7, 5), aff = CpuCheck.empty(5, 7, 33), fill = CpuCheck.empty(1001);
        for (int i = 0; i < 2; i++) {
            be(i).copy(copy[i], x[i].permute(2, 1, 0));
            be(i).affine(aff[i], x[i], -1.5, 0.25);
            be(i).fill(fill[i], 0.125);
        }
        assertClose("copy of permuted view", copy[0], copy[1], 0, 0);
        assertClose("affine", aff[0], aff[1], 1e-6, 1e-6);
        assertClose("fill", fill[0], fill[1], 0, 0);
        float[] host = new float[5 * 7 * 33];
        x[1].backend().copyToHost(x[1], host, 0);
        assertClose("copyToHost", x[0].toFloatArray(), host, 0, 0);
    }
}
