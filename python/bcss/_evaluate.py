"""``bcss.evaluate``: ``bcss eval`` on folders, or on arrays in memory for a validation loop."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from bcss import _bcss
from bcss._datasets import PathLike, _ignore, _spec
from bcss._errors import InputError, PartialFailure

ArrayOrPath = Union[PathLike, np.ndarray, Sequence[np.ndarray], Mapping[str, np.ndarray]]


def _mask(a: Any, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2:
        raise InputError(f"{what} must be a 2-D array (H x W), not of shape {a.shape}")
    if a.dtype != np.uint8:
        if a.dtype == bool:
            a = a.astype(np.uint8)
        elif not np.issubdtype(a.dtype, np.integer):
            raise InputError(f"{what} must hold integer class values, not {a.dtype}")
        elif a.size and (a.min() < 0 or a.max() > 255):
            raise InputError(f"{what} holds values outside 0..255 ({a.min()}..{a.max()})")
        else:
            a = a.astype(np.uint8)
    return np.ascontiguousarray(a)


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def evaluate(
    pred: ArrayOrPath,
    truth: ArrayOrPath,
    class_map: PathLike = "main5",
    split: Optional[PathLike] = None,
    scheme: PathLike = "official",
    ignore_index: Optional[int] = None,
) -> Dict[str, Any]:
    """Scores predictions against the ground truth, with don't care left out everywhere.

    - ``pred`` and ``truth`` folders of masks (``DIR/masks/`` or ``DIR``): the same as
      ``bcss eval PRED TRUTH --json``; predictions hold the map's classes 1..K (0: no
      prediction) and the truth BCSS codes, remapped through ``class_map``;
    - ``pred`` a dict ROI id -> array and ``truth`` a dataset root: each prediction against its
      ROI's mask file (a ROI without prediction is a problem);
    - ``pred`` and ``truth`` arrays (one pair), or two lists of arrays (pairs by position,
      named ``"0"``, ``"1"``, ...): both hold class values as a :class:`~bcss.Dataset` gives them.

    Arrays are H x W integers in the datasets' convention: 0 don't care (truth) or no
    prediction, classes 1..K; with ``ignore_index``, classes 0..K-1 and ``ignore_index`` for
    don't care / no prediction (so ``argmax`` outputs score as they are). ``split`` (a part:
    train, val, test, with ``scheme`` as for :class:`~bcss.Dataset`) limits the evaluation to
    the ROIs of that part (not for bare arrays, which have no ROI id).

    Returns the dict ``bcss eval --json`` prints (``class_map``, ``images``,
    ``labelled_pixels``, ``confusion``, ``pooled`` and ``per_image_mean`` with per-class Dice,
    IoU, precision and recall, pixel accuracy and means, ``per_image`` with each ROI's scores
    per class, ``problems`` each with its ``kind``, ``warnings`` naming the likely cause when
    the predictions look like another class map: raw codes, 0-based classes) plus
    ``confusion_matrix``: a numpy uint64 array K x (K+1), rows true class 1..K, columns
    predicted value 0..K. Raises :class:`~bcss.PartialFailure` (the report in ``.summary``)
    when some images could not be evaluated, as ``bcss eval`` exits 1, and
    :class:`~bcss.InputError` for bad arguments.
    """
    cmap = os.fspath(class_map)
    split_s, scheme_s, ignore = _spec(split), os.fspath(scheme), _ignore(ignore_index)
    if _is_path(pred):
        if not _is_path(truth):
            raise InputError("a folder of predictions needs a folder of ground-truth masks as `truth`")
        if ignore is not None:
            raise InputError("ignore_index applies to arrays; prediction files hold the map's classes 1..K")
        text = _bcss.evaluate_files(os.fspath(pred), os.fspath(truth), cmap, split_s, scheme_s)
    elif isinstance(pred, Mapping):
        if not _is_path(truth):
            raise InputError("predictions by ROI id need a dataset root as `truth`")
        preds = [(str(roi), _mask(a, f"prediction of `{roi}`")) for roi, a in pred.items()]
        text = _bcss.evaluate_predictions(preds, os.fspath(truth), cmap, split_s, scheme_s, ignore)
    else:
        if split_s is not None:
            raise InputError("split needs ROI ids: pass a dict ROI id -> prediction and a dataset root as `truth`")
        items: List[Tuple[str, np.ndarray, np.ndarray]]
        if isinstance(pred, np.ndarray) or isinstance(truth, np.ndarray):
            items = [("0", _mask(truth, "truth"), _mask(pred, "prediction"))]
        else:
            preds_l, truths_l = list(pred), list(truth)  # type: ignore[arg-type]
            if len(preds_l) != len(truths_l):
                raise InputError(f"{len(preds_l)} predictions for {len(truths_l)} ground-truth masks")
            items = [
                (str(i), _mask(t, f"truth {i}"), _mask(p, f"prediction {i}"))
                for i, (p, t) in enumerate(zip(preds_l, truths_l))
            ]
        text = _bcss.evaluate_arrays(items, cmap, ignore)
    report = json.loads(text)
    k = report["confusion"]["k"]
    report["confusion_matrix"] = np.array(report["confusion"]["counts"], dtype=np.uint64).reshape(k, k + 1)
    if report["problems"]:
        first = report["problems"][0]
        raise PartialFailure(
            f"{len(report['problems'])} file(s) could not be evaluated; the metrics leave them out "
            f"(first: `{first['file']}`: {first['message']})",
            summary=report,
        )
    return report
