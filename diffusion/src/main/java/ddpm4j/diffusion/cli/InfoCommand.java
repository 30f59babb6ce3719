// SPDX-License-Identifier: Apache-2.0
// `ddpm info`: the model's config, parameter count, scheduler, backend and threads.
package ddpm4j.diffusion.cli;

import ddpm4j.core.Backend;
import ddpm4j.core.io.Json;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "info", mixinStandardHelpOptions = true, description = "Show a model's config, parameters, backend and threads.")
public final class InfoCommand implements Callable<Integer> {
    @Mixin Main.Common common;
    @Option(names = "--model", description = "model folder (default: the bundled model)") Path model;

    @Override
    public Integer call() throws Exception {
        Backend be = common.backend();
        Path dir = model != null ? model : Main.bundledModel();
        System.out.println("backend: " + be.describe());
        System.out.println("threads: " + Runtime.getRuntime().availableProcessors() + " available processors");
        try (ModelIo.Loaded m = ModelIo.load(dir, be)) {
            System.out.println("model: " + dir.toAbsolutePath());
            System.out.printf("parameters: %,d%n", m.model().parameterCount());
            System.out.println("config: " + Json.writeCompact(m.model().config().toJson()));
            System.out.println("scheduler: " + Json.writeCompact(m.scheduler().toJson()));
        }
        return 0;
    }
}
