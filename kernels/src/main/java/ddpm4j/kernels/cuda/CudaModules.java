// SPDX-License-Identifier: Apache-2.0
// Loads the kernel images lazily, one module per .cu file: the nvcc fatbin resource ddpm4j/kernels/cuda/<name>.fatbin
// (SASS sm_80 + sm_90, PTX compute_75 for JIT elsewhere). On the emulated driver a name marker stands in when no fatbin
// was built (kernels are then found by name in the host-compiled emulation library).
package ddpm4j.kernels.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/** The modules and functions of one context. Thread-safe. */
final class CudaModules implements AutoCloseable {
    static final String RESOURCE_DIR = "/ddpm4j/kernels/cuda/";

    private final Map<String, MemorySegment> modules = new HashMap<>();
    private final Map<String, CudaKernel> kernels = new HashMap<>();
    private final Map<String, String> imageKinds = new HashMap<>();

    /** The kernel {@code name} of {@code file}.cu, loading the module on first use. */
    synchronized CudaKernel kernel(String file, String name) {
        CudaKernel k = kernels.get(name);
        if (k != null) return k;
        MemorySegment module = modules.get(file);
        if (module == null) {
            module = load(file);
            modules.put(file, module);
        }
        k = new CudaKernel(name, CudaDriver.cuModuleGetFunction(module, name));
        kernels.put(name, k);
        return k;
    }

    private MemorySegment load(String file) {
        byte[] image = resource(file + ".fatbin");
        String kind = "fatbin";
        if (image == null) {
            if (!CudaDriver.emulated()) {
                throw new CudaException("CUDA kernels were not built: resource " + RESOURCE_DIR + file + ".fatbin is missing "
                        + "(nvcc was not found when ddpm4j-kernels was built; build on a machine with the CUDA toolkit)");
            }
            image = ("ddpm4j-emu-module:" + file + "\0").getBytes(StandardCharsets.US_ASCII);
            kind = "emulated (host-compiled kernels)";
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(image.length + 1L, 16);
            MemorySegment.copy(image, 0, seg, ValueLayout.JAVA_BYTE, 0, image.length);
            MemorySegment m = CudaDriver.cuModuleLoadDataEx(seg, file + (kind.equals("fatbin") ? ".fatbin" : ""));
            imageKinds.put(file, kind);
            return m;
        }
    }

    private static byte[] resource(String name) {
        try (InputStream in = CudaModules.class.getResourceAsStream(RESOURCE_DIR + name)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new CudaException("cannot read kernel image " + RESOURCE_DIR + name + ": " + e.getMessage(), e);
        }
    }

    /** Whether fatbin resources were packaged (nvcc ran at build time). */
    static boolean fatbinsPackaged() {
        return CudaModules.class.getResource(RESOURCE_DIR + "elementwise.fatbin") != null;
    }

    /** Which .cu modules are loaded and from what kind of image. */
    synchronized Map<String, String> imageKinds() { return Map.copyOf(imageKinds); }

    @Override
    public synchronized void close() {
        for (MemorySegment m : modules.values()) CudaDriver.cuModuleUnload(m);
        modules.clear();
        kernels.clear();
    }
}
