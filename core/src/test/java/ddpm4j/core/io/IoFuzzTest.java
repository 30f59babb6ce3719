// SPDX-License-Identifier: Apache-2.0
// Jazzer fuzz targets for the safetensors and JSON readers. `mvn test` replays the seed corpus in
// src/test/resources/ddpm4j/core/io/IoFuzzTestInputs/; JAZZER_FUZZ=1 fuzzes (see docs/FORMATS.md).
package ddpm4j.core.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.lang.foreign.MemorySegment;

class IoFuzzTest {
    /** Any bytes: either a valid file whose every tensor reads, or a FormatException; anything else is a finding. */
    @FuzzTest(maxDuration = "2m")
    void safetensors(byte[] data) {
        try (var st = SafeTensors.parse(MemorySegment.ofArray(data), "fuzz.safetensors")) {
            for (var info : st.infos()) {
                if (info.dtype().isFloat()) {
                    st.readF32(info.name());
                } else if (info.dtype() != SafeTensors.Dtype.U64 && info.dtype().size > 1
                        || info.dtype() == SafeTensors.Dtype.U8) {
                    st.readI64(info.name());
                }
                st.segment(info.name());
            }
            st.metadata();
        } catch (FormatException expected) {
            FuzzChecks.namesSource(expected, "fuzz.safetensors");
        }
    }

    /** Any bytes as JSON text: a value that writes back and re-parses to the same value, or a FormatException. */
    @FuzzTest(maxDuration = "2m")
    void json(byte[] data) {
        Object v;
        try {
            v = Json.parse(data, "fuzz.json");
        } catch (FormatException expected) {
            FuzzChecks.namesSource(expected, "fuzz.json");
            return;
        }
        try {
            Object again = Json.parse(Json.write(v), "rewritten.json");
            if (!java.util.Objects.equals(again, v)) {
                throw new AssertionError("round trip changed the value: " + v + " -> " + again);
            }
        } catch (FormatException e) {
            throw new AssertionError("Json.write produced text Json.parse rejects", e);
        } catch (IllegalArgumentException e) {
            throw new AssertionError("Json.write rejected a parsed value", e);
        }
    }
}
