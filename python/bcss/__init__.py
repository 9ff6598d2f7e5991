"""bcss: the BCSS breast-cancer semantic segmentation dataset, rebuilt and prepared for training.

The Rust library does the work; this package is a thin, typed layer over its native module
``bcss._bcss``:

- the ``bcss`` console command (and ``python -m bcss``) is the same CLI as the Rust binary;
- :func:`download`, :func:`extract`, :func:`verify`, :func:`stats` and :func:`split` are the
  commands as functions, returning what ``bcss <command> --json`` prints and raising a
  :class:`BcssError` subclass per exit class;
- the datasets (numpy, for PyTorch DataLoaders) are in ``bcss._bcss`` / ``datasets.rs``.
"""

from bcss._bcss import HAS_OPENSLIDE, __version__
from bcss._commands import download, extract, split, stats, verify
from bcss._errors import BcssError, InputError, OutputError, PartialFailure, ServerError
from bcss._progress import Reporter, TqdmReporter

__all__ = [
    "HAS_OPENSLIDE",
    "BcssError",
    "InputError",
    "OutputError",
    "PartialFailure",
    "Reporter",
    "ServerError",
    "TqdmReporter",
    "__version__",
    "download",
    "extract",
    "split",
    "stats",
    "verify",
]
