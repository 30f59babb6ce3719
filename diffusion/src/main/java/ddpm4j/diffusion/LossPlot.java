// SPDX-License-Identifier: Apache-2.0
// The training-loss plot (PNG, drawn with java.awt): raw losses in light grey, a moving average in blue, log-scale y.
// Written by TrainRun next to the CSV log.
package ddpm4j.diffusion;

import ddpm4j.core.io.AtomicFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/** Draws loss against step. */
public final class LossPlot {
    private LossPlot() {}

    /** Writes the plot of {@code loss[i]} at {@code steps[i]} to {@code file} atomically; {@code n} points are used. */
    public static void write(Path file, long[] steps, double[] loss, int n, String title) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int W = 900, H = 520, left = 80, right = 20, top = 40, bottom = 60;
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        g.setColor(Color.BLACK);
        g.drawString(title + "  (log scale; grey: each step, blue: moving average)", left, 24);
        if (n > 0) {
            double lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
            for (int i = 0; i < n; i++) if (loss[i] > 0 && Double.isFinite(loss[i])) { lo = Math.min(lo, loss[i]); hi = Math.max(hi, loss[i]); }
            if (lo == Double.MAX_VALUE) { lo = 1e-3; hi = 1; }
            if (hi <= lo) hi = lo * 10;
            double ly0 = Math.floor(Math.log10(lo)), ly1 = Math.ceil(Math.log10(hi));
            if (ly1 <= ly0) ly1 = ly0 + 1;
            long s0 = steps[0], s1 = Math.max(steps[n - 1], s0 + 1);
            int pw = W - left - right, ph = H - top - bottom;
            final double fy0 = ly0, fy1 = ly1;
            java.util.function.DoubleUnaryOperator ymap = v -> top + ph * (1 - (Math.log10(Math.max(v, 1e-30)) - fy0) / (fy1 - fy0));
            java.util.function.LongToDoubleFunction xmap = s -> left + pw * (double) (s - s0) / (s1 - s0);
            // grid and axis labels: decades on y, five ticks on x
            g.setColor(new Color(230, 230, 230));
            for (double d = ly0; d <= ly1; d++) {
                for (int k = 1; k < 10 && d < ly1; k++) {
                    int y = (int) ymap.applyAsDouble(k * Math.pow(10, d));
                    g.drawLine(left, y, left + pw, y);
                }
            }
            g.setColor(Color.BLACK);
            for (double d = ly0; d <= ly1; d++) {
                int y = (int) ymap.applyAsDouble(Math.pow(10, d));
                g.drawLine(left - 4, y, left, y);
                g.drawString(String.format("1e%d", (int) d), 20, y + 5);
            }
            for (int k = 0; k <= 5; k++) {
                long s = s0 + (s1 - s0) * k / 5;
                int x = (int) xmap.applyAsDouble(s);
                g.drawLine(x, top + ph, x, top + ph + 4);
                g.drawString(Long.toString(s), x - 15, top + ph + 20);
            }
            g.drawRect(left, top, pw, ph);
            g.drawString("step", left + pw / 2 - 10, H - 15);
            // raw points, then a moving average over a window of ~1% of the run (at least 1)
            g.setColor(new Color(190, 190, 190));
            for (int i = 0; i < n; i++) {
                int x = (int) xmap.applyAsDouble(steps[i]), y = (int) ymap.applyAsDouble(loss[i]);
                g.fillRect(x, y, 1, 1);
            }
            int win = Math.max(1, n / 100);
            g.setColor(new Color(30, 90, 200));
            g.setStroke(new BasicStroke(2f));
            double acc = 0;
            int px = -1, py = -1, cnt = 0;
            for (int i = 0; i < n; i++) {
                acc += loss[i];
                cnt++;
                if (i >= win) { acc -= loss[i - win]; cnt--; }
                int x = (int) xmap.applyAsDouble(steps[i]), y = (int) ymap.applyAsDouble(acc / cnt);
                if (px >= 0) g.drawLine(px, py, x, y);
                px = x;
                py = y;
            }
        }
        g.dispose();
        AtomicFiles.writeStream(file, out -> ImageIO.write(img, "png", out));
    }
}
