"""bcss: the BCSS breast-cancer semantic segmentation dataset, rebuilt and prepared for training.

The Rust library does the work; this package is a thin, typed layer over its native module
``bcss._bcss``:

- the ``bcss`` console command (and ``python -m bcss``) is the same CLI as the Rust binary;
- :func:`download`, :func:`extract`, :func:`verify`, :func:`stats` and :func:`split` are the
  commands as functions, returning what ``bcss <command> --json`` prints and raising a
  :class:`BcssError` subclass per exit class;
- :class:`Dataset`, :class:`TileDataset` (and its :class:`TileStream`) and :class:`RandomCrops` give the dataset as numpy
  arrays for PyTorch DataLoaders (picklable, decoding in Rust with the GIL released);
- :func:`evaluate` scores predictions (folders, or arrays in memory) as ``bcss eval --json``;
- :func:`reinhard` and :func:`lab_mean_std` are HistomicsTK 1.4.0's Reinhard colour
  normalisation on numpy arrays, with the same pixels, to the BCSS standard
  (:data:`BCSS_TARGET_MU`, :data:`BCSS_TARGET_SIGMA`) by default.
"""

from bcss._bcss import HAS_OPENSLIDE, __version__
from bcss._colour import BCSS_TARGET_MU, BCSS_TARGET_SIGMA, lab_mean_std, reinhard
from bcss._commands import download, extract, split, stats, verify
from bcss._datasets import Dataset, RandomCrops, TileDataset, TileStream
from bcss._evaluate import evaluate
from bcss._errors import BcssError, InputError, OutputError, PartialFailure, ServerError
from bcss._progress import Reporter, TqdmReporter

__all__ = [
    "BCSS_TARGET_MU",
    "BCSS_TARGET_SIGMA",
    "HAS_OPENSLIDE",
    "BcssError",
    "Dataset",
    "InputError",
    "OutputError",
    "PartialFailure",
    "RandomCrops",
    "Reporter",
    "ServerError",
    "TileDataset",
    "TileStream",
    "TqdmReporter",
    "__version__",
    "download",
    "evaluate",
    "extract",
    "lab_mean_std",
    "reinhard",
    "split",
    "stats",
    "verify",
]
