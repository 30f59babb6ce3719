// SPDX-License-Identifier: Apache-2.0
// `ddpm export`: rewrites a model folder (diffusers layout), optionally with F16 weights to halve its size.
package ddpm4j.diffusion.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Copy a model folder in diffusers layout, optionally converting the weights to F16.")
public final class ExportCommand implements Callable<Integer> {
    @Mixin Main.Common common;
    @Option(names = "--model", required = true, description = "source model folder (e.g. RUN/model written by train)") Path model;
    @Option(names = "--out", required = true, description = "destination folder") Path out;
    @Option(names = "--f16", description = "store the weights as F16") boolean f16;

    @Override
    public Integer call() throws Exception {
        try (ModelIo.Loaded m = ModelIo.load(model, common.backend())) {
            ModelIo.save(m.model(), m.scheduler(), out, f16);
        }
        System.out.println("wrote " + out + " (config.json, diffusion_pytorch_model.safetensors" + (f16 ? " F16" : " F32")
                + ", scheduler_config.json)");
        return 0;
    }
}
