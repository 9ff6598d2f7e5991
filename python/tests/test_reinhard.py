"""Reinhard colour normalisation from Python: ``bcss.reinhard`` and ``bcss.lab_mean_std``.

Every case of HistomicsTK 1.4.0's reference outputs (``crates/bcss/tests/fixtures/reinhard``;
the 2048 x 1536 ``case12`` only from ``BCSS_REINHARD_FIXTURES`` or ``../shared/fixtures/reinhard``
beside the repository, skipped when absent, as the Rust test does) through the Python API,
pixel for pixel; ``lab_mean_std`` against HistomicsTK's formulas written out in numpy; bad
arguments named; array-likes and non-contiguous views; the GIL released.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np
import pytest
from PIL import Image

import bcss
from bcss import _bcss

from conftest import ROOT

FIXTURES = ROOT / "crates" / "bcss" / "tests" / "fixtures" / "reinhard"
SHARED = Path(os.environ.get("BCSS_REINHARD_FIXTURES", ROOT.parent / "shared" / "fixtures" / "reinhard"))
CASES = [f"case{i:02}" for i in range(13)]
#: Only in shared/ (12 MB); every other case is in the repository.
OPTIONAL = {"case12"}


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode in ("RGB", "L"), (path, im.mode)
        return np.array(im)


def load(name: str) -> Tuple[np.ndarray, Optional[np.ndarray], np.ndarray, Dict[str, Any]]:
    """``(input, mask_out or None, expected, params)`` of a case; skips a missing optional one."""
    d = FIXTURES / name
    if not d.is_dir():
        if name not in OPTIONAL:
            pytest.fail(f"{d} is missing")
        d = SHARED / name
        if not (d / "expected.png").is_file():
            pytest.skip(f"{name} is not in the repository and {SHARED} does not hold it")
    params = json.loads((d / "params.json").read_text())
    mask = read_png(d / params["mask"]) != 0 if "mask" in params else None
    return read_png(d / "input.png"), mask, read_png(d / "expected.png"), params


# HistomicsTK 1.4.0's color_conversion written out: its matrices and `rgb_to_lab`, and
# `lab_mean_std` (numpy's masked array for `mask_out`).
RGB2LMS = np.array([[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]])
LMS2LAB = np.dot(
    np.array([[1 / (3**0.5), 0, 0], [0, 1 / (6**0.5), 0], [0, 0, 1 / (2**0.5)]]),
    np.array([[1, 1, 1], [1, 1, -2], [1, -1, 0]]),
)


def htk_rgb_to_lab(im_rgb: np.ndarray) -> np.ndarray:
    m, n = im_rgb.shape[:2]
    im_rgb = np.reshape(im_rgb, (m * n, 3))
    im_lms = np.dot(RGB2LMS, np.transpose(im_rgb))
    im_lms[im_lms == 0] = np.spacing(1)
    im_lab = np.dot(LMS2LAB, np.log(im_lms))
    return np.reshape(im_lab.transpose(), (m, n, 3))


def htk_lab_mean_std(im: np.ndarray, mask_out: Optional[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    im_lab = htk_rgb_to_lab(im)
    if mask_out is not None:
        im_lab = np.ma.masked_array(im_lab, mask=np.tile(mask_out[..., None], (1, 1, 3)))
    return np.array([im_lab[..., i].mean() for i in range(3)]), np.array([im_lab[..., i].std() for i in range(3)])


@pytest.mark.parametrize("name", CASES)
def test_every_fixture_case_is_histomicstks_output(name: str) -> None:
    im, mask, expected, params = load(name)
    kw: Dict[str, Any] = {"mask_out": mask}
    if "src_mu" in params:
        kw.update(src_mu=params["src_mu"], src_sigma=params["src_sigma"])
    before = im.copy()
    # Positional targets, in HistomicsTK's order.
    out = bcss.reinhard(im, params["target_mu"], params["target_sigma"], **kw)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == im.shape
    assert np.array_equal(im, before), "the input was modified"
    differ = (out != expected).any(axis=-1)
    share = differ.mean()
    assert not differ.any(), f"{name}: {differ.sum()} of {differ.size} pixels ({share:.4%}) differ from HistomicsTK"
    if mask is not None:
        assert mask.any() and np.array_equal(out[mask], im[mask]), "masked-out pixels changed"


@pytest.mark.parametrize("name", CASES)
def test_lab_mean_std_is_histomicstks_formula(name: str) -> None:
    im, mask, _, _ = load(name)
    mu, sigma = bcss.lab_mean_std(im, mask_out=mask)
    want_mu, want_sigma = htk_lab_mean_std(im, mask)
    assert mu.dtype == np.float64 and mu.shape == (3,) and sigma.dtype == np.float64 and sigma.shape == (3,)
    # Not always bit for bit: numpy's log (its own SIMD code on AVX-512 machines) and BLAS's
    # fused multiply-adds may round a lab value differently from the library (the largest
    # relative difference over the cases, measured: 4.8e-15); the sums are numpy's pairwise sums.
    np.testing.assert_allclose(mu, want_mu, rtol=1e-13, atol=0)
    np.testing.assert_allclose(sigma, want_sigma, rtol=1e-13, atol=0)


def test_given_source_statistics_are_lab_mean_std() -> None:
    # src_mu/src_sigma from lab_mean_std of the same image give the same output as computing
    # them, so tiles of one slide can share statistics.
    im, mask, _, _ = load("case07")
    mu, sigma = bcss.lab_mean_std(im)
    assert np.array_equal(bcss.reinhard(im, src_mu=mu, src_sigma=sigma), bcss.reinhard(im))


def test_the_bcss_standard_is_the_default() -> None:
    assert bcss.BCSS_TARGET_MU == (8.74108109, -0.12440419, 0.0444982)
    assert bcss.BCSS_TARGET_SIGMA == (0.6135447, 0.10989545, 0.0286032)
    im, _, expected, params = load("case00")
    assert params["target_mu"] == list(bcss.BCSS_TARGET_MU)
    assert np.array_equal(bcss.reinhard(im), expected)
    out = bcss.reinhard(
        im, target_mu=bcss.BCSS_TARGET_MU, target_sigma=bcss.BCSS_TARGET_SIGMA,
        src_mu=None, src_sigma=None, mask_out=None,
    )  # fmt: skip
    assert np.array_equal(out, expected)
    # numpy arrays and lists are targets as well as tuples.
    assert np.array_equal(bcss.reinhard(im, np.array(params["target_mu"]), list(params["target_sigma"])), expected)


def test_non_contiguous_and_array_like_inputs() -> None:
    im, mask, expected, _ = load("case02")
    assert mask is not None
    want = bcss.reinhard(im, mask_out=mask)
    want_mu, want_sigma = bcss.lab_mean_std(im, mask)
    assert np.array_equal(want, expected)
    h, w, _ = im.shape
    # Every other column of a wider array, a transposed copy transposed back, Fortran order.
    wide = np.zeros((h, 2 * w, 3), dtype=np.uint8)
    wide[:, ::2] = im
    wide_mask = np.zeros((h, 2 * w), dtype=bool)
    wide_mask[:, ::2] = mask
    views = [wide[:, ::2], np.ascontiguousarray(im.transpose(1, 0, 2)).transpose(1, 0, 2), np.asfortranarray(im)]
    for v in views:
        assert not v.flags.c_contiguous
        assert np.array_equal(bcss.reinhard(v, mask_out=wide_mask[:, ::2]), want)
        mu, sigma = bcss.lab_mean_std(v, mask_out=np.asfortranarray(mask))
        assert np.array_equal(mu, want_mu) and np.array_equal(sigma, want_sigma)

    class Tensorish:
        """Anything numpy reads through ``__array__`` (a CPU torch tensor)."""

        def __init__(self, a: np.ndarray) -> None:
            self.a = a

        def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
            return self.a

    assert np.array_equal(bcss.reinhard(Tensorish(im), mask_out=Tensorish(mask)), want)
    # A mask of integers 0 and 1 is a boolean mask.
    assert np.array_equal(bcss.reinhard(im, mask_out=mask.astype(np.uint8)), want)
    assert np.array_equal(bcss.reinhard(im, mask_out=mask.astype(np.int64)), want)


IM = np.full((4, 5, 3), 120, dtype=np.uint8)
IM[1, 2] = (200, 30, 90)
IM[3, 4] = (10, 250, 60)

BAD = [
    ({"im_src": IM.astype(np.uint16)}, "im_src must be of dtype uint8", "uint16"),
    ({"im_src": IM.astype(np.float32) / 255}, "im_src must be of dtype uint8", "float32"),
    ({"im_src": np.dstack([IM, IM[..., :1]])}, "im_src must be an RGB image of shape (H, W, 3)", "RGBA"),
    ({"im_src": IM[..., 0]}, "im_src must be an RGB image of shape (H, W, 3)", "grey"),
    ({"im_src": IM[None]}, "im_src must be an RGB image of shape (H, W, 3)", "(1, 4, 5, 3)"),
    ({"mask_out": np.zeros((5, 4), bool)}, "mask_out must have im_src's height and width (4, 5)", "(5, 4)"),
    ({"mask_out": np.zeros((4, 5, 1), bool)}, "mask_out must have im_src's height and width", "(4, 5, 1)"),
    ({"mask_out": np.zeros((4, 5))}, "mask_out must be a boolean array", "float64"),
    ({"mask_out": np.full((4, 5), 255, np.uint8)}, "mask_out must be a boolean array", "mask != 0"),
    ({"mask_out": np.ones((4, 5), bool)}, "mask_out is True at every pixel of im_src", "statistics"),
    ({"target_mu": (1.0, 2.0)}, "target_mu must be 3 numbers", "(2,)"),
    ({"target_mu": "lab"}, "target_mu must be 3 numbers", "lab"),
    ({"target_sigma": [[1, 1, 1]]}, "target_sigma must be 3 numbers", "(1, 3)"),
    ({"target_mu": (np.inf, 0, 0)}, "target_mu[0] is inf", "finite"),
    ({"target_sigma": (0.5, 0.0, 0.1)}, "target_sigma[1] is 0", "positive finite"),
    ({"target_sigma": (0.5, 0.1, -0.1)}, "target_sigma[2] is -0.1", "positive finite"),
    ({"target_sigma": (np.nan, 0.1, 0.1)}, "target_sigma[0] is NaN", "positive finite"),
    ({"src_mu": (9.0, 0.0, 0.0)}, "src_mu and src_sigma must be given together", "only src_mu"),
    ({"src_sigma": (1.0, 1.0, 1.0)}, "src_mu and src_sigma must be given together", "only src_sigma"),
    ({"src_mu": (9.0, 0.0, 0.0), "src_sigma": (0.3, 0.0, 0.1)}, "src_sigma[1] is 0", "positive finite"),
    ({"src_mu": (9.0, 0.0, 0.0), "src_sigma": (0.3, 0.1)}, "src_sigma must be 3 numbers", "(2,)"),
    ({"src_mu": (np.nan, 0.0, 0.0), "src_sigma": (0.3, 0.1, 0.1)}, "src_mu[0] is NaN", "finite"),
]


@pytest.mark.parametrize("kw,message,detail", BAD, ids=[f"{i}-{b[1][:24]}" for i, b in enumerate(BAD)])
def test_bad_arguments_are_named(kw: Dict[str, Any], message: str, detail: str) -> None:
    kw = {"im_src": IM, **kw}
    with pytest.raises(bcss.InputError) as e:
        bcss.reinhard(**kw)
    text = str(e.value)
    assert message in text and detail in text, text


def test_lab_mean_std_bad_arguments_are_named() -> None:
    cases = [
        ({"im_input": IM.astype(np.uint16)}, "im_input must be of dtype uint8"),
        ({"im_input": IM[..., :2]}, "im_input must be an RGB image of shape (H, W, 3)"),
        ({"im_input": np.zeros((0, 5, 3), np.uint8)}, "im_input has no pixels (0 x 5)"),
        ({"im_input": IM, "mask_out": np.ones((4, 5), bool)}, "mask_out is True at every pixel of im_input"),
        ({"im_input": IM, "mask_out": np.zeros((4, 4), bool)}, "mask_out must have im_input's height and width"),
    ]
    for kw, message in cases:
        with pytest.raises(bcss.InputError) as e:
            bcss.lab_mean_std(**kw)
        assert message in str(e.value), (kw, str(e.value))


def test_an_empty_image_with_given_statistics_is_an_empty_output() -> None:
    empty = np.zeros((0, 7, 3), np.uint8)
    out = bcss.reinhard(empty, src_mu=bcss.BCSS_TARGET_MU, src_sigma=bcss.BCSS_TARGET_SIGMA)
    assert out.shape == (0, 7, 3) and out.dtype == np.uint8
    with pytest.raises(bcss.InputError, match="im_src has no pixels"):
        bcss.reinhard(empty)


@pytest.mark.parametrize("call", ["reinhard", "lab_mean_std"])
def test_the_gil_is_released_during_the_computation(call: str) -> None:
    # With a switch interval of 100 s a thread holding the GIL keeps it until it blocks or
    # releases it. The worker calls the native function directly (the Python half does no work
    # that could release the GIL itself: numpy does, for large loops). If the native call
    # releases it, the main thread runs while the worker is still inside the call and sees
    # `returned` empty; if the call held the GIL throughout, the main thread could only resume
    # after the worker had filled it. The image (random colours, about 0.1 s of work in a dev
    # build) only has to outlast the main thread's wake-up.
    rng = np.random.default_rng(7)
    im = rng.integers(0, 256, (768, 1024, 3), dtype=np.uint8)
    mu, sigma = bcss.BCSS_TARGET_MU, bcss.BCSS_TARGET_SIGMA
    native = {
        "reinhard": lambda: _bcss.reinhard(im, mu, sigma, None, None, None),
        "lab_mean_std": lambda: _bcss.lab_mean_std(im, None),
    }[call]
    returned = []
    worker = threading.Thread(target=lambda: returned.append(native()))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        worker.start()  # waits (without the GIL) until the worker runs, then needs the GIL back
        seen_inside = not returned
    finally:
        sys.setswitchinterval(interval)
        worker.join()
    assert seen_inside, f"bcss.{call} held the GIL for the whole computation"
    assert len(returned) == 1
