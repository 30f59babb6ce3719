// SPDX-License-Identifier: Apache-2.0
// Whether CUDA can be used here (driver, device, cuBLAS, cuDNN, kernel images), in one sentence when not, and the
// device summary `ddpm info` prints: device, driver version, compute capability, which kernel image is loaded.
package ddpm4j.kernels.cuda;

import java.util.Map;

/** Availability probe and description of the CUDA setup. */
public final class Cuda {
    private Cuda() {}

    private static volatile String reason;   // "" when available
    private static volatile boolean probed;

    /** Whether a CudaBackend can be created (driver and libraries load, cuInit succeeds, a device exists). */
    public static boolean available() { return unavailableReason().isEmpty(); }

    /** Why CUDA is unusable, in one sentence; "" when it is available. */
    public static synchronized String unavailableReason() {
        if (!probed) {
            reason = probe();
            probed = true;
        }
        return reason;
    }

    static void requireAvailable() {
        String r = unavailableReason();
        if (!r.isEmpty()) throw new CudaException(r);
    }

    private static String probe() {
        if (!CudaDriver.loaded()) return CudaDriver.loadFailure();
        try {
            CudaDriver.emuSetKernelsPath(System.getProperty("ddpm4j.emu.kernels"));
            CudaDriver.cuInit();
            if (CudaDriver.cuDeviceGetCount() < 1) return "CUDA driver found but no CUDA device is present";
        } catch (CudaException e) {
            return "CUDA driver found but unusable: " + e.getMessage();
        }
        if (!Cublas.loaded()) return Cublas.loadFailure();
        if (!Cudnn.loaded()) return Cudnn.loadFailure();
        if (!CudaDriver.emulated() && !CudaModules.fatbinsPackaged())
            return "CUDA kernels were not built (nvcc was not found when ddpm4j-kernels was built), so the cuda backend is off";
        return "";
    }

    /** One paragraph for {@code ddpm info}: the device summary, or why CUDA is unavailable. */
    public static String describe() {
        if (!available()) return "cuda: unavailable: " + unavailableReason();
        return describe(CudaDriver.cuDeviceGet(0), Map.of());
    }

    static String describe(int device, Map<String, String> loadedImages) {
        int major = CudaDriver.cuDeviceGetAttribute(CudaDriver.ATTR_CC_MAJOR, device);
        int minor = CudaDriver.cuDeviceGetAttribute(CudaDriver.ATTR_CC_MINOR, device);
        int sms = CudaDriver.cuDeviceGetAttribute(CudaDriver.ATTR_MULTIPROCESSOR_COUNT, device);
        int v = CudaDriver.cuDriverGetVersion();
        StringBuilder sb = new StringBuilder("cuda: ").append(CudaDriver.cuDeviceGetName(device))
                .append(", compute capability ").append(major).append('.').append(minor)
                .append(", ").append(sms).append(" SMs, ").append(CudaDriver.cuDeviceTotalMem(device) >> 20).append(" MiB")
                .append("; driver ").append(v / 1000).append('.').append(v % 1000 / 10)
                .append(CudaDriver.emulated() ? " (ddpm4j EMULATED driver, " + CudaDriver.loadedFrom() + ")" : "")
                .append("; cuDNN ").append(Cudnn.cudnnGetVersion())
                .append("; kernel image: ").append(imageFor(major, minor));
        if (!loadedImages.isEmpty()) sb.append("; loaded modules ").append(new java.util.TreeMap<>(loadedImages));
        return sb.toString();
    }

    /** Which part of the fatbin the driver runs on this compute capability (SASS if one matches, else PTX JIT). */
    static String imageFor(int major, int minor) {
        if (CudaDriver.emulated())
            return CudaModules.fatbinsPackaged() ? "fatbin packaged; kernels run host-compiled (emulation)" : "host-compiled kernels (emulation, no fatbin built)";
        if (!CudaModules.fatbinsPackaged()) return "none (kernels not built)";
        if (major == 8) return "SASS sm_80";
        if (major == 9 && minor == 0) return "SASS sm_90";
        return "PTX compute_75, JIT-compiled by the driver for sm_" + major + minor;
    }
}
