"""bcss.evaluate: equal to `bcss eval --json` on files, and on the same pixels as arrays."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

import bcss

from conftest import bcss_command, clean_env
from pngs import write_png


def predictions(synth: Path, out: Path) -> Dict[str, np.ndarray]:
    """A prediction per ROI (main5 classes): the truth with every 5th pixel shifted, and
    "no prediction" (0) on a band; written as PNGs named like the masks."""
    ds = bcss.Dataset(synth)
    preds = {}
    for r, (_, mask) in zip(ds.rois, ds):
        p = mask.copy()
        flat = p.reshape(-1)
        flat[::5] = flat[::5] % 5 + 1
        p[:, :3] = 0
        preds[r["roi"]] = p
        write_png(out / Path(r["mask"]).name.replace("MPP-0.2500", "pred"), p)
    return preds


def cli_eval(pred: Path, truth: Path, *extra: str) -> Dict[str, Any]:
    r = subprocess.run([*bcss_command(), "eval", "--pred", str(pred), "--truth", str(truth), "--json", "--no-progress", *extra],
                       capture_output=True, text=True, env=clean_env())  # fmt: skip
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_files_equal_the_cli(synth: Path, tmp_path: Path) -> None:
    predictions(synth, tmp_path / "pred")
    report = bcss.evaluate(tmp_path / "pred", synth)
    matrix = report.pop("confusion_matrix")
    assert report == cli_eval(tmp_path / "pred", synth)
    assert matrix.dtype == np.uint64 and matrix.shape == (5, 6)
    assert matrix.tolist() == report["confusion"]["counts"]
    assert report["images"] == 5 and 0 < report["pooled"]["mean_dice"] < 1


def test_arrays_equal_the_files(synth: Path, tmp_path: Path) -> None:
    preds = predictions(synth, tmp_path / "pred")
    files = bcss.evaluate(tmp_path / "pred", synth)
    by_id = bcss.evaluate(preds, synth)
    assert by_id.pop("confusion_matrix").tolist() == files.pop("confusion_matrix").tolist()
    assert by_id == files
    ds = bcss.Dataset(synth)
    truths = [m for _, m in ds]
    pairs = bcss.evaluate([preds[r["roi"]] for r in ds.rois], truths)
    for key in ["pooled", "per_image_mean", "confusion", "labelled_pixels", "images"]:
        assert pairs[key] == files[key], key
    assert [i["roi"] for i in pairs["per_image"]] == ["0", "1", "2", "3", "4"]
    one = bcss.evaluate(preds["TCGA-A1-A0SK-DX1"].astype(np.int64), truths[0])
    assert one["per_image"][0]["mean_dice"] == files["per_image"][0]["mean_dice"]
    # ignore_index: argmax-style predictions (0..K-1) and truth with don't care as 255.
    ignored = bcss.Dataset(synth, ignore_index=255)
    shifted = [np.where(preds[r["roi"]] == 0, 255, preds[r["roi"]] - 1) for r in ds.rois]
    same = bcss.evaluate(shifted, [m for _, m in ignored], ignore_index=255)
    assert same["pooled"] == files["pooled"]


def test_split_limits_the_rois(synth: Path, tmp_path: Path) -> None:
    preds = predictions(synth, tmp_path / "pred")
    test = bcss.evaluate(tmp_path / "pred", synth, split="test")
    assert [i["roi"] for i in test["per_image"]] == ["TCGA-LL-A5YP-DX1", "TCGA-OL-A5RW-DX1"]
    # The same ROIs and numbers as `bcss eval --split official --part test`.
    cli = cli_eval(tmp_path / "pred", synth, "--split", "official", "--part", "test")
    assert {k: v for k, v in test.items() if k != "confusion_matrix"} == cli
    only_test = {k: v for k, v in preds.items() if k in ("TCGA-LL-A5YP-DX1", "TCGA-OL-A5RW-DX1")}
    assert bcss.evaluate(only_test, synth, split="test")["pooled"] == test["pooled"]
    with pytest.raises(bcss.InputError):
        bcss.evaluate(preds["TCGA-LL-A5YP-DX1"], preds["TCGA-LL-A5YP-DX1"], split="test")


def test_problems_and_errors(synth: Path, tmp_path: Path) -> None:
    preds = predictions(synth, tmp_path / "pred")
    del preds["TCGA-A1-A0SK-DX1"]
    with pytest.raises(bcss.PartialFailure) as e:
        bcss.evaluate(preds, synth)
    assert e.value.summary["images"] == 4 and "no prediction" in e.value.summary["problems"][0]["message"]
    with pytest.raises(bcss.PartialFailure, match="does not match"):
        bcss.evaluate(np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8))
    with pytest.raises(bcss.PartialFailure, match="not a class") as e:
        bcss.evaluate(np.full((4, 4), 9, np.uint8), np.ones((4, 4), np.uint8))
    assert "look like raw BCSS codes" in e.value.summary["warnings"][0]
    assert e.value.summary["problems"][0]["kind"] == "value_over_k"
    with pytest.raises(bcss.InputError):
        bcss.evaluate(tmp_path / "pred", synth, class_map="main6")
    with pytest.raises(bcss.InputError, match="not a directory"):
        bcss.evaluate(tmp_path / "missing", synth)
    with pytest.raises(bcss.InputError):
        bcss.evaluate(np.full((2, 2), -1), np.ones((2, 2)))
