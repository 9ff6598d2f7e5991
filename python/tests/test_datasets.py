"""bcss.Dataset, TileDataset and RandomCrops: shapes, values, layouts, pickling, processes, and
the tiles of `bcss tile`."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import shutil
import subprocess
from pathlib import Path
from typing import Any, List, Tuple

import numpy as np
import pytest

import bcss

from conftest import bcss_command, clean_env
from pngs import MAIN5, ROIS, make_dataset, read_png

TRAIN = ["TCGA-A1-A0SK-DX1", "TCGA-BH-A0AU-DX1", "TCGA-C8-A12T-DX1"]


def write_split(tmp: Path) -> Path:
    """The official parts of the synthetic ROIs as a split file."""
    path = tmp / "split.csv"
    path.write_text("roi,part\n" + "".join(f"{r},{'train' if r in TRAIN else 'test'}\n" for r in sorted(ROIS)))
    return path


def expected(roi: str) -> Tuple[np.ndarray, np.ndarray]:
    w, h = ROIS[roi]
    n = sorted(ROIS).index(roi)
    yy, xx = np.mgrid[0:h, 0:w]
    codes = np.array([0, 1, 2, 3, 4, 7, 19], dtype=np.uint8)[(xx // 3 + yy) % 7]
    image = np.stack([xx % 256, yy % 256, np.full_like(xx, n)], axis=-1).astype(np.uint8)
    return image, MAIN5[codes]


def test_dataset_items_rois_and_classes(synth: Path) -> None:
    ds = bcss.Dataset(synth)
    assert len(ds) == 5
    assert [r["roi"] for r in ds.rois] == sorted(ROIS)
    for i, r in enumerate(ds.rois):
        image, mask = ds[i]
        assert image.dtype == np.uint8 and mask.dtype == np.uint8
        assert image.shape == (r["height"], r["width"], 3) and mask.shape == (r["height"], r["width"])
        want_image, want_mask = expected(r["roi"])
        assert np.array_equal(image, want_image) and np.array_equal(mask, want_mask)
        assert image.flags.writeable and image.flags.c_contiguous
    r = ds.rois[0]
    assert (r["roi"], r["site"], r["part"], r["xmin"], r["ymin"]) == ("TCGA-A1-A0SK-DX1", "A1", "train", 10, 20)
    assert ds[-1][1].shape == ds[4][1].shape
    with pytest.raises(IndexError):
        ds[5]
    c = ds.classes
    assert c["names"] == ["tumour", "stroma", "inflammatory", "necrosis", "other"]
    assert c["values"] == [1, 2, 3, 4, 5] and c["ignore"] == 0 and len(c["colors"]) == 5


def test_splits_and_class_maps(synth: Path, tmp_path: Path) -> None:
    train = bcss.Dataset(synth, split="train")
    test = bcss.Dataset(synth, split="test")
    assert [r["roi"] for r in train.rois] == TRAIN
    assert {r["part"] for r in test.rois} == {"test"} and len(test) == 2
    val = bcss.Dataset(synth, split="val", scheme="official-val")
    assert {r["site"] for r in val.rois} == {"A1", "BH", "C8"}
    raw = bcss.Dataset(synth, class_map="raw")
    assert set(np.unique(raw[0][1])) == {0, 1, 2, 3, 4, 7, 19}
    # A split file, as the CLI's --split, and a TOML class map.
    split_file = write_split(tmp_path)
    assert len(bcss.Dataset(synth, split=split_file)) == 5
    assert [r["roi"] for r in bcss.Dataset(synth, scheme=split_file, split="train").rois] == TRAIN
    toml = tmp_path / "two.toml"
    toml.write_text('name = "two"\ndont_care = [0]\n[[class]]\nname = "tumour"\ncodes = [1, 19]\n'
                    '[[class]]\nname = "rest"\ncodes = [2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,20,21]\n')
    two = bcss.Dataset(synth, class_map=toml)
    assert two.classes["names"] == ["tumour", "rest"] and set(np.unique(two[0][1])) == {0, 1, 2}


def test_ignore_index(synth: Path) -> None:
    plain = bcss.Dataset(synth)
    ignored = bcss.Dataset(synth, ignore_index=255)
    _, m = plain[0]
    _, g = ignored[0]
    assert np.array_equal(g, np.where(m == 0, 255, m - 1))
    assert ignored.classes["values"] == [0, 1, 2, 3, 4] and ignored.classes["ignore"] == 255
    _, t = bcss.TileDataset(synth, size=64, ignore_index=200)[0]
    assert set(np.unique(t)) <= {0, 1, 2, 3, 4, 200}


def test_errors_are_input_errors(synth: Path, tmp_path: Path) -> None:
    for kw in [{"class_map": "main6"}, {"split": "training"}, {"split": "val"}, {"scheme": "nope"}, {"ignore_index": 256}]:
        with pytest.raises(bcss.InputError):
            bcss.Dataset(synth, **kw)
    with pytest.raises(bcss.InputError, match="masks"):
        bcss.Dataset(tmp_path)
    with pytest.raises(bcss.InputError, match="not a directory"):
        bcss.TileDataset(tmp_path / "missing")
    with pytest.raises(bcss.InputError, match="stride"):
        bcss.TileDataset(synth, size=64, stride=65)
    with pytest.raises(bcss.InputError, match="no ROI in val"):
        bcss.RandomCrops(synth, split="val", scheme=write_split(tmp_path))
    with pytest.raises(bcss.InputError, match="scheme"):
        bcss.RandomCrops(synth, scheme=tmp_path / "missing.csv")


def test_drive_layout(synth: Path, tmp_path: Path) -> None:
    drive = tmp_path / "drive"
    make_dataset(drive, {k: ROIS[k] for k in TRAIN}, image_dir="rgbs_colorNormalized")
    # Masks with another MPP suffix still pair with the images.
    for m in (drive / "masks").iterdir():
        m.rename(m.with_name(m.name.replace("MPP-0.2500", "MPP-0.2300")))
    ds = bcss.Dataset(drive)
    assert len(ds) == 3
    for i, roi in enumerate(TRAIN):
        image, mask = ds[i]
        assert np.array_equal(image, expected(roi)[0]) and np.array_equal(mask, expected(roi)[1])
    assert len(bcss.TileDataset(drive, size=32, min_labelled=0)) > 0


def same(a: Any, b: Any) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_pickle_round_trip(synth: Path) -> None:
    for ds in [bcss.Dataset(synth, ignore_index=255), bcss.TileDataset(synth, size=48, stride=40)]:
        back = pickle.loads(pickle.dumps(ds))
        assert len(back) == len(ds) and same(back[3], ds[3]) and same(back[-1], ds[-1])
    tiles = bcss.TileDataset(synth, size=48)
    assert pickle.loads(pickle.dumps(tiles)).tiles == tiles.tiles
    crops = bcss.RandomCrops(synth, size=32, per_roi=2, seed=5)
    back = pickle.loads(pickle.dumps(crops))
    assert all(same(a, b) for a, b in zip(crops, back))


def _tile_sums(args: Tuple[bcss.TileDataset, List[int]]) -> List[int]:
    ds, indices = args
    return [int(ds[i][0].sum()) + int(ds[i][1].sum()) for i in indices]


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_a_process_pool_iterates_a_dataset(synth: Path, method: str) -> None:
    ds = bcss.TileDataset(synth, size=32, stride=32, min_labelled=0.2)
    n = len(ds)
    want = _tile_sums((ds, list(range(n))))
    shares = [(ds, list(range(k, n, 2))) for k in range(2)]
    with multiprocessing.get_context(method).Pool(2) as pool:
        got = pool.map(_tile_sums, shares)
    assert got[0] == want[0::2] and got[1] == want[1::2]


def test_tiles_equal_bcss_tile(synth: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiles"
    r = subprocess.run(
        [*bcss_command(), "tile", str(synth), "--out", str(out), "--size", "48", "--stride", "40",
         "--min-labelled", "0.3", "--class-map", "main5", "--json", "--no-progress"],
        capture_output=True, text=True, env=clean_env(),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    for part in ["train", "test"]:
        ds = bcss.TileDataset(synth, size=48, stride=40, min_labelled=0.3, split=part)
        index = (out / part / "index.csv").read_text().splitlines()[1:]
        cli = [(line.split(",")[0], int(line.split(",")[1]), int(line.split(",")[2])) for line in index]
        assert ds.tiles == cli and len(cli) > 3
        for i in [0, len(cli) // 2, len(cli) - 1]:
            roi, x, y = cli[i]
            image, mask = ds[i]
            assert np.array_equal(image, read_png(out / part / "images" / f"{roi}_x{x}_y{y}.png"))
            assert np.array_equal(mask, read_png(out / part / "masks" / f"{roi}_x{x}_y{y}.png"))
    summary = json.loads(r.stdout)
    everything = bcss.TileDataset(synth, size=48, stride=40, min_labelled=0.3)
    assert len(everything) == summary["tiles_written"]


def test_tiles_in_any_order(synth: Path) -> None:
    ds = bcss.TileDataset(synth, size=40, stride=25, min_labelled=0)
    full = {r["roi"]: expected(r["roi"]) for r in ds.rois}
    order = list(range(len(ds)))
    np.random.default_rng(1).shuffle(order)
    for i in order[:40]:
        roi, x, y = ds.tiles[i]
        image, mask = ds[i]
        fi, fm = full[roi]
        h, w = fm[y : y + 40, x : x + 40].shape
        assert np.array_equal(mask[:h, :w], fm[y : y + 40, x : x + 40]) and not mask[h:, :].any()
        assert np.array_equal(image[:h, :w], fi[y : y + 40, x : x + 40])


def test_tile_stream_shards_whole_rois(synth: Path) -> None:
    ds = bcss.TileDataset(synth, size=40, stride=25, min_labelled=0)
    stream = ds.stream(seed=5)
    assert len(stream) == len(ds)
    assert ds.stream(shuffle=False).order() == list(range(len(ds))), "one worker, no shuffle: the dataset's order"
    shares = [stream.for_worker(k, 3).order() for k in range(3)]
    assert sorted(i for s in shares for i in s) == list(range(len(ds))), "every tile once over the workers"
    rois = [{ds.tiles[i][0] for i in s} for s in shares]
    assert all(r for r in rois) and not (rois[0] & rois[1] or rois[0] & rois[2] or rois[1] & rois[2])
    for share in shares:
        # Bands of one ROI top to bottom (each band decoded once), and a ROI's tiles together.
        seen: List[str] = []
        for a, b in zip(share, share[1:]):
            (ra, _, ya), (rb, _, yb) = ds.tiles[a], ds.tiles[b]
            assert ra != rb or ya <= yb
            if ra != rb:
                assert rb not in seen
                seen.append(ra)
    assert stream.for_worker(1, 3).order() == shares[1], "same seed and epoch, same order"
    stream.set_epoch(1)
    assert [stream.for_worker(k, 3).order() for k in range(3)] != shares
    assert ds.stream(seed=6).order() != ds.stream(seed=5).order()
    items = list(ds.stream(seed=5, worker_id=0, num_workers=2))
    want = ds.stream(seed=5).for_worker(0, 2).order()
    assert len(items) == len(want) and all(same(it, ds[i]) for it, i in zip(items, want))
    with pytest.raises(bcss.InputError, match="worker_id 3 is not in 0..2"):
        ds.stream(worker_id=3, num_workers=3)
    again = pickle.loads(pickle.dumps(stream.for_worker(2, 3)))
    assert again.order() == stream.for_worker(2, 3).order()


def test_random_crops(synth: Path) -> None:
    crops = bcss.RandomCrops(synth, size=32, per_roi=3, seed=7, ignore_index=255, class_weights=[1, 2, 3, 4, 5])
    assert len(crops) == 9
    items = list(crops)
    assert len(items) == 9
    for image, mask, weight in items:
        assert image.shape == (32, 32, 3) and mask.shape == (32, 32) and weight.dtype == np.float32
        assert np.array_equal(weight, np.where(mask == 255, 0, mask.astype(np.float32) + 1))
    again = list(bcss.RandomCrops(synth, size=32, per_roi=3, seed=7, ignore_index=255, class_weights=[1, 2, 3, 4, 5]))
    assert all(same(a, b) for a, b in zip(items, again)), "same seed, same crops"
    other = list(bcss.RandomCrops(synth, size=32, per_roi=3, seed=8).crops())
    assert other != list(crops.crops())
    crops.set_epoch(1)
    assert list(crops.crops()) != list(bcss.RandomCrops(synth, size=32, per_roi=3, seed=7).crops())
    # Small ROI (40 x 30) in a 64 crop: padded with don't care, weight 0.
    _, m, w = next(iter(bcss.RandomCrops(synth, size=64, per_roi=1, split="train").for_worker(2, 3)))
    assert not m[30:, :].any() and not w[30:, :].any()


def test_crops_are_disjoint_across_workers(synth: Path) -> None:
    base = bcss.RandomCrops(synth, size=16, per_roi=4, seed=3)
    shares = [list(base.for_worker(k, 3).crops()) for k in range(3)]
    rois = [{c[0] for c in s} for s in shares]
    assert rois == [{"TCGA-A1-A0SK-DX1"}, {"TCGA-BH-A0AU-DX1"}, {"TCGA-C8-A12T-DX1"}]
    assert sum(len(s) for s in shares) == len(base) == 12
    assert shares[0] == list(bcss.RandomCrops(synth, size=16, per_roi=4, seed=3, worker_id=0, num_workers=3).crops())
    two = [set(base.for_worker(k, 2).crops()) for k in range(2)]
    assert not two[0] & two[1]
    assert list(base.for_worker(0, 9).crops()) and not list(base.for_worker(5, 9).crops())


def test_dataloader_epoch(synth: Path) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    tiles = bcss.TileDataset(synth, size=32, ignore_index=255)
    seen = 0
    for image, mask in DataLoader(tiles, batch_size=4, num_workers=2):
        assert image.dtype == torch.uint8 and image.shape[1:] == (32, 32, 3)
        seen += len(mask)
    assert seen == len(tiles)
    crops = bcss.RandomCrops(synth, size=16, per_roi=2)
    batches = list(DataLoader(crops, batch_size=2, num_workers=2))
    assert sum(len(b[0]) for b in batches) == len(crops)
    stream = tiles.stream(seed=1)
    masks = [m for _, m in DataLoader(stream, batch_size=4, num_workers=2)]
    assert sum(len(m) for m in masks) == len(tiles), "each tile once across the two workers"
    got = sorted(bytes(m.numpy()) for b in masks for m in b)
    assert got == sorted(bytes(tiles[i][1]) for i in range(len(tiles)))
