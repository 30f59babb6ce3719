// SPDX-License-Identifier: Apache-2.0
// `ddpm info` names the CUDA device, driver version, compute capability and loaded kernel image, or says in one
// sentence why CUDA is unavailable. Here CUDA is the emulated driver when kernels/target/emu exists (diffusion/pom.xml).
package ddpm4j.diffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ddpm4j.core.BackendProvider;
import ddpm4j.core.Backends;
import ddpm4j.core.Generator;
import ddpm4j.diffusion.SchedulerConfig;
import ddpm4j.nn.UNet2DModel;
import ddpm4j.nn.UNetConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InfoCudaTest {
    @TempDir Path dir;

    /** Runs {@code ddpm info} on a tiny model; returns stdout (stderr is appended to failures). */
    String info(String device) throws Exception {
        var cfg = new UNetConfig(8, 1, 1, false, false, 1, List.of("DownBlock2D", "DownBlock2D"),
                List.of("UpBlock2D", "UpBlock2D"), List.of(8, 8), 1, 1, 0, 0, "silu", null, 4, null, 1e-6, true);
        Path model = dir.resolve("model");
        try (UNet2DModel m = new UNet2DModel(cfg, Backends.get("reference"), new Generator(1))) {
            ModelIo.save(m, SchedulerConfig.paperLinear().withTimesteps(10), model, false);
        }
        PrintStream o = System.out, e = System.err;
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        System.setErr(new PrintStream(err, true));
        int code;
        try {
            code = Main.execute("info", "--model", model.toString(), "--device", device);
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
        assertEquals(0, code, err.toString());
        return out.toString();
    }

    static Optional<BackendProvider> cuda() {
        return Backends.providers().stream().filter(p -> p.name().equals("cuda")).findFirst();
    }

    /** The line of {@code text} starting with {@code prefix}. */
    static String line(String text, String prefix) {
        return text.lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow(() -> new AssertionError("no '" + prefix + "' line in:\n" + text));
    }

    @Test
    void infoOnCpuAlsoDescribesCudaOrSaysWhyNot() throws Exception {
        String out = info("cpu");
        assertTrue(line(out, "backend: ").startsWith("backend: cpu"), out);
        String cuda = line(out, "cuda: ");
        System.out.println(cuda);
        var p = cuda();
        if (p.isPresent() && p.get().available()) {
            for (String part : List.of("compute capability", "; driver ", "; kernel image: ", "loaded modules {", "elementwise="))
                assertTrue(cuda.contains(part), "'" + part + "' missing from: " + cuda);
        } else {
            String why = p.map(BackendProvider::unavailableReason).orElse("the ddpm4j-kernels module is not on the class path");
            assertEquals("cuda: unavailable: " + why, cuda);
            assertTrue(!why.isBlank() && why.lines().count() == 1, "one sentence: " + why);
        }
    }

    @Test
    void infoOnCudaDescribesItOnce() throws Exception {
        var p = cuda();
        org.junit.jupiter.api.Assumptions.assumeTrue(p.isPresent() && p.get().available(),
                () -> "CUDA backend unavailable: " + p.map(BackendProvider::unavailableReason).orElse("no provider"));
        String out = info("cuda");
        String backend = line(out, "backend: ");
        assertTrue(backend.startsWith("backend: cuda: ") && backend.contains("compute capability") && backend.contains("kernel image"), out);
        assertEquals(0, out.lines().filter(l -> l.startsWith("cuda: ")).count(), "no second cuda line:\n" + out);
    }
}
