"""Checks that the BCSS loaders of eva and torch-em read `bcss normalize`'s output, unpatched.

Run by scripts/check-loaders.sh, which makes the venv (python/requirements-dev.txt: kaiko-eva
0.4.5, torch-em 0.10.9) and builds bcss:

    python scripts/check_loaders.py --bcss target/debug/bcss --work target/check-loaders

1. The 151 ROIs of the catalogue (`bcss rois --json`): their real names, sites and splits.
2. A synthetic dataset in bcss's layout (`images/` + `masks/`, `<roi>_xmin<X>_ymin<Y>_MPP-0.2500.png`):
   small H&E-coloured RGB images of 448..968 x 448..710 px (eva cuts 448x448 windows, so no side is
   smaller) and 8-bit single-channel masks of blocks of codes 0..21, different in every ROI.
3. `bcss normalize DATASET --out OUT`: the Drive layout `OUT/0_Public-data-Amgad2019_0.25MPP/`.
4. eva's `BCSS` for every split it defines (train, val, trainval, test, None), through
   `prepare_data` and `setup` as its data module calls them: the ROIs of each split against the
   split rule read from eva's source and the counts 76/30/106/45/151, the number of patches, and
   samples compared pixel for pixel with the files (the image window at the coordinates eva
   reports, the mask window through eva's class map).
5. torch-em's `get_bcss_dataset(..., download=False)` for train, val, test and None, on a scratch
   folder of links to OUT's two folders (torch-em copies every pair into `path/train` and
   `path/test`): counts 108/28/15/151, image and mask paired by name, and samples equal to the
   files (a patch as large as the largest ROI is the whole zero-padded ROI, flipped or not by
   torch-em's default augmentation).

Prints one line per split and library, then `check-loaders: N passed, M failed`; exits 1 if any
check failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import traceback
from importlib.metadata import version
from pathlib import Path

import numpy as np
from PIL import Image

DRIVE_DIR = "0_Public-data-Amgad2019_0.25MPP"
IMAGES_DIR = "rgbs_colorNormalized"
EVA_WINDOW = 448  # 224-px patches at target_mpp 0.5 of images eva takes as 0.25 MPP
EVA_MAX_WINDOWS = 1000  # GridSampler(max_samples=1000), eva's default for BCSS

# The split sizes each library derives from the 151 real names (eva's docstring says 84/22/45:
# its code gives these).
EVA_COUNTS = {"train": 76, "val": 30, "trainval": 106, "test": 45, None: 151}
TORCH_EM_COUNTS = {"train": 108, "val": 28, "test": 15, None: 151}

# eva 0.4.5's split rule (segmentation/bcss.py, `_val_institutes` and `_test_institutes`): the
# tissue source site, the second field of the name.
EVA_VAL_SITES = {"BH", "C8", "A8", "A1", "E9"}
EVA_TEST_SITES = {"OL", "LL", "E2", "EW", "GM", "S3"}


def eva_class_map() -> np.ndarray:
    """eva 0.4.5's `_map_classes` as a table: BCSS code -> eva class (0 outside_roi, 1 tumor,
    2 stroma, 3 inflammatory, 4 necrosis, 5 other). Its mapping has no entry for code 1 `tumor`,
    so real tumour falls to the default, 5 `other`; only 19 angioinvasion and 20 dcis become
    `tumor`. Written out here rather than taken from eva, so a change in eva shows up."""
    table = np.full(256, 5, dtype=np.int64)
    for code, cls in {0: 0, 19: 1, 20: 1, 2: 2, 3: 3, 10: 3, 11: 3, 4: 4}.items():
        table[code] = cls
    return table


class Checks:
    """Collects results: a failed check is reported and the run goes on to the summary."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def expect(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
            print(f"FAILED: {what}", file=sys.stderr)
        return ok

    def crashed(self, what: str) -> None:
        traceback.print_exc()
        self.failed.append(f"{what}: {sys.exc_info()[1]!r}")
        print(f"FAILED: {what}", file=sys.stderr)


# --- the synthetic dataset -------------------------------------------------------------------


def roi_size(i: int) -> tuple[int, int]:
    """(width, height) of ROI number i: 448..968 x 448..710, ROI 0 exactly 448 x 448; one in seven
    is wide enough for two of eva's windows."""
    return 448 + (i * 97) % 521, 448 + (i * 61) % 263


def synthetic_mask(i: int, w: int, h: int) -> np.ndarray:
    """Blocks of 32 px of codes 0..21 (tumour and stroma most common, 10 % outside the ROI),
    a different pattern in every ROI."""
    rng = np.random.default_rng(1000 + i)
    p = np.full(22, 0.45 / 19)
    p[0], p[1], p[2] = 0.10, 0.25, 0.20
    cells = rng.choice(22, size=(h // 32 + 1, w // 32 + 1), p=p).astype(np.uint8)
    return np.kron(cells, np.ones((32, 32), dtype=np.uint8))[:h, :w]


def synthetic_image(i: int, mask: np.ndarray) -> np.ndarray:
    """H&E-like: a mix of eosin pink and haematoxylin purple per 16-px cell, a stain strength of
    its own per ROI, noise, and near-white where the mask is 0."""
    h, w = mask.shape
    rng = np.random.default_rng(i)
    cells = rng.random((h // 16 + 1, w // 16 + 1))
    frac = np.kron(cells, np.ones((16, 16)))[:h, :w, None]
    pink, purple = np.array([232.0, 150.0, 190.0]), np.array([90.0, 50.0, 140.0])
    strength = rng.uniform(0.8, 1.1)
    rgb = 255 - strength * (255 - (pink * (1 - frac) + purple * frac))
    rgb = np.where(mask[..., None] == 0, np.array([240.0, 235.0, 240.0]), rgb)
    rgb += rng.normal(0, 6, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def write_dataset(rois: list[dict], root: Path) -> dict[str, tuple[int, int]]:
    """Writes `root/images/<name>` and `root/masks/<name>` for every ROI; returns name -> size."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    sizes = {}
    for i, roi in enumerate(rois):
        name = f"{roi['roi']}_xmin{roi['xmin']}_ymin{roi['ymin']}_MPP-0.2500.png"
        w, h = roi_size(i)
        mask = synthetic_mask(i, w, h)
        Image.fromarray(synthetic_image(i, mask), "RGB").save(root / "images" / name, compress_level=1)
        Image.fromarray(mask, "L").save(root / "masks" / name, compress_level=1)
        sizes[name] = (w, h)
    return sizes


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


# --- eva -------------------------------------------------------------------------------------


def eva_split(name: str) -> str:
    site = name.split("-")[1]
    return "test" if site in EVA_TEST_SITES else "val" if site in EVA_VAL_SITES else "train"


def check_eva(c: Checks, drive: Path, dataset: Path, sizes: dict, summary: list) -> None:
    from eva.vision.data.datasets import BCSS
    from eva.vision.data.wsi.patching import samplers
    from loguru import logger

    logger.disable("eva")  # its "Initializing dataset with N WSIs" lines
    table = eva_class_map()
    for split in EVA_COUNTS:
        label = f"eva {split}"
        try:
            ds = BCSS(root=str(drive), sampler=samplers.GridSampler(max_samples=EVA_MAX_WINDOWS), split=split)
            ds.prepare_data()
            ds.setup()
            # The ROIs of the split: the name of each WSI's last patch.
            names = [ds.filename(end - 1) for end in ds.cumulative_sizes]
            want = sorted(n for n in sizes if split is None or eva_split(n) in split_parts(split))
            c.expect(len(names) == EVA_COUNTS[split], f"{label}: {len(names)} ROIs, expected {EVA_COUNTS[split]}")
            c.expect(sorted(names) == want, f"{label}: the ROIs are not those of eva's site rule")
            windows = sum(min(EVA_MAX_WINDOWS, (w // EVA_WINDOW) * (h // EVA_WINDOW)) for w, h in map(sizes.get, names))
            c.expect(len(ds) == windows, f"{label}: {len(ds)} patches, expected {windows}")
            picks = sorted({0, len(ds) // 2, len(ds) - 1})
            for index in picks:
                check_eva_sample(c, ds, index, drive, dataset, table, label)
            summary.append(f"{label:<18} {len(names):>3} ROIs {len(ds):>4} patches  (samples {picks})")
        except Exception:
            c.crashed(label)


def split_parts(split: str) -> set[str]:
    return {"train", "val"} if split == "trainval" else {split}


def check_eva_sample(c: Checks, ds, index: int, drive: Path, dataset: Path, table: np.ndarray, label: str) -> None:
    from torchvision import tv_tensors

    image, mask, meta = ds[index]
    name = ds.filename(index)
    what = f"{label} sample {index} ({name})"
    x, y, w, h = (int(v) for v in meta["coords"].split(","))
    c.expect((w, h) == (EVA_WINDOW, EVA_WINDOW), f"{what}: window {w}x{h}")
    c.expect(isinstance(image, tv_tensors.Image) and isinstance(mask, tv_tensors.Mask), f"{what}: types")
    c.expect(tuple(image.shape) == (3, h, w) and str(image.dtype) == "torch.uint8",
             f"{what}: image {tuple(image.shape)} {image.dtype}")
    c.expect(tuple(mask.shape) == (h, w) and str(mask.dtype) == "torch.int64",
             f"{what}: mask {tuple(mask.shape)} {mask.dtype}")
    got_mask = mask.numpy()
    c.expect(got_mask.min() >= 0 and got_mask.max() <= 5, f"{what}: mask values outside eva's classes 0..5")
    # The image window from the file eva names, the mask window from the input dataset's mask of
    # that name (bcss copies masks unchanged), through eva's class map.
    want_image = read(drive / IMAGES_DIR / name)[y : y + h, x : x + w].transpose(2, 0, 1)
    c.expect(np.array_equal(image.numpy(), want_image), f"{what}: image differs from the file's window")
    codes = read(dataset / "masks" / name)[y : y + h, x : x + w]
    c.expect(np.array_equal(got_mask, table[codes]), f"{what}: mask differs from the input mask through eva's class map")
    c.expect(np.any(codes == 1), f"{what}: no code 1 in the window, so eva's 1 -> 5 goes unchecked")


# --- torch-em --------------------------------------------------------------------------------


def check_torch_em(c: Checks, drive: Path, scratch: Path, dataset: Path, sizes: dict, summary: list) -> None:
    import torch
    from torch_em.data.datasets import get_bcss_dataset
    from torch_em.data.datasets.histopathology.bcss import TEST_LIST

    # torch-em writes path/train and path/test (copies of every pair): give it links to the
    # output's two folders so its copies land here, not in the output.
    scratch.mkdir()
    for sub in (IMAGES_DIR, "masks"):
        (scratch / sub).symlink_to(drive / sub, target_is_directory=True)
    c.expect(set(TEST_LIST) <= {Path(n).stem for n in sizes}, "torch-em: a TEST_LIST name is not among the 151")
    full = (max(h for _, h in sizes.values()), max(w for w, _ in sizes.values()))
    torch.manual_seed(0)
    np.random.seed(0)
    seen: dict[str, set[str]] = {}
    for split in TORCH_EM_COUNTS:
        label = f"torch-em {split}"
        try:
            ds = get_bcss_dataset(str(scratch), patch_shape=(256, 256), split=split, download=False)
            stems = [Path(p).stem for p in ds.raw_images]
            c.expect(len(ds) == TORCH_EM_COUNTS[split], f"{label}: {len(ds)} images, expected {TORCH_EM_COUNTS[split]}")
            c.expect(stems == [Path(p).stem for p in ds.label_images], f"{label}: images and masks not paired by name")
            seen[str(split)] = set(stems)
            # A patch of the largest ROI's size: every ROI whole, zero-padded at the bottom right.
            whole = get_bcss_dataset(str(scratch), patch_shape=full, split=split, download=False)
            picks = sorted({0, len(ds) - 1})
            for index in picks:
                check_torch_em_sample(c, ds, index, dataset, label, whole=False)
                check_torch_em_sample(c, whole, index, dataset, label, whole=True)
            summary.append(f"{label:<18} {len(ds):>3} ROIs  (samples {picks}, 256x256 and whole)")
        except Exception:
            c.crashed(label)
    if len(seen) == len(TORCH_EM_COUNTS):
        c.expect(seen["test"] == set(TEST_LIST), "torch-em test: not its TEST_LIST")
        c.expect(not seen["train"] & seen["val"] and len(seen["train"] | seen["val"]) == 151 - 15,
                 "torch-em train/val: not a partition of the other 136")
        c.expect(seen["None"] == {Path(n).stem for n in sizes}, "torch-em None: not the 151")


def check_torch_em_sample(c: Checks, ds, index: int, dataset: Path, label: str, whole: bool) -> None:
    raw, labels = ds[index]
    # Named by the image: a mask paired with another ROI's image fails below.
    name = Path(ds.raw_images[index]).name
    what = f"{label} sample {index} ({name}, {'whole' if whole else '256x256'})"
    h, w = ds.patch_shape
    c.expect(tuple(raw.shape) == (3, h, w) and str(raw.dtype) == "torch.float32", f"{what}: image {tuple(raw.shape)} {raw.dtype}")
    c.expect(tuple(labels.shape) == (1, h, w) and str(labels.dtype) == "torch.int64",
             f"{what}: labels {tuple(labels.shape)} {labels.dtype}")
    mask = read(dataset / "masks" / name)
    got = labels.numpy()[0]
    if not whole:
        c.expect(set(np.unique(got)) <= set(np.unique(mask)), f"{what}: label values not in the ROI's mask")
        return
    # The whole ROI: the labels are the mask codes themselves, padded with 0 and flipped (or not)
    # by the default augmentation; the image is the normalised file, standardised, flipped alike.
    pad = ((0, h - mask.shape[0]), (0, w - mask.shape[1]))
    want = np.pad(mask, pad).astype(np.int64)
    flips = {"none": (), "horizontal": (1,), "vertical": (0,), "both": (0, 1)}
    match = [f for f, axes in flips.items() if np.array_equal(got, np.flip(want, axes) if axes else want)]
    if c.expect(bool(match), f"{what}: labels are not the input mask's codes (padded, flipped or not)"):
        axes = flips[match[0]]
        image = read(ds.raw_images[index]).astype(np.float64)
        image = np.pad(image, ((0, h - image.shape[0]), (0, w - image.shape[1]), (0, 0))).transpose(2, 0, 1)
        image = np.flip(image, tuple(a + 1 for a in axes)) if axes else image
        r = np.corrcoef(raw.numpy().ravel(), image.ravel())[0, 1]
        c.expect(r > 0.9999, f"{what}: image is not its file's pixels (correlation {r:.6f})")


# --- the run ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bcss", type=Path, required=True, help="the bcss binary")
    parser.add_argument("--work", type=Path, required=True, help="a scratch folder (emptied first)")
    args = parser.parse_args()
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    c = Checks()

    rois = json.loads(subprocess.run([args.bcss, "rois", "--json"], check=True, capture_output=True).stdout)
    c.expect(len(rois) == 151, f"`bcss rois` lists {len(rois)} ROIs")
    dataset, out = work / "dataset", work / "out"
    sizes = write_dataset(rois, dataset)
    codes = set().union(*(np.unique(read(dataset / "masks" / n)).tolist() for n in sizes))
    c.expect(codes == set(range(22)), f"the synthetic masks hold codes {sorted(codes)}, not 0..21")

    run = subprocess.run([args.bcss, "normalize", dataset, "--out", out, "--json", "--no-progress"], capture_output=True)
    sys.stderr.write(run.stderr.decode())
    if not c.expect(run.returncode == 0, f"`bcss normalize` exited {run.returncode}"):
        return report(c, [])
    normalized = json.loads(run.stdout)["normalized"]
    c.expect(normalized == 151, f"`bcss normalize` normalised {normalized} ROIs")
    drive = out / DRIVE_DIR

    # What both loaders rely on, in the output itself.
    c.expect(sorted(p.name for p in drive.iterdir()) == ["masks", IMAGES_DIR], f"{DRIVE_DIR} holds other entries")
    for name, (w, h) in sizes.items():
        image, mask = Image.open(drive / IMAGES_DIR / name), Image.open(drive / "masks" / name)
        c.expect(image.mode == "RGB" and image.size == (w, h), f"{name}: image {image.mode} {image.size}")
        c.expect(mask.mode == "L" and mask.size == (w, h), f"{name}: mask {mask.mode} {mask.size}, not 8-bit grey")
        c.expect(np.array_equal(np.asarray(mask), read(dataset / "masks" / name)), f"{name}: mask changed")
    c.expect(len(list((drive / IMAGES_DIR).glob("*.png"))) == 151, "not 151 images")

    summary = [f"kaiko-eva {version('kaiko-eva')}, torch-em {version('torch-em')}, torch {version('torch')}"]
    check_eva(c, drive, dataset, sizes, summary)
    check_torch_em(c, drive, work / "torch-em", dataset, sizes, summary)
    c.expect(sorted(p.name for p in drive.iterdir()) == ["masks", IMAGES_DIR], f"a loader wrote into {DRIVE_DIR}")
    return report(c, summary)


def report(c: Checks, summary: list[str]) -> int:
    for line in summary:
        print(line)
    for what in c.failed:
        print(f"failed: {what}")
    print(f"check-loaders: {c.passed} passed, {len(c.failed)} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
