"""The dataset as numpy arrays, for PyTorch DataLoaders (or any training loop).

- :class:`Dataset`: whole ROIs, ``(image uint8 HxWx3, mask uint8 HxW)``;
- :class:`TileDataset`: the tiles ``bcss tile`` would write (same grid, same dropping rule),
  read lazily from the ROI PNGs, nothing written to disk;
- :class:`TileStream` (``TileDataset.stream()``): the same tiles as an iterable that gives
  each DataLoader worker whole ROIs of its own, so every ROI is decoded once per epoch;
- :class:`RandomCrops`: seeded random crops with per-pixel loss weights, an iterable whose
  share of the crops depends on the DataLoader worker it runs in.

Masks hold the class map's values: 0 don't care and classes 1..K, or, with ``ignore_index``
(e.g. 255), classes 0..K-1 and don't care as ``ignore_index`` (the convention of PyTorch's
``CrossEntropyLoss(ignore_index=...)`` and of MMSegmentation). Decoding runs in Rust with the
GIL released. Every object pickles as its constructor arguments (a :class:`TileDataset` also
carries its tile list, so a worker does not scan the masks again), so ``DataLoader(num_workers=N)``
works with the fork and the spawn start methods. Bad arguments and unreadable files raise
:class:`~bcss.InputError`.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from bcss import _bcss
from bcss._errors import InputError

PathLike = Union[str, "os.PathLike[str]"]


def _spec(value: Optional[PathLike]) -> Optional[str]:
    return None if value is None else os.fspath(value)


def _ignore(ignore_index: Optional[int]) -> Optional[int]:
    if ignore_index is None:
        return None
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)) or not 0 <= ignore_index <= 255:
        raise InputError(f"ignore_index {ignore_index!r} is not a mask value (an integer 0..255, usually 255)")
    return int(ignore_index)


def _args(root: PathLike, class_map: PathLike, split: Optional[PathLike], scheme: PathLike, ignore_index: Optional[int]) -> Dict[str, Any]:
    return {
        "root": os.fspath(root),
        "class_map": os.fspath(class_map),
        "split": _spec(split),
        "scheme": os.fspath(scheme),
        "ignore_index": _ignore(ignore_index),
    }


def _index(i: int, n: int) -> int:
    i = int(i)
    if i < 0:
        i += n
    if not 0 <= i < n:
        raise IndexError(f"index {i} out of range for {n} items")
    return i


class Dataset:
    """Whole ROIs of a dataset directory: item ``i`` is ``(image uint8 HxWx3, mask uint8 HxW)``.

    ``root`` is a dataset as ``bcss download`` writes it (``images/`` + ``masks/``) or the
    Google Drive copy (``rgbs_colorNormalized/`` + ``masks/``); images and masks are paired by
    ROI id and position whatever their MPP suffix. ``class_map`` is ``raw``, ``main5``,
    ``wsss4``, ``mutils``, ``mutils-main`` or a TOML file (as ``bcss --class-map``). ``split``
    is ``"train"``, ``"val"``, ``"test"``, ``None`` (every ROI) or a split file (every ROI it
    places); parts come from
    ``scheme``: ``official`` (train/test by site, as in the paper), ``official-val`` (with val)
    or a split file written by ``bcss split``. ROIs are in id order.
    """

    def __init__(
        self,
        root: PathLike,
        class_map: PathLike = "main5",
        split: Optional[PathLike] = None,
        scheme: PathLike = "official",
        ignore_index: Optional[int] = None,
    ) -> None:
        self._args = _args(root, class_map, split, scheme, ignore_index)
        self._open()

    def _open(self) -> None:
        a = self._args
        self._core = _bcss.DatasetCore(a["root"], a["class_map"], a["split"], a["scheme"], a["ignore_index"])
        self._rois: Optional[List[Dict[str, Any]]] = None

    def __len__(self) -> int:
        return len(self._core)

    def __getitem__(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        return self._core.get(_index(i, len(self)))

    @property
    def rois(self) -> List[Dict[str, Any]]:
        """Per ROI: ``roi``, ``slide``, ``site``, ``patient``, ``part``, ``xmin``, ``ymin``,
        ``width``, ``height``, ``image`` and ``mask`` (paths)."""
        if self._rois is None:
            self._rois = self._core.rois()
        return self._rois

    @property
    def classes(self) -> Dict[str, Any]:
        """``{"map", "names", "colors", "values", "ignore"}``: the classes' names, RGB colours and
        mask values, and the value of don't care (0, or ``ignore_index``)."""
        return self._core.classes()

    def __getstate__(self) -> Dict[str, Any]:
        return {"args": self._args}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self._args = state["args"]
        self._open()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._args['root']!r}, {len(self)} ROIs)"


class TileDataset(Dataset):
    """Fixed ``size x size`` tiles, as ``bcss tile`` cuts them, read lazily from the ROI PNGs.

    The grid is every ``stride`` pixels (default ``size``) with the last row and column moved
    back to the ROI's edge; a ROI smaller than a tile gives one tile padded with don't care
    (mask) and black (image); a tile whose labelled share is under ``min_labelled`` is dropped.
    The tile list is the one ``bcss tile`` writes for the same arguments (:attr:`tiles`).

    Building the list decodes every mask once. Reading keeps the last ROI open with a band of
    ``size`` rows: tiles read in order (a sequential sampler, or each DataLoader worker on its
    share) decode each row once; shuffled access decodes from the top of the ROI to the tile
    (about 15x slower: for shuffled training prefer :class:`RandomCrops`).
    Other arguments as :class:`Dataset`.
    """

    def __init__(
        self,
        root: PathLike,
        size: int = 512,
        stride: Optional[int] = None,
        min_labelled: float = 0.5,
        class_map: PathLike = "main5",
        split: Optional[PathLike] = None,
        scheme: PathLike = "official",
        ignore_index: Optional[int] = None,
    ) -> None:
        self._args = _args(root, class_map, split, scheme, ignore_index)
        self._args.update(size=int(size), stride=int(stride if stride is not None else size), min_labelled=float(min_labelled))
        self._open_tiles(None)

    def _open_tiles(self, tiles: Optional[List[Tuple[int, int, int, float]]]) -> None:
        a = self._args
        self._core = _bcss.TileCore(
            a["root"], a["class_map"], a["split"], a["scheme"], a["ignore_index"],
            a["size"], a["stride"], a["min_labelled"], tiles,
        )  # fmt: skip
        self._rois = None
        ids = self._core.roi_ids()
        self._tiles = [(ids[r], x, y) for r, x, y, _ in self._core.tiles()]

    @property
    def tiles(self) -> List[Tuple[str, int, int]]:
        """``(roi, x, y)`` of every tile, in ``bcss tile``'s order (ROI, then y, then x)."""
        return list(self._tiles)

    def __getstate__(self) -> Dict[str, Any]:
        return {"args": self._args, "tiles": self._core.tiles()}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self._args = state["args"]
        self._open_tiles(state["tiles"])

    def stream(self, shuffle: bool = True, seed: int = 0, worker_id: Optional[int] = None, num_workers: Optional[int] = None) -> "TileStream":
        """These tiles as a :class:`TileStream`: an iterable for ``DataLoader(num_workers=N)``
        that decodes every ROI once per epoch (a map-style dataset cannot: the DataLoader
        hands its workers batches in turn, so each worker reads every ROI)."""
        return TileStream(self, shuffle=shuffle, seed=seed, worker_id=worker_id, num_workers=num_workers)

    def __repr__(self) -> str:
        return f"TileDataset({self._args['root']!r}, size={self._args['size']}, {len(self)} tiles)"


class TileStream:
    """The tiles of a :class:`TileDataset` as an iterable, sharded by ROI across workers.

    A map-style dataset in ``DataLoader(num_workers=N)`` receives its indices in batches handed
    to the workers in turn, so every worker reads (and decodes) every ROI: N times the work.
    Here worker ``k`` of ``n`` (from ``torch.utils.data.get_worker_info()``, or as set with
    ``worker_id``/``num_workers`` or :meth:`for_worker`) takes every ``n``-th ROI and yields its
    tiles band by band, so each ROI is decoded once per epoch whatever the number of workers.

    With ``shuffle`` the ROI order is drawn from ``(seed, epoch)`` (call :meth:`set_epoch`
    before each epoch), and so is the order of the tiles within each band of ``size`` rows
    (free: the band is decoded once for all of them); bands are read top to bottom. Without it,
    a single worker yields the dataset's order. Items are those of the dataset,
    ``(image, mask)``. ``len()`` counts the tiles of all workers.
    """

    def __init__(
        self,
        tiles: TileDataset,
        shuffle: bool = True,
        seed: int = 0,
        worker_id: Optional[int] = None,
        num_workers: Optional[int] = None,
    ) -> None:
        if (worker_id is None) != (num_workers is None):
            raise InputError("give both worker_id and num_workers, or neither")
        self._tiles = tiles
        self._shuffle = bool(shuffle)
        self._seed = int(seed)
        self._epoch = 0
        self._worker = None if worker_id is None else _worker_pair(worker_id, num_workers)  # type: ignore[arg-type]
        # Tile indices per ROI, bands (same y) kept together, in the dataset's order.
        self._rois: Dict[str, List[List[int]]] = {}
        last_y: Dict[str, int] = {}
        for i, (roi, _x, y) in enumerate(tiles.tiles):
            bands = self._rois.setdefault(roi, [])
            if last_y.get(roi) != y:
                bands.append([])
                last_y[roi] = y
            bands[-1].append(i)
        _register_iterable()

    def for_worker(self, worker_id: int, num_workers: int) -> "TileStream":
        """A copy that yields the share of worker ``worker_id`` of ``num_workers``."""
        other = TileStream(self._tiles, shuffle=self._shuffle, seed=self._seed, worker_id=worker_id, num_workers=num_workers)
        other._epoch = self._epoch
        return other

    def set_epoch(self, epoch: int) -> None:
        """Uses ``epoch`` in the shuffle of the next iterations (as DistributedSampler does)."""
        self._epoch = int(epoch)

    def worker(self) -> Tuple[int, int]:
        """``(worker_id, num_workers)`` this iteration would use."""
        return self._worker or _torch_worker() or (0, 1)

    def order(self) -> List[int]:
        """The dataset indices this worker yields in this epoch, in order."""
        k, n = self.worker()
        rois = list(self._rois)
        rng = random.Random(self._seed * 1_000_003 + self._epoch)
        if self._shuffle:
            rng.shuffle(rois)
        out: List[int] = []
        for roi in rois[k::n]:
            for band in self._rois[roi]:
                band = list(band)
                if self._shuffle:
                    rng.shuffle(band)
                out.extend(band)
        return out

    def __iter__(self) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        for i in self.order():
            yield self._tiles[i]

    def __len__(self) -> int:
        return len(self._tiles)

    def __repr__(self) -> str:
        return f"TileStream({self._tiles!r}, shuffle={self._shuffle}, seed={self._seed})"


def _worker_pair(worker_id: int, num_workers: int) -> Tuple[int, int]:
    k, n = int(worker_id), int(num_workers)
    if not 0 <= k < n:
        raise InputError(f"worker_id {k} is not in 0..{n - 1} (num_workers {n})")
    return k, n


def _torch_worker() -> Optional[Tuple[int, int]]:
    """``(id, num_workers)`` inside a PyTorch DataLoader worker (torch is imported there)."""
    data = sys.modules.get("torch.utils.data")
    if data is None:
        return None
    info = data.get_worker_info()
    return None if info is None else (info.id, info.num_workers)


def _register_iterable() -> None:
    """Makes ``isinstance(crops, torch.utils.data.IterableDataset)`` true when torch is loaded,
    so a DataLoader treats :class:`RandomCrops` and :class:`TileStream` as iterable (bcss never
    imports torch)."""
    data = sys.modules.get("torch.utils.data")
    if data is not None:
        try:
            data.IterableDataset.register(RandomCrops)
            data.IterableDataset.register(TileStream)
        except Exception:  # an IterableDataset that is not an ABC: subclass it yourself
            pass


class RandomCrops:
    """Seeded random ``size x size`` crops with per-pixel loss weights, as an iterable.

    Yields ``(image uint8 HxWx3, mask uint8 HxW, weight float32 HxW)``; weights are
    ``class_weights[class]`` (1.0 for every class by default; a list of K floats for classes
    1..K in order, such as the ``weight_median_frequency`` of ``bcss stats``) and 0.0 on don't
    care. A ROI is chosen at random, ``per_roi`` crops are cut from it, then the next; a ROI
    smaller than a crop is padded with don't care. One pass (an epoch) is ``per_roi`` crops per
    ROI of the share.

    Worker-aware: inside a PyTorch DataLoader worker (``torch.utils.data.get_worker_info()``),
    or as set with ``worker_id``/``num_workers`` or :meth:`for_worker`, worker ``k`` of ``n``
    draws from the part's ROIs whose index is ``k`` modulo ``n``, with a seed derived from
    ``(seed, epoch, k)``: two workers never cut from the same ROI, and a seed gives the same
    crops again. Call :meth:`set_epoch` before each epoch for new crops. With more workers than
    ROIs, the extra workers yield nothing. ``split`` must be a part (train, val or test).
    """

    def __init__(
        self,
        root: PathLike,
        size: int = 512,
        per_roi: int = 8,
        seed: int = 0,
        class_map: PathLike = "main5",
        split: PathLike = "train",
        scheme: PathLike = "official",
        ignore_index: Optional[int] = None,
        class_weights: Optional[Sequence[float]] = None,
        worker_id: Optional[int] = None,
        num_workers: Optional[int] = None,
    ) -> None:
        if (worker_id is None) != (num_workers is None):
            raise InputError("give both worker_id and num_workers, or neither")
        self._args = _args(root, class_map, split, scheme, ignore_index)
        self._args.update(
            size=int(size), per_roi=int(per_roi), seed=int(seed),
            class_weights=None if class_weights is None else [float(w) for w in class_weights],
        )  # fmt: skip
        self._worker = None if worker_id is None else (int(worker_id), int(num_workers))  # type: ignore[arg-type]
        self._epoch = 0
        # Checks every argument now (a bad one raises here, not in a worker).
        self._total = len(self._stream(0, 1))
        _register_iterable()

    def _stream(self, worker: int, workers: int) -> Any:
        a = self._args
        return _bcss.CropStream(
            a["root"], a["class_map"], a["split"], a["scheme"], a["ignore_index"], a["size"],
            a["per_roi"], a["seed"], a["class_weights"], worker, workers, self._epoch,
        )  # fmt: skip

    def for_worker(self, worker_id: int, num_workers: int) -> "RandomCrops":
        """A copy that draws the share of worker ``worker_id`` of ``num_workers``."""
        other = object.__new__(RandomCrops)
        other.__setstate__(self.__getstate__())
        other._worker = (int(worker_id), int(num_workers))
        other._stream(*other._worker)  # checks the numbers
        return other

    def set_epoch(self, epoch: int) -> None:
        """Uses ``epoch`` in the seed of the next iterations (as DistributedSampler does)."""
        self._epoch = int(epoch)

    def worker(self) -> Tuple[int, int]:
        """``(worker_id, num_workers)`` this iteration would use."""
        return self._worker or _torch_worker() or (0, 1)

    def __iter__(self) -> Iterator[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for image, mask, weight, _roi, _x, _y in self._stream(*self.worker()):
            yield image, mask, weight

    def crops(self) -> Iterator[Tuple[str, int, int]]:
        """``(roi, x, y)`` of the crops :meth:`__iter__` yields, without the pixels kept."""
        for _i, _m, _w, roi, x, y in self._stream(*self.worker()):
            yield roi, x, y

    def __len__(self) -> int:
        """Crops per epoch over all workers: ``per_roi`` times the ROIs of the part."""
        return self._total

    def __getstate__(self) -> Dict[str, Any]:
        return {"args": self._args, "worker": self._worker, "epoch": self._epoch, "total": self._total}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self._args = state["args"]
        self._worker = state["worker"]
        self._epoch = state["epoch"]
        self._total = state["total"]

    def __repr__(self) -> str:
        return f"RandomCrops({self._args['root']!r}, size={self._args['size']}, {len(self)} crops per epoch)"
