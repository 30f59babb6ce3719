// SPDX-License-Identifier: Apache-2.0
// The same end-to-end op checks as CudaBackendTest, on a real GPU: run with
//   mvn -pl kernels test -Dgroups=gpu -Dddpm4j.cuda.driverPath= -Dddpm4j.cuda.cublasPath= -Dddpm4j.cuda.cudnnPath=
package ddpm4j.kernels.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

@Tag("gpu")
class CudaBackendGpuTest extends CudaBackendTest {
    @BeforeAll
    static void realDriverOnly() {
        assumeTrue(!CudaDriver.emulated(), "this run uses the emulated driver; pass empty -Dddpm4j.cuda.*Path for the real one");
    }
}
