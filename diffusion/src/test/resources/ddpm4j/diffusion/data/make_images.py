# SPDX-License-Identifier: Apache-2.0
# Writes small test images and images_expected.json for ImageFolderTest: PIL 9.4's convert('L'|'RGB') then
# resize((8, 8), BILINEAR, box=centred square), as uint8. Run: /usr/bin/python3 make_images.py
import json
import numpy as np
from PIL import Image

rng = np.random.default_rng(7)
images = {
    "rgb_14x9.png": Image.fromarray(rng.integers(0, 256, (9, 14, 3), dtype=np.uint8), "RGB"),
    "gray_7x11.png": Image.fromarray(rng.integers(0, 256, (11, 7), dtype=np.uint8), "L"),
    "rgba_20x20.png": Image.fromarray(rng.integers(0, 256, (20, 20, 4), dtype=np.uint8), "RGBA"),
    "palette_10x12.png": Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8), "RGB").quantize(16),
    # A smooth JPEG, so decoder differences between libjpeg builds stay small.
    "smooth_24x16.jpg": Image.fromarray(np.fromfunction(lambda y, x, c: 40 + 5 * x + 7 * y + 30 * c, (16, 24, 3))
                                        .astype(np.uint8), "RGB"),
}
expected = {}
for name, im in images.items():
    if name.endswith(".jpg"):
        im.save(name, quality=95)
    else:
        im.save(name)
    im = Image.open(name)
    w, h = im.size
    s = min(w, h)
    box = ((w - s) / 2, (h - s) / 2, (w - s) / 2 + s, (h - s) / 2 + s)
    for mode, c in (("L", 1), ("RGB", 3)):
        out = np.asarray(im.convert(mode).resize((8, 8), Image.BILINEAR, box=box), dtype=np.uint8)
        out = out.reshape(8, 8, c).transpose(2, 0, 1).reshape(-1)
        expected[f"{name}/{c}"] = out.tolist()
with open("images_expected.json", "w") as f:
    json.dump(expected, f)
