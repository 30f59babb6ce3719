// SPDX-License-Identifier: Apache-2.0
// SGEMM C = A B at n^3 (issue 2 item 7): 2 n^3 FLOPs per call, so GFLOP/s = 2 n^3 / score. Peer: peer.py gemm_<n>.
package ddpm4j.bench;

import ddpm4j.core.Backend;
import ddpm4j.core.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/** Square matrix product through the backend's GEMM (OpenBLAS on cpu, cuBLAS on cuda) into a preallocated output. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class GemmBench {
    @Param({"cpu"}) public String backend;
    @Param({"512", "1024", "2048"}) public int n;   // 2 n^3 FLOPs; reads 8 n^2 B, writes 4 n^2 B

    private Backend be;
    private Tensor a, b, c;

    @Setup(Level.Trial)
    public void setup() {
        be = BenchSupport.backend(backend);
        a = BenchSupport.randn(be, 1, n, n);
        b = BenchSupport.randn(be, 2, n, n);
        c = Tensor.empty(be, ddpm4j.core.DType.F32, n, n).detachFromScope();
    }

    @TearDown(Level.Trial)
    public void tearDown() { a.close(); b.close(); c.close(); }

    @Benchmark
    public Tensor matmul() {
        be.matmul(c, a, b, false, false, 1, n, n, n, 0, 0);
        be.sync();
        return c;
    }
}
