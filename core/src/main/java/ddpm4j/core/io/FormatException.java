// SPDX-License-Identifier: Apache-2.0
// The one typed rejection of every ddpm4j reader of outside data (JSON, safetensors, IDX, images, checkpoints).
package ddpm4j.core.io;

import java.io.IOException;

/**
 * Thrown when a file (or byte source) is malformed, truncated, hostile or otherwise not what its reader expects.
 *
 * <p>It extends {@link IOException}, so callers that already handle I/O failures handle it too. The message always
 * starts with the source (a file path or a name such as {@code "config.json"}), then the problem and, where it applies,
 * the key, the expected value and the value found: {@code "model.safetensors: tensor 'w': data_offsets [0, 12] span 12
 * bytes, expected 16 (F32 x [2, 2])"}. Every reader promises that malformed input gives this exception and nothing
 * else: no out-of-memory, no unchecked exception, no hang.
 */
public class FormatException extends IOException {
    private final String source;
    private final String problem;

    /**
     * @param source the file or byte source, as shown to the user (for example its path)
     * @param problem what is wrong, naming the key and the expected and found values where they apply
     */
    public FormatException(String source, String problem) {
        super(source + ": " + problem);
        this.source = source;
        this.problem = problem;
    }

    /** Same as {@link #FormatException(String, String)}, keeping the lower-level cause. */
    public FormatException(String source, String problem, Throwable cause) {
        super(source + ": " + problem, cause);
        this.source = source;
        this.problem = problem;
    }

    /** The file or byte source that was rejected. */
    public String source() {
        return source;
    }

    /** The problem, without the source prefix. */
    public String problem() {
        return problem;
    }
}
