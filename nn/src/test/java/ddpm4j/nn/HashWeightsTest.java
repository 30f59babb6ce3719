// SPDX-License-Identifier: Apache-2.0
// HashWeights regenerates the Python hash weights bit for bit: the committed small checkpoint, and the CIFAR-10
// weights' SHA-256 recorded by scripts/golden/unet_golden.py.
package ddpm4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ddpm4j.core.Backends;
import ddpm4j.core.io.SafeTensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class HashWeightsTest {
    @Test
    void smallCheckpointIsTheHashWeightsBitForBit() throws Exception {
        var dir = Golden.dir("unet-small");
        long seed;
        try (SafeTensors io = SafeTensors.open(dir.resolve("io.safetensors"))) {
            seed = Long.parseLong(io.metadata().get("seed"));
        }
        try (SafeTensors st = SafeTensors.open(dir.resolve(DiffusersCheckpoint.WEIGHTS))) {
            Map<String, int[]> shapes = new LinkedHashMap<>();
            for (var info : st.infos()) shapes.put(info.name(), toInt(info.shape()));
            for (var e : shapes.entrySet()) {
                float[] want = st.readF32(e.getKey()), got = HashWeights.values(e.getKey(), e.getValue(), shapes, seed);
                for (int i = 0; i < want.length; i++)
                    if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i]))
                        throw new AssertionError(e.getKey() + "[" + i + "]: " + got[i] + ", Python wrote " + want[i]);
            }
        }
    }

    @Test
    void cifar10WeightsMatchThePythonChecksum() throws Exception {
        var dir = Golden.dir("unet-cifar10");
        String want;
        long seed;
        try (SafeTensors io = SafeTensors.open(dir.resolve("io.safetensors"))) {
            want = io.metadata().get("weights_sha256");
            seed = Long.parseLong(io.metadata().get("seed"));
        }
        Map<String, int[]> shapes = new TreeMap<>();   // sorted by name, as the Python checksum
        try (UNet2DModel m = new UNet2DModel(UNetConfig.cifar10(), Backends.get("reference"), null)) {
            m.stateDict().forEach((k, v) -> shapes.put(k, v.shape()));
        }
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (var e : shapes.entrySet()) {
            sha.update(e.getKey().getBytes(StandardCharsets.UTF_8));
            float[] v = HashWeights.values(e.getKey(), e.getValue(), shapes, seed);
            ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(v);
            sha.update(b);
        }
        assertEquals(want, HexFormat.of().formatHex(sha.digest()));
    }

    @Test
    void knownValues() {
        // fnv1a64("") is the offset basis; splitmix64's first output for seed 0 is 0xE220A8397B1DCDAF.
        assertEquals(0xCBF29CE484222325L, HashWeights.fnv1a64(new byte[0]));
        assertEquals(0xE220A8397B1DCDAFL, HashWeights.mix(0x9E3779B97F4A7C15L));
        Map<String, int[]> shapes = Map.of("n.weight", new int[] {3}, "n.bias", new int[] {3});
        for (float v : HashWeights.values("n.weight", new int[] {3}, shapes, 1)) assertEquals(1.0, v, 0.25);
        for (float v : HashWeights.values("n.bias", new int[] {3}, shapes, 1)) assertEquals(0.0, v, 0.25);
    }

    private static int[] toInt(long[] s) {
        int[] r = new int[s.length];
        for (int i = 0; i < s.length; i++) r[i] = Math.toIntExact(s[i]);
        return r;
    }
}
