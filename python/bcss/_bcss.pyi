"""Type stubs of the native module ``bcss._bcss`` (crates/bcss-py)."""

from typing import Callable, Optional, Sequence, Tuple

__version__: str
#: True when this build reads slide files (``extract``) with OpenSlide.
HAS_OPENSLIDE: bool

def run_cli(argv: Sequence[str]) -> int:
    """Runs the bcss command line ``argv`` (``argv[0]`` is the program name); returns the exit code."""

def call(
    argv: Sequence[str],
    progress: Optional[Callable[[int, int, int, str], None]] = None,
) -> Tuple[int, Optional[str], Optional[str], Optional[str]]:
    """Runs a command line as a function: ``(exit, summary_json, message, hint)``."""
