"""The ``bcss`` command (console script and ``python -m bcss``): the Rust CLI, unchanged."""

from __future__ import annotations

import signal
import sys

from bcss._bcss import run_cli


def main() -> None:
    """Runs the bcss CLI with ``sys.argv`` and exits with its code.

    Python installs its own SIGINT handler (KeyboardInterrupt, only seen when Python code runs)
    and ignores SIGPIPE; the Rust binary relies on the default dispositions of both. They are
    restored here so Ctrl-C ends a download at once, exactly as with the binary (every file is
    written under a temporary name and renamed, so no partial file is left), and
    ``bcss rois | head`` ends quietly.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    argv = ["bcss", *sys.argv[1:]]
    sys.stdout.flush()
    sys.exit(run_cli(argv))


if __name__ == "__main__":
    main()
