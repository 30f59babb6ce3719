// SPDX-License-Identifier: Apache-2.0
// Finds backends through ServiceLoader, so core never names a backend module's classes (as HAT does).
package ddpm4j.core;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The registry of backends. {@code get("auto")} (the default, or {@code -Dddpm4j.backend=NAME}) picks the available
 * backend with the highest priority: cuda, then cpu, then reference. One instance per name lives for the JVM.
 */
public final class Backends {
    private static final Map<String, Backend> INSTANCES = new ConcurrentHashMap<>();
    private static volatile Backend defaultBackend;

    private Backends() {}

    /** All registered providers, highest priority first. */
    public static List<BackendProvider> providers() {
        List<BackendProvider> list = new ArrayList<>();
        ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader()).forEach(list::add);
        list.sort(Comparator.comparingInt(BackendProvider::priority).reversed());
        return list;
    }

    /** The backend of that name ("reference", "cpu", "cuda" or "auto"), created once. */
    public static Backend get(String name) {
        String key = name.toLowerCase(java.util.Locale.ROOT);
        if (key.equals("auto")) {
            for (BackendProvider p : providers())
                if (p.available()) return get(p.name());
            throw new IllegalStateException("no backend is available");
        }
        return INSTANCES.computeIfAbsent(key, k -> {
            List<String> names = new ArrayList<>();
            for (BackendProvider p : providers()) {
                names.add(p.name());
                if (p.name().equals(k)) {
                    if (!p.available())
                        throw new IllegalStateException("backend '" + k + "' is not available: " + p.unavailableReason());
                    return p.create();
                }
            }
            throw new IllegalArgumentException("unknown backend '" + name + "'; expected one of " + names + " or auto");
        });
    }

    /** The default backend: {@code -Dddpm4j.backend} or "auto". */
    public static Backend current() {
        Backend b = defaultBackend;
        if (b == null) {
            synchronized (Backends.class) {
                if (defaultBackend == null) defaultBackend = get(System.getProperty("ddpm4j.backend", "auto"));
                b = defaultBackend;
            }
        }
        return b;
    }

    /** Makes {@code b} the default for tensors created without a backend. */
    public static void setCurrent(Backend b) { defaultBackend = b; }
}
