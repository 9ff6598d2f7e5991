"""Progress of long commands: a tqdm bar when tqdm is importable, silent otherwise."""

from __future__ import annotations

from typing import Any, Callable, Optional, Union


class Reporter:
    """Receives progress: called as ``reporter(total, done, failed, unit)`` every ~100 ms.

    ``unit`` is ``"ROI"`` (``total`` ROIs planned, ``done`` ended) or ``"B"`` (bytes of
    whole-slide files). Subclass it, or pass any callable of that shape as ``progress=``.
    """

    def __call__(self, total: int, done: int, failed: int, unit: str) -> None:
        pass

    def close(self) -> None:
        """The run ended."""


class TqdmReporter(Reporter):
    """Draws a tqdm bar (``tqdm.auto``, so notebooks get a widget)."""

    def __init__(self, desc: str) -> None:
        self._desc = desc
        self._bar: Any = None
        self._unit = ""

    def __call__(self, total: int, done: int, failed: int, unit: str) -> None:
        if total == 0 and self._bar is None:
            return
        if self._bar is None or unit != self._unit:
            self.close()
            from tqdm.auto import tqdm

            scale = unit == "B"
            self._bar = tqdm(total=total, desc=self._desc, unit=unit, unit_scale=scale, unit_divisor=1024 if scale else 1000)
            self._unit = unit
        if self._bar.total != total:
            self._bar.total = total
        if done > self._bar.n:
            self._bar.update(done - self._bar.n)
        if failed:
            self._bar.set_postfix(failed=failed, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


ProgressArg = Union[bool, Reporter, Callable[[int, int, int, str], None], None]


def make_reporter(progress: ProgressArg, desc: str) -> Optional[Callable[[int, int, int, str], None]]:
    """``True``: a tqdm bar if tqdm is importable, else nothing; ``False``/``None``: nothing."""
    if progress is True:
        try:
            import tqdm  # noqa: F401
        except ImportError:
            return None
        return TqdmReporter(desc)
    if progress is False or progress is None:
        return None
    return progress
