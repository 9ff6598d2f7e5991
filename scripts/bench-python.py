#!/usr/bin/env python3
"""Reading 512 px tiles: bcss.TileDataset against PIL + numpy (the way eva and torch-em read
BCSS: ``np.asarray(Image.open(png))`` per ROI PNG, then slicing tiles), same files, same tile
list, 2 worker processes each.

Usage: scripts/bench-python.py [DATASET]   (needs `pip install pillow numpy` and bcss installed)

Without DATASET, writes a synthetic one under /tmp (BCSS-sized ROIs: 8 of about 3000 x 2500,
H&E-like texture, PNG level 6 as Pillow writes by default). Prints a Markdown table.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import List, Tuple

import numpy as np
from PIL import Image

import bcss

SIZE = 512
WORKERS = 2


def synth(root: Path) -> None:
    rng = np.random.default_rng(0)
    ids = ["TCGA-A1-A0SK-DX1", "TCGA-A2-A0CM-DX1", "TCGA-AR-A0TS-DX1", "TCGA-BH-A0AU-DX1",
           "TCGA-C8-A12T-DX1", "TCGA-D8-A1JG-DX1", "TCGA-E2-A14R-DX1", "TCGA-OL-A5RW-DX1"]  # fmt: skip
    for n, roi in enumerate(ids):
        w, h = 2800 + 97 * n, 2400 + 61 * n
        yy, xx = np.mgrid[0:h, 0:w]
        base = 170 + 40 * np.sin(xx / 37.0 + n) * np.cos(yy / 53.0)
        noise = rng.normal(0, 12, (h, w))
        img = np.stack([base + noise, base * 0.7 + noise, base * 0.9 + 20 + noise], axis=-1).clip(0, 255)
        mask = ((xx // 200 + yy // 150 + n) % 6).astype(np.uint8)
        name = f"{roi}_xmin{n}_ymin{n}_MPP-0.2500.png"
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / "masks").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.astype(np.uint8)).save(root / "images" / name)
        Image.fromarray(mask).save(root / "masks" / name)


def bcss_share(args: Tuple[bcss.TileDataset, List[int]]) -> int:
    ds, indices = args
    n = 0
    for i in indices:
        image, mask = ds[i]
        n += image.nbytes + mask.nbytes
    return n


def pil_share(args: Tuple[List[Tuple[str, str, List[Tuple[int, int]]]], int]) -> int:
    """Per ROI: open image and mask with PIL, np.asarray, then slice (and pad) every tile."""
    rois, size = args
    n = 0
    for image_path, mask_path, origins in rois:
        image = np.asarray(Image.open(image_path).convert("RGB"))
        mask = np.asarray(Image.open(mask_path))
        h, w = mask.shape
        for x, y in origins:
            ti = np.zeros((size, size, 3), np.uint8)
            tm = np.zeros((size, size), np.uint8)
            th, tw = min(size, h - y), min(size, w - x)
            ti[:th, :tw] = image[y : y + th, x : x + tw]
            tm[:th, :tw] = mask[y : y + th, x : x + tw]
            n += ti.nbytes + tm.nbytes
    return n


def run(pool: "multiprocessing.pool.Pool", fn, shares) -> Tuple[float, int]:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    total = sum(pool.map(fn, shares))
    return time.perf_counter() - t, total


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/bcss-bench-python")
    if not (root / "masks").is_dir():
        synth(root)
    t = time.perf_counter()
    ds = bcss.TileDataset(root, size=SIZE, min_labelled=0.0, class_map="raw")
    index_s = time.perf_counter() - t
    n = len(ds)
    png_mb = sum(f.stat().st_size for d in ("images", "masks") for f in (root / d).iterdir()) / 1e6
    # Contiguous shares (whole ROIs per worker), as a DataLoader's sequential sampler does.
    rois = ds.rois
    by_roi = {r["roi"]: (r["image"], r["mask"], []) for r in rois}
    for roi, x, y in ds.tiles:
        by_roi[roi][2].append((x, y))
    roi_list = list(by_roi.values())
    half = len(roi_list) // 2
    pil_shares = [(roi_list[:half], SIZE), (roi_list[half:], SIZE)]
    cut = sum(len(r[2]) for r in roi_list[:half])
    bcss_shares = [(ds, list(range(cut))), (ds, list(range(cut, n)))]
    rows = []
    for method in ("fork", "spawn"):
        with multiprocessing.get_context(method).Pool(WORKERS) as pool:
            pool.map(abs, [1, 2])  # workers started before timing
            for name, fn, shares in (("bcss.TileDataset", bcss_share, bcss_shares), ("PIL + np.asarray", pil_share, pil_shares)):
                secs, nbytes = run(pool, fn, shares)
                rows.append((name, method, secs, n / secs, nbytes / secs / 1e6, png_mb / secs))
    print(f"{n} tiles of {SIZE} px from {len(rois)} ROIs ({png_mb:.0f} MB of PNG); "
          f"TileDataset index (all masks decoded once): {index_s:.2f} s\n")  # fmt: skip
    print("| reader | start | seconds | tiles/s | MB/s (tiles) | MB/s (PNG) |")
    print("|---|---|---:|---:|---:|---:|")
    for name, method, secs, tps, mbs, pngs in rows:
        print(f"| {name} | {method} | {secs:.2f} | {tps:.1f} | {mbs:.0f} | {pngs:.1f} |")
    for method in ("fork", "spawn"):
        b = next(r for r in rows if r[0].startswith("bcss") and r[1] == method)
        p = next(r for r in rows if r[0].startswith("PIL") and r[1] == method)
        print(f"\n{method}: bcss.TileDataset is {p[2] / b[2]:.2f}x PIL + np.asarray", end="")
    print()


if __name__ == "__main__":
    main()
