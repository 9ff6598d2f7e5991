#!/usr/bin/env python3
"""Reading 512 px tiles: bcss.TileDataset against PIL + numpy, same files, same tile list,
2 worker processes each. Three ways to read with PIL:

- per sample, as torch-em's ``ImageCollectionDataset`` (behind ``get_bcss_loader``) does: each
  item opens its ROI's image and mask PNGs, ``np.asarray`` of both whole, then one patch cut;
- once per ROI: an ideal PIL loader that decodes each ROI once and cuts all its tiles from it
  (no existing BCSS loader does this; it is the floor of what PIL + numpy can cost);
and bcss: ``TileDataset.stream()`` (each worker its own ROIs, each decoded once), the map-style
``TileDataset`` given indices as a DataLoader gives them (batches of 8 dealt to the workers in
turn, so both workers decode every ROI), and the same shuffled (``shuffle=True``).

Usage: scripts/bench-python.py [DATASET]   (needs `pip install pillow numpy` and bcss installed)

Without DATASET, writes a synthetic one under /tmp (BCSS-sized ROIs: 8 of about 3000 x 2500,
H&E-like texture, PNG level 6 as Pillow writes by default). Prints a Markdown table. The
per-sample PIL reader decodes a whole ROI per tile, so it is timed on the first
PER_SAMPLE_TILES tiles of each share only (rates are per tile either way).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
import time
from pathlib import Path
from typing import List, Tuple

import numpy as np
from PIL import Image

import bcss

SIZE = 512
WORKERS = 2
PER_SAMPLE_TILES = 12


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


def stream_share(args: Tuple[bcss.TileDataset, int]) -> int:
    ds, worker = args
    n = 0
    for image, mask in ds.stream(seed=0, worker_id=worker, num_workers=WORKERS):
        n += image.nbytes + mask.nbytes
    return n


def dealt(indices: List[int], batch: int = 8) -> List[List[int]]:
    """The indices each DataLoader worker gets: batches handed to the workers in turn."""
    batches = [indices[i : i + batch] for i in range(0, len(indices), batch)]
    return [[i for b in batches[k::WORKERS] for i in b] for k in range(WORKERS)]


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


def pil_per_sample(args: Tuple[List[Tuple[str, str, int, int]], int]) -> int:
    """torch-em's pattern: every item decodes its ROI's two PNGs whole, then cuts one patch."""
    items, size = args
    n = 0
    for image_path, mask_path, x, y in items:
        image = np.asarray(Image.open(image_path).convert("RGB"))
        mask = np.asarray(Image.open(mask_path))
        ti = np.array(image[y : y + size, x : x + size])
        tm = np.array(mask[y : y + size, x : x + size])
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
    rois = ds.rois
    by_roi = {r["roi"]: (r["image"], r["mask"], []) for r in rois}
    for roi, x, y in ds.tiles:
        by_roi[roi][2].append((x, y))
    roi_list = list(by_roi.values())
    half = len(roi_list) // 2
    # The ideal PIL loader: whole ROIs per worker, each decoded once.
    pil_shares = [(roi_list[:half], SIZE), (roi_list[half:], SIZE)]
    order = list(range(n))
    turns = [(ds, share) for share in dealt(order)]
    shuffled = random.Random(0).sample(order, n)
    shuffled_turns = [(ds, share) for share in dealt(shuffled)]
    flat = [(im, mk, x, y) for im, mk, origins in roi_list for x, y in origins]
    sample_shares = [([flat[i] for i in share[:PER_SAMPLE_TILES]], SIZE) for share in dealt(shuffled)]
    sample_n = sum(len(s[0]) for s in sample_shares)
    readers = (
        ("bcss TileDataset.stream()", stream_share, [(ds, k) for k in range(WORKERS)], n),
        ("bcss TileDataset, in order", bcss_share, turns, n),
        ("bcss TileDataset, shuffled", bcss_share, shuffled_turns, n),
        ("PIL per sample (torch-em), shuffled", pil_per_sample, sample_shares, sample_n),
        ("PIL once per ROI (ideal)", pil_share, pil_shares, n),
    )
    rows = []
    for method in ("fork", "spawn"):
        with multiprocessing.get_context(method).Pool(WORKERS) as pool:
            pool.map(abs, [1, 2])  # workers started before timing
            for name, fn, shares, tiles in readers:
                secs, nbytes = run(pool, fn, shares)
                rows.append((name, method, tiles, secs, tiles / secs, nbytes / secs / 1e6))
    print(f"{n} tiles of {SIZE} px from {len(rois)} ROIs ({png_mb:.0f} MB of PNG); "
          f"TileDataset index (all masks decoded once): {index_s:.2f} s\n")  # fmt: skip
    print("| reader | start | tiles | seconds | tiles/s | MB/s (tiles) | stream() is |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, method, tiles, secs, tps, mbs in rows:
        base = next(r for r in rows if r[0] == readers[0][0] and r[1] == method)
        print(f"| {name} | {method} | {tiles} | {secs:.2f} | {tps:.1f} | {mbs:.0f} | {base[4] / tps:.2f}x |")


if __name__ == "__main__":
    main()
