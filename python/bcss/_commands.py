"""The bcss commands as functions.

Each function builds the command line its keyword arguments stand for (``jobs=8`` is
``--jobs 8``, ``no_icc=True`` is ``--no-icc``, ``slides=["A", "B"]`` is ``--slides A,B``) and
runs it through the CLI's own parsing and validation in Rust, with the GIL released. ``None`` or
``False`` leaves a flag out, so the CLI's default (and its ``BCSS_*`` environment variables and
``--config`` file) apply. The result is the summary ``bcss <command> --json`` prints, as plain
Python data; a failure raises the :class:`~bcss.BcssError` subclass of its exit code with the
CLI's message. Ctrl-C (KeyboardInterrupt) stops a run between ROIs: ROIs under way finish,
nothing partial is left (every file is written under a temporary name and renamed).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Union

from bcss import _bcss
from bcss._errors import BY_EXIT, BcssError
from bcss._progress import ProgressArg, make_reporter

PathLike = Union[str, "os.PathLike[str]"]


def _flags(**flags: Any) -> List[str]:
    argv: List[str] = []
    for name, value in flags.items():
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, ",".join(str(v) for v in value)]
        else:
            argv += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return argv


def _run(command: str, positional: Sequence[PathLike], flags: List[str], progress: ProgressArg) -> Any:
    argv = ["bcss", command, *flags]
    if positional:
        argv += ["--", *(os.fspath(p) for p in positional)]
    reporter = make_reporter(progress, command)
    try:
        code, summary, message, hint = _bcss.call(argv, reporter)
    finally:
        close = getattr(reporter, "close", None)
        if close is not None:
            close()
    result = json.loads(summary) if summary is not None else None
    if code == 0:
        return result
    raise BY_EXIT.get(code, BcssError)(message or f"bcss {command} failed (exit {code})", hint=hint, summary=result)


def download(
    *,
    out: Optional[PathLike] = None,
    config: Optional[PathLike] = None,
    roi_bounds: Optional[PathLike] = None,
    slides: Optional[Sequence[str]] = None,
    mpp: Optional[float] = None,
    mag: Optional[float] = None,
    base: bool = False,
    pipeline: Optional[Sequence[str]] = None,
    png_compression: Optional[str] = None,
    source: Optional[str] = None,
    api_url: Optional[str] = None,
    api_key: Optional[str] = None,
    login: Optional[str] = None,
    folder_id: Optional[str] = None,
    jobs: Optional[int] = None,
    compat: bool = False,
    encoding: Optional[str] = None,
    no_icc: bool = False,
    mask_source: Optional[str] = None,
    gdc_url: Optional[str] = None,
    gdc_token_file: Optional[PathLike] = None,
    gdc_manifest: Optional[PathLike] = None,
    gdc_cache: Optional[PathLike] = None,
    retries: Optional[int] = None,
    timeout: Optional[float] = None,
    ca_cert: Optional[PathLike] = None,
    wait_lock: bool = False,
    progress: ProgressArg = True,
) -> Dict[str, Any]:
    """``bcss download``: build the dataset (images + masks) from a DSA or the GDC.

    Returns the run's summary (``done``, ``skipped``, ``failed``, ``failures``, ``out``, ``log``, ...);
    ``failures`` has one dict per failed ROI: ``id``, ``step``, ``status`` (HTTP, or ``None``), ``reason``.
    Raises :class:`~bcss.PartialFailure` (with ``.summary``) when some ROIs failed.
    """
    flags = _flags(
        config=config, roi_bounds=roi_bounds, slides=slides, out=out, mpp=mpp, mag=mag, base=base,
        pipeline=pipeline, png_compression=png_compression, source=source, api_url=api_url,
        api_key=api_key, login=login, folder_id=folder_id, jobs=jobs, compat=compat,
        encoding=encoding, no_icc=no_icc, mask_source=mask_source, gdc_url=gdc_url,
        gdc_token_file=gdc_token_file, gdc_manifest=gdc_manifest, gdc_cache=gdc_cache,
        retries=retries, timeout=timeout, ca_cert=ca_cert, wait_lock=wait_lock,
    )  # fmt: skip
    return _run("download", [], flags, progress)


def extract(
    slides_dir: PathLike,
    *,
    out: Optional[PathLike] = None,
    config: Optional[PathLike] = None,
    roi_bounds: Optional[PathLike] = None,
    slides: Optional[Sequence[str]] = None,
    mpp: Optional[float] = None,
    mag: Optional[float] = None,
    base: bool = False,
    pipeline: Optional[Sequence[str]] = None,
    png_compression: Optional[str] = None,
    jobs: Optional[int] = None,
    mask_source: Optional[str] = None,
    masks_dir: Optional[PathLike] = None,
    annotations_dir: Optional[PathLike] = None,
    retries: Optional[int] = None,
    timeout: Optional[float] = None,
    ca_cert: Optional[PathLike] = None,
    wait_lock: bool = False,
    progress: ProgressArg = True,
) -> Dict[str, Any]:
    """``bcss extract``: build the dataset from slide files on disk (OpenSlide).

    Returns the run's summary, as :func:`download`.
    """
    if not _bcss.HAS_OPENSLIDE:
        raise BcssError(
            "this build of bcss has no OpenSlide, which `extract` needs to read slide files",
            hint="build from source with OpenSlide: install libopenslide-dev and libclang-dev "
            "(scripts/setup-system.sh), then `pip install .` in a clone of bcss",
        )
    flags = _flags(
        slides_dir=slides_dir, config=config, roi_bounds=roi_bounds, slides=slides, out=out, mpp=mpp, mag=mag,
        base=base, pipeline=pipeline, png_compression=png_compression, jobs=jobs,
        mask_source=mask_source, masks_dir=masks_dir, annotations_dir=annotations_dir,
        retries=retries, timeout=timeout, ca_cert=ca_cert, wait_lock=wait_lock,
    )  # fmt: skip
    return _run("extract", [], flags, progress)


def verify(
    dir: PathLike,
    *,
    roi_bounds: Optional[PathLike] = None,
    slides: Optional[Sequence[str]] = None,
    no_hash: bool = False,
) -> Dict[str, Any]:
    """``bcss verify``: check a dataset against its manifest and the dataset's invariants.

    Returns the report (``rois_checked``, ``files_checked``, ``with_manifest``, ``problems``).
    Raises :class:`~bcss.PartialFailure` (the report in ``.summary``) when there are problems.
    """
    return _run("verify", [dir], _flags(roi_bounds=roi_bounds, slides=slides, no_hash=no_hash), False)


def stats(
    dir: PathLike,
    *,
    out: PathLike,
    class_map: Optional[str] = None,
    split: Optional[str] = None,
    part: Optional[Sequence[str]] = None,
    jobs: Optional[int] = None,
    wait_lock: bool = False,
    progress: ProgressArg = True,
) -> Dict[str, Any]:
    """``bcss stats``: class frequencies and loss weights per split, written to ``out``.

    ``part=["test"]`` keeps only the ROIs of those parts of the split (``--part``).

    Returns the summary (``out``, ``files``, ``class_map``, ``rois``, ``parts``, ...).
    """
    return _run("stats", [dir], _flags(class_map=class_map, split=split, part=part, out=out, jobs=jobs, wait_lock=wait_lock), progress)


def split(
    *,
    out: Optional[PathLike] = None,
    scheme: Optional[str] = None,
    roi_bounds: Optional[PathLike] = None,
    check: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """``bcss split``: write the official split by institution, or check a split file.

    Writing returns ``{"out", "scheme", "counts"}``; ``check=FILE`` returns
    ``{"file", "counts", "ok", "leaks"}`` and raises :class:`~bcss.PartialFailure` on leakage.
    """
    return _run("split", [], _flags(scheme=scheme, out=out, roi_bounds=roi_bounds, check=check), False)
