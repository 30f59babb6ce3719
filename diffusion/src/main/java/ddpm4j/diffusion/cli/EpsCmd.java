// SPDX-License-Identifier: Apache-2.0
// `ddpm eps`: evaluates epsTheta on (sample, timestep) from a safetensors file (logic in nn's EpsCommand).
package ddpm4j.diffusion.cli;

import ddpm4j.nn.EpsCommand;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "eps", mixinStandardHelpOptions = true,
        description = "Evaluate the noise prediction epsTheta(x_t, t) of a model on tensors from a safetensors file.")
public final class EpsCmd implements Callable<Integer> {
    @Mixin Main.Common common;
    @Option(names = "--model", description = "model folder (default: the bundled model)") Path model;
    @Option(names = "--input", required = true, description = "safetensors with 'sample' (N,C,H,W) and 'timestep' (N)") Path input;
    @Option(names = "--out", required = true, description = "safetensors to write with 'eps'") Path out;
    @Option(names = "--batch", defaultValue = "16") int batch;

    @Override
    public Integer call() throws Exception {
        EpsCommand.Result r = EpsCommand.run(model != null ? model : Main.bundledModel(), input, out, common.backend(), batch);
        System.out.println("wrote " + out + ": " + r);
        return 0;
    }
}
