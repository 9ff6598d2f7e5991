"""Type stubs of the native module ``bcss._bcss`` (crates/bcss-py)."""

from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

__version__: str
#: True when this build reads slide files (``extract``) with OpenSlide.
HAS_OPENSLIDE: bool

#: The BCSS standard's Ruderman lab means (l, alpha, beta): ROI TCGA-A2-A3XS-DX1's statistics.
BCSS_TARGET_MU: Tuple[float, float, float]
#: The BCSS standard's Ruderman lab standard deviations.
BCSS_TARGET_SIGMA: Tuple[float, float, float]

def run_cli(argv: Sequence[str]) -> int:
    """Runs the bcss command line ``argv`` (``argv[0]`` is the program name); returns the exit code."""

def call(
    argv: Sequence[str],
    progress: Optional[Callable[[int, int, int, str], None]] = None,
) -> Tuple[int, Optional[str], Optional[str], Optional[str]]:
    """Runs a command line as a function: ``(exit, summary_json, message, hint)``."""

class DatasetCore:
    """Whole ROIs (the native half of ``bcss.Dataset``)."""

    def __init__(
        self, root: str, class_map: str, split: Optional[str], scheme: str, ignore_index: Optional[int]
    ) -> None: ...
    def __len__(self) -> int: ...
    def get(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(image uint8 HxWx3, mask uint8 HxW)`` of ROI ``i``."""
    def rois(self) -> List[Dict[str, Any]]: ...
    def classes(self) -> Dict[str, Any]: ...

class TileCore:
    """The tiles of ``bcss tile``, read lazily (the native half of ``bcss.TileDataset``)."""

    def __init__(
        self,
        root: str,
        class_map: str,
        split: Optional[str],
        scheme: str,
        ignore_index: Optional[int],
        size: int,
        stride: int,
        min_labelled: float,
        tiles: Optional[List[Tuple[int, int, int, float]]] = None,
    ) -> None: ...
    def __len__(self) -> int: ...
    def get(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(image uint8 size x size x 3, mask uint8 size x size)`` of tile ``i``."""
    def tiles(self) -> List[Tuple[int, int, int, float]]:
        """``(roi index, x, y, labelled fraction)`` of every tile."""
    def roi_ids(self) -> List[str]: ...
    def rois(self) -> List[Dict[str, Any]]: ...
    def classes(self) -> Dict[str, Any]: ...

class CropStream:
    """One worker's random crops for one epoch (the native half of ``bcss.RandomCrops``)."""

    def __init__(
        self,
        root: str,
        class_map: str,
        split: str,
        scheme: str,
        ignore_index: Optional[int],
        size: int,
        per_roi: int,
        seed: int,
        class_weights: Optional[Sequence[float]],
        worker: int,
        workers: int,
        epoch: int,
    ) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Tuple[np.ndarray, np.ndarray, np.ndarray, str, int, int]]: ...
    def __next__(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray, str, int, int]:
        """``(image, mask, weight float32, roi, x, y)``."""

def evaluate_files(pred: str, truth: str, class_map: str, split: Optional[str], scheme: str) -> str:
    """``bcss eval --json`` on two folders of masks, optionally limited to one part."""

def evaluate_arrays(
    items: Sequence[Tuple[str, np.ndarray, np.ndarray]], class_map: str, ignore_index: Optional[int]
) -> str:
    """``(name, truth, prediction)`` uint8 arrays scored; the report as JSON."""

def evaluate_predictions(
    preds: Sequence[Tuple[str, np.ndarray]],
    truth: str,
    class_map: str,
    split: Optional[str],
    scheme: str,
    ignore_index: Optional[int],
) -> str:
    """Predictions by ROI id scored against a dataset root's masks; the report as JSON."""

def reinhard(
    im_src: np.ndarray,
    target_mu: Tuple[float, float, float],
    target_sigma: Tuple[float, float, float],
    src_mu: Optional[Tuple[float, float, float]],
    src_sigma: Optional[Tuple[float, float, float]],
    mask_out: Optional[np.ndarray],
) -> np.ndarray:
    """HistomicsTK 1.4.0's ``reinhard`` on a C-contiguous uint8 (H, W, 3) array; ``mask_out`` a
    C-contiguous uint8 (H, W) array, nonzero = left out of the statistics and kept unchanged.
    Returns a new uint8 (H, W, 3) array. ``src_mu`` and ``src_sigma`` together or neither."""

def lab_mean_std(
    im_input: np.ndarray, mask_out: Optional[np.ndarray]
) -> Tuple[List[float], List[float]]:
    """HistomicsTK 1.4.0's ``lab_mean_std``: ``(means, population standard deviations)``, 3 each, in
    Ruderman's lab space over the pixels not masked out (arrays as for :func:`reinhard`)."""
