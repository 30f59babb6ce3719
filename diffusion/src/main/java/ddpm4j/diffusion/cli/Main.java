// SPDX-License-Identifier: Apache-2.0
// The `ddpm` command line (picocli): train, sample, progressive, interpolate, bpd, info, data, eps, classifier, eval. Bad input ends with
// one clear sentence on stderr and a non-zero exit code (2 for usage errors, 1 for everything else).
package ddpm4j.diffusion.cli;

import ddpm4j.core.Backend;
import ddpm4j.core.Backends;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Entry point of {@code ./ddpm}. */
@Command(name = "ddpm", mixinStandardHelpOptions = true, version = "ddpm4j 0.1.0",
        description = "Denoising diffusion probabilistic models (Ho et al. 2020) in Java: train, sample, measure.",
        subcommands = {TrainCommand.class, SampleCommand.class, ProgressiveCommand.class, InterpolateCommand.class,
                BpdCommand.class, InfoCommand.class, DataCommand.class, EpsCmd.class, EvalCommands.Train.class, EvalCommands.Measure.class, ExportCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() { spec.commandLine().usage(System.err); }

    /** Options every command shares. */
    public static class Common {
        @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda, reference or auto (default: ${DEFAULT-VALUE})")
        String device;

        /** The backend named by --device, made the default. */
        Backend backend() {
            String d = device.toLowerCase(java.util.Locale.ROOT);
            if (!java.util.List.of("cpu", "cuda", "reference", "auto").contains(d))
                throw new CommandLine.ParameterException(new CommandLine(new Main()),
                        "unknown --device '" + device + "'; expected cpu, cuda, reference or auto");
            Backend be = Backends.get(d);
            Backends.setCurrent(be);
            return be;
        }
    }

    /** The bundled model folder: models/ddpm-mnist next to the jar's project, or under the working directory. */
    static Path bundledModel() {
        try {
            Path jar = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path root = jar.getParent() != null && jar.getParent().getParent() != null ? jar.getParent().getParent().getParent() : null;
            if (root != null && Files.isDirectory(root.resolve("models/ddpm-mnist"))) return root.resolve("models/ddpm-mnist");
        } catch (Exception ignored) {
            // fall through to the working directory
        }
        return Path.of("models/ddpm-mnist");
    }

    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code (for tests). */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setErr(new PrintWriter(System.err, true));
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Throwable e = ex;
            if (e instanceof java.io.UncheckedIOException u && u.getCause() != null) e = u.getCause();
            String msg = e.getMessage() == null ? e.toString() : e.getMessage();
            if (e instanceof java.nio.file.NoSuchFileException n)
                msg = "file not found: " + n.getFile() + (n.getReason() != null ? " (" + n.getReason() + ")" : "");
            System.err.println("ddpm " + cmd.getCommandName() + ": error: " + msg);
            if (System.getenv("DDPM4J_DEBUG") != null) e.printStackTrace();
            return 1;
        });
        return cl.execute(args);
    }
}
