// SPDX-License-Identifier: Apache-2.0
// A batch of images as float data in [-1, 1], laid out (N, C, H, W): what Idx and ImageFolder return.
package ddpm4j.diffusion.data;

/**
 * Images as one float array, (N, C, H, W) row-major, values in [-1, 1] (pixel / 127.5 - 1).
 *
 * @param data N*C*H*W values
 */
public record Images(float[] data, int n, int c, int h, int w) {
    /** Checks the sizes against the data length. */
    public Images {
        if (n < 0 || c <= 0 || h <= 0 || w <= 0 || (long) n * c * h * w != data.length) {
            throw new IllegalArgumentException("images (" + n + ", " + c + ", " + h + ", " + w + ") do not match "
                    + data.length + " values");
        }
    }

    /** The shape {N, C, H, W}. */
    public long[] shape() {
        return new long[] {n, c, h, w};
    }

    /** Values per image, C*H*W. */
    public int imageSize() {
        return c * h * w;
    }
}
