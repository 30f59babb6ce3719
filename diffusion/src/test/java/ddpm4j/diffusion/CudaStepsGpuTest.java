// SPDX-License-Identifier: Apache-2.0
// CudaStepsTest on a real GPU (training step and ancestral steps, CUDA against CPU); see kernels/README.md:
//   mvn -B -pl diffusion -am test -Dgroups=gpu -Dddpm4j.cuda.driverPath= -Dddpm4j.cuda.cublasPath= -Dddpm4j.cuda.cudnnPath=
package ddpm4j.diffusion;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

@Tag("gpu")
class CudaStepsGpuTest extends CudaStepsTest {
    @BeforeAll
    static void realDriverOnly() {
        assumeTrue(System.getProperty("ddpm4j.cuda.driverPath", "").isBlank(),
                "this run uses the emulated driver; pass empty -Dddpm4j.cuda.*Path for the real one");
    }
}
