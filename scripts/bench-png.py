#!/usr/bin/env python3
"""PNG encode alone: Pillow's ``Image.save(format="PNG")`` (its defaults: zlib level 6,
adaptive filtering) against bcss's writer at each ``--png-compression`` level and the ``png``
crate's encoder (what bcss used before), on the same decoded RGB image. Prints a Markdown table
with bytes, CPU seconds and the ratios to Pillow.

Usage:
    cargo build --release -p bcss --example png_encode
    python3 scripts/bench-png.py [target/release/examples/png_encode] [WIDTH HEIGHT]

Needs numpy and Pillow. The image (default 4806 x 3870, BCSS's median ROI) is H&E-like and
seeded: pink stroma with fibre texture, purple nuclei, white gaps, sensor noise, then a JPEG
q95 4:4:4 round trip as a DSA region arrives. Every bcss PNG is decoded with Pillow and compared
with the image, pixel for pixel.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def he_image(w: int, h: int) -> Image.Image:
    rng = np.random.default_rng(11)

    def blur(a: np.ndarray, k: int) -> np.ndarray:
        for _ in range(2):
            c = np.cumsum(np.pad(a, ((0, 0), (k, k)), mode="edge"), axis=1)
            a = (c[:, 2 * k :] - c[:, : -2 * k]) / (2 * k)
            c = np.cumsum(np.pad(a, ((k, k), (0, 0)), mode="edge"), axis=0)
            a = (c[2 * k :, :] - c[: -2 * k, :]) / (2 * k)
        return a[:h, :w]

    low = rng.normal(0, 1, (h // 16 + 2, w // 16 + 2))
    low = np.kron(low, np.ones((16, 16)))[:h, :w]
    tissue = blur(low, 24)
    tissue = (tissue - tissue.mean()) / tissue.std()
    stroma = np.clip(0.5 + 0.9 * tissue, 0, 1)
    nuc = np.zeros((h, w))
    n = int(w * h / 900)
    ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
    keep = rng.random(n) < np.clip(0.3 + 0.7 * stroma[ys, xs], 0, 1)
    nuc[ys[keep], xs[keep]] = 1
    nuc = np.clip(blur(nuc, 3) * 40, 0, 1)
    fibre = blur(rng.normal(0, 1, (h, w)), 2)
    fibre = fibre / fibre.std()
    white, pink, purple = np.array([238, 232, 240.0]), np.array([222, 150, 190.0]), np.array([110, 60, 150.0])
    img = white + (pink - white) * stroma[..., None] + 8 * fibre[..., None] * stroma[..., None]
    img = img + (purple - img) * nuc[..., None]
    img += rng.normal(0, 3, (h, w, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=95, subsampling=0)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def main() -> None:
    exe = sys.argv[1] if len(sys.argv) > 1 else "target/release/examples/png_encode"
    w, h = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (4806, 3870)
    image = he_image(w, h)
    raw = image.tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        rgb = Path(tmp) / "image.rgb"
        rgb.write_bytes(raw)
        # Pillow first, then bcss, then Pillow again: the best of each side, under the same load.
        pillow_cpu, pillow_bytes = [], 0
        for _ in range(2):
            t = time.process_time()
            out = io.BytesIO()
            image.save(out, format="PNG")
            pillow_cpu.append(time.process_time() - t)
            pillow_bytes = len(out.getvalue())
        lines = subprocess.run([exe, str(rgb), str(w), str(h), tmp], check=True, capture_output=True, text=True)
        for _ in range(1):
            t = time.process_time()
            image.save(io.BytesIO(), format="PNG")
            pillow_cpu.append(time.process_time() - t)
        pcpu = min(pillow_cpu)
        print(f"{w} x {h} RGB ({len(raw) / 1e6:.1f} MB raw), Pillow {Image.__version__}\n")
        print("| encoder | bytes | bytes / Pillow | CPU s | Pillow CPU / this | wall s |")
        print("|---|---:|---:|---:|---:|---:|")
        print(f"| Pillow `save(format=\"PNG\")` | {pillow_bytes} | 1.000 | {pcpu:.2f} | 1.0 | {pcpu:.2f} |")
        for line in lines.stdout.splitlines():
            name, nbytes, cpu, wall = line.split("\t")
            decoded = Image.open(Path(tmp) / f"{name}.png")
            decoded.load()
            assert decoded.size == (w, h) and decoded.mode == "RGB", name
            assert decoded.tobytes() == raw, f"{name}: Pillow decodes other pixels"
            ratio = pcpu / max(float(cpu), 0.01)
            print(f"| {name} | {nbytes} | {int(nbytes) / pillow_bytes:.3f} | {cpu} | {ratio:.1f} | {wall} |")
        print("\nEvery bcss and png-crate file decodes with Pillow to the image's pixels.")


if __name__ == "__main__":
    main()
