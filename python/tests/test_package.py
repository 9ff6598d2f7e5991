"""The package: imports, version, typing markers, public names."""

from __future__ import annotations

import subprocess
from pathlib import Path

import bcss

from conftest import bcss_command


def test_version_is_the_cli_version() -> None:
    out = subprocess.run([*bcss_command(), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"bcss {bcss.__version__}"


def test_typed_package() -> None:
    pkg = Path(bcss.__file__).parent
    assert (pkg / "py.typed").exists()
    assert (pkg / "_bcss.pyi").exists()


def test_public_names() -> None:
    for name in bcss.__all__:
        assert hasattr(bcss, name), name
    for cls in (bcss.InputError, bcss.ServerError, bcss.OutputError, bcss.PartialFailure):
        assert issubclass(cls, bcss.BcssError)
    assert [c.exit_code for c in (bcss.PartialFailure, bcss.InputError, bcss.ServerError, bcss.OutputError)] == [1, 2, 3, 4]
