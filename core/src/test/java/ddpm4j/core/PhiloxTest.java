// SPDX-License-Identifier: Apache-2.0
// Philox4x32-10 against the Random123 known-answer vectors, stream properties, and the float-only math of its normals.
package ddpm4j.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PhiloxTest {
    @Test
    void knownAnswerVectors() {   // Random123's kat_vectors for philox4x32_10
        int[] w = new int[4];
        Philox.block(0, 0, 0, 0, 0, 0, w);
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, w);
        Philox.block(-1, -1, -1, -1, -1, -1, w);
        assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}, w);
        Philox.block(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, w);
        assertArrayEquals(new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}, w);
    }

    @Test
    void streamDependsOnlyOnPosition() {
        float[] whole = new float[37], parts = new float[37];
        Philox.normal(7, 5, whole, 0, 37);
        Philox.normal(7, 5, parts, 0, 13);
        Philox.normal(7, 18, parts, 13, 24);
        assertArrayEquals(whole, parts);
        Philox.uniform(7, 3, whole, 0, 37);
        Philox.uniform(7, 3, parts, 0, 1);
        Philox.uniform(7, 4, parts, 1, 36);
        assertArrayEquals(whole, parts);
    }

    @Test
    void normalsHaveUnitMoments() {
        int n = 200_000;
        float[] z = new float[n];
        Philox.normal(123, 0, z, 0, n);
        double s = 0, s2 = 0, s4 = 0;
        for (float v : z) { s += v; s2 += v * v; s4 += (double) v * v * v * v; }
        assertEquals(0, s / n, 0.01);
        assertEquals(1, s2 / n, 0.01);
        assertEquals(3, s4 / n, 0.05);
    }

    @Test
    void floatOnlyMathIsAccurate() {
        double worstLog = 0, worstTrig = 0;
        for (int i = 1; i <= (1 << 24); i += 997) {
            float u = i * 0x1p-24f;
            worstLog = Math.max(worstLog, Math.abs(Philox.log(u) - Math.log(u)) / Math.max(1, Math.abs(Math.log(u))));
            worstTrig = Math.max(worstTrig, Math.abs(Philox.sin2pi(u) - Math.sin(2 * Math.PI * u)));
            worstTrig = Math.max(worstTrig, Math.abs(Philox.cos2pi(u) - Math.cos(2 * Math.PI * u)));
        }
        assertTrue(worstLog < 5e-7, "log error " + worstLog);
        assertTrue(worstTrig < 5e-7, "sin/cos error " + worstTrig);
    }
}
