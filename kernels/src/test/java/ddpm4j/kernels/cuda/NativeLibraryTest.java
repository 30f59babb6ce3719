// SPDX-License-Identifier: Apache-2.0
// A missing CUDA library turns into one clear sentence (runs everywhere, no CUDA needed).
package ddpm4j.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class NativeLibraryTest {
    @Test
    void missingLibraryIsOneClearSentence() {
        NativeLibrary lib = NativeLibrary.open("CUDA driver", "ddpm4j.test.unset.path", "libcuda_absent_for_test.so.1");
        assertTrue(!lib.loaded() && lib.failure().startsWith("CUDA driver not found (libcuda_absent_for_test.so.1): "), lib.failure());
        CudaException e = assertThrows(CudaException.class, lib::require);
        assertEquals(lib.failure(), e.getMessage());
    }

    @Test
    void explicitPathIsNamedInTheSentence() {
        System.setProperty("ddpm4j.test.bogus.path", "/nonexistent/libcuda.so.1");
        try {
            NativeLibrary lib = NativeLibrary.open("CUDA driver", "ddpm4j.test.bogus.path", "libcuda.so.1");
            assertTrue(lib.failure().contains("/nonexistent/libcuda.so.1 (from -Dddpm4j.test.bogus.path)"), lib.failure());
        } finally {
            System.clearProperty("ddpm4j.test.bogus.path");
        }
    }
}
