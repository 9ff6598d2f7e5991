"""Exceptions: one class per exit class of the ``bcss`` command, with its one-sentence message."""

from __future__ import annotations

from typing import Any, Optional


class BcssError(Exception):
    """A bcss command failed. ``exit_code`` is the CLI's exit code for the same failure."""

    exit_code: int = 1

    def __init__(self, message: str, hint: Optional[str] = None, summary: Any = None) -> None:
        super().__init__(message)
        self.message = message
        #: The CLI's ``hint:`` line, if any.
        self.hint = hint
        #: The command's summary (for :class:`PartialFailure`), else ``None``.
        self.summary = summary


class PartialFailure(BcssError):
    """The run finished but some ROIs failed, or ``verify``/``split`` found problems (exit 1).

    ``summary`` holds what the command returns on success (e.g. ``summary["failed"]``).
    """

    exit_code = 1


class InputError(BcssError):
    """Bad input: arguments, configuration, input files (exit 2)."""

    exit_code = 2


class ServerError(BcssError):
    """The server: unreachable, not a Girder API, authentication, listing (exit 3)."""

    exit_code = 3


class OutputError(BcssError):
    """The output directory cannot be created or written (exit 4)."""

    exit_code = 4


BY_EXIT = {1: PartialFailure, 2: InputError, 3: ServerError, 4: OutputError}
