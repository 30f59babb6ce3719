// SPDX-License-Identifier: Apache-2.0
// `ddpm info`: the model's config, parameter count, scheduler, backend and threads, and the CUDA device (driver, compute
// capability, kernel image) or the one sentence saying why CUDA is unavailable.
package ddpm4j.diffusion.cli;

import ddpm4j.core.Backend;
import ddpm4j.core.BackendProvider;
import ddpm4j.core.Backends;
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
        if (!be.name().equals("cuda")) System.out.println(cuda());
        System.out.println("threads: " + Runtime.getRuntime().availableProcessors() + " available processors");
        try (ModelIo.Loaded m = ModelIo.load(dir, be)) {
            System.out.println("model: " + dir.toAbsolutePath());
            System.out.printf("parameters: %,d%n", m.model().parameterCount());
            System.out.println("config: " + Json.writeCompact(m.model().config().toJson()));
            System.out.println("scheduler: " + Json.writeCompact(m.scheduler().toJson()));
        }
        return 0;
    }

    /** The CUDA backend's description ("cuda: device, compute capability, driver, kernel image, ...") or why it is off. */
    static String cuda() {
        for (BackendProvider p : Backends.providers()) {
            if (!p.name().equals("cuda")) continue;
            if (!p.available()) return "cuda: unavailable: " + p.unavailableReason();
            try {
                return Backends.get("cuda").describe();
            } catch (RuntimeException e) {
                return "cuda: unavailable: " + e.getMessage();
            }
        }
        return "cuda: unavailable: the ddpm4j-kernels module is not on the class path";
    }
}
