// SPDX-License-Identifier: Apache-2.0
// The bar chart of bench/RESULTS.md: one horizontal bar per workload, the speed ratio ddpm4j / PyTorch on a log2
// axis, with lines at 1x (parity) and, for the CPU run, 1.5x (issue 6's target). Drawn with java.awt in headless mode.
package ddpm4j.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/** Renders {label, ratio} pairs as a PNG. */
final class ReportChart {
    private ReportChart() {}

    /** Draws {label, ratio} bars against {@code peer} (e.g. "PyTorch 1.13") into {@code png}; the 1.5x line if {@code target}. */
    static void draw(List<String[]> bars, Path png, String peer, boolean target) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int rowH = 22, left = 330, right = 90, top = 50, plotW = 560;
        int w = left + plotW + right, h = top + Math.max(1, bars.size()) * rowH + 50;
        double lo = -3, hi = 3;   // log2 range: 1/8x .. 8x
        for (String[] b : bars) {
            double l = Math.log(Double.parseDouble(b[1])) / Math.log(2);
            lo = Math.min(lo, Math.floor(l));
            hi = Math.max(hi, Math.ceil(l));
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString("Speed ratio ddpm4j / " + peer + " (median time, log scale; right of 1x: ddpm4j faster)", 10, 22);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        final double l0 = lo, span = hi - lo;
        java.util.function.DoubleToIntFunction x = v -> left + (int) Math.round((Math.log(v) / Math.log(2) - l0) / span * plotW);
        for (int e = (int) lo; e <= hi; e++) {
            int gx = left + (int) Math.round((e - lo) / span * plotW);
            g.setColor(new Color(225, 225, 225));
            g.drawLine(gx, top - 5, gx, top + bars.size() * rowH);
            g.setColor(Color.DARK_GRAY);
            String label = e >= 0 ? (1 << e) + "x" : "1/" + (1 << -e) + "x";
            g.drawString(label, gx - 10, top + bars.size() * rowH + 16);
        }
        for (int i = 0; i < bars.size(); i++) {
            double r = Double.parseDouble(bars.get(i)[1]);
            int y = top + i * rowH, x1 = x.applyAsInt(1), x2 = x.applyAsInt(r);
            g.setColor(r >= 1.5 ? new Color(46, 139, 87) : r >= 1 ? new Color(120, 170, 220) : new Color(205, 92, 92));
            g.fillRect(Math.min(x1, x2), y + 3, Math.max(1, Math.abs(x2 - x1)), rowH - 6);
            g.setColor(Color.BLACK);
            String name = bars.get(i)[0];
            g.drawString(name.length() > 48 ? name.substring(0, 47) + "…" : name, 8, y + rowH - 7);
            g.drawString(String.format(Locale.ROOT, "%.2fx", r), Math.max(x1, x2) + 4, y + rowH - 7);
        }
        g.setStroke(new BasicStroke(2));
        g.setColor(Color.BLACK);
        g.drawLine(x.applyAsInt(1), top - 5, x.applyAsInt(1), top + bars.size() * rowH);
        if (target) {
            g.setColor(new Color(46, 139, 87));
            g.drawLine(x.applyAsInt(1.5), top - 5, x.applyAsInt(1.5), top + bars.size() * rowH);
            g.drawString("1.5x target", x.applyAsInt(1.5) + 3, top - 8);
        }
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }
}
