// SPDX-License-Identifier: Apache-2.0
// `ddpm data fetch mnist|fashion-mnist --dir DIR`: downloads and verifies a dataset (see Datasets).
package ddpm4j.diffusion.cli;

import ddpm4j.diffusion.data.Datasets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "data", mixinStandardHelpOptions = true, description = "Datasets.", subcommands = DataCommand.Fetch.class)
public final class DataCommand implements Runnable {
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() { spec.commandLine().usage(System.err); }

    @Command(name = "fetch", mixinStandardHelpOptions = true, description = "Download and verify MNIST or Fashion-MNIST.")
    static final class Fetch implements Callable<Integer> {
        @Parameters(index = "0", description = "mnist or fashion-mnist") String name;
        @Option(names = "--dir", description = "root folder (default: $DDPM4J_DATA or ~/.cache/ddpm4j/data)") Path dir;

        @Override
        public Integer call() throws Exception {
            Path where = Datasets.fetch(name, dir != null ? dir : Datasets.defaultRoot(), System.err);
            System.out.println("dataset " + name + " is in " + where);
            return 0;
        }
    }
}
