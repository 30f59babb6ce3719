// SPDX-License-Identifier: Apache-2.0
// An indexed container of modules named "0", "1", ... (PyTorch's nn.ModuleList), for diffusers' resnets/attentions.
package ddpm4j.nn;

import java.util.ArrayList;
import java.util.List;

/** Children named by their index. */
public final class ModuleList<M extends Module> extends Module {
    private final List<M> items = new ArrayList<>();

    /** Appends a module under the next index. */
    public M add(M m) {
        registerModule(Integer.toString(items.size()), m);
        items.add(m);
        return m;
    }

    public M get(int i) { return items.get(i); }

    public int size() { return items.size(); }

    public List<M> items() { return List.copyOf(items); }
}
