// SPDX-License-Identifier: Apache-2.0
// The one exception type of the CUDA bindings: a failed driver/cuBLAS/cuDNN call with its error name and text.
package ddpm4j.kernels.cuda;

/** A CUDA driver, cuBLAS or cuDNN call that failed, or a CUDA library that could not be used. */
public final class CudaException extends RuntimeException {
    private final String call;
    private final int status;
    private final String errorName;

    /**
     * @param call      the C function that failed, e.g. {@code cuMemAlloc_v2}
     * @param status    its status code
     * @param errorName the status' name, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}
     * @param text      the library's description of the status, plus any detail
     */
    public CudaException(String call, int status, String errorName, String text) {
        super(call + " failed: " + errorName + " (" + status + "): " + text);
        this.call = call;
        this.status = status;
        this.errorName = errorName;
    }

    /** A failure that is not a status code (library missing, bad argument found before the call). */
    public CudaException(String message) {
        super(message);
        this.call = "";
        this.status = -1;
        this.errorName = "";
    }

    /** A failure that is not a status code, with its cause. */
    public CudaException(String message, Throwable cause) {
        super(message, cause);
        this.call = "";
        this.status = -1;
        this.errorName = "";
    }

    /** The failed C function, or "" when none. */
    public String call() { return call; }

    /** The status code, or -1 when none. */
    public int status() { return status; }

    /** The status' name (e.g. {@code CUDA_ERROR_INVALID_PTX}), or "" when none. */
    public String errorName() { return errorName; }
}
