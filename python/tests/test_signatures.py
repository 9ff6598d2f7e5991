"""The Python surface agrees with the CLI and with the type stubs.

- Every command function takes exactly the flags of its CLI command (a keyword ``foo_bar`` is
  ``--foo-bar``), apart from the global output flags that the function answers another way (it
  returns the ``--json`` summary and takes ``progress=``) and the command's positional argument.
- ``_bcss.pyi`` declares every native function and class constructor with the parameters the
  extension really has (PyO3's ``__text_signature__``), in the same order.
"""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

from bcss import _bcss, _commands

# Flags of every command that a function answers in its own way: it returns the summary
# (--json), reports through `progress=` (--quiet, --no-progress), and has docstrings (--help).
GLOBAL = {"help", "version", "json", "quiet", "no-progress"}
# The positional argument each command takes, as the function's first parameter.
POSITIONAL = {"verify": "dir", "stats": "dir"}
COMMANDS = ["download", "extract", "verify", "stats", "split"]


def cli_flags(command: str) -> Set[str]:
    out = subprocess.run(
        [sys.executable, "-m", "bcss", command, "--help"], capture_output=True, text=True, check=True
    ).stdout
    return {m.group(2) for m in re.finditer(r"^\s+(-[a-zA-Z], )?--([a-z0-9-]+)", out, re.M)}


@pytest.mark.parametrize("command", COMMANDS)
def test_command_functions_take_the_cli_flags(command: str) -> None:
    params = [p for p in inspect.signature(getattr(_commands, command)).parameters if p != "progress"]
    positional = POSITIONAL.get(command)
    if positional:
        assert params[0] == positional, params
        params = params[1:]
    python = {p.replace("_", "-") for p in params}
    cli = cli_flags(command) - GLOBAL
    assert sorted(cli - python) == [], f"`bcss {command}` flags missing from bcss.{command}()"
    assert sorted(python - cli) == [], f"bcss.{command}() keywords that `bcss {command}` does not take"


def stub_signatures() -> Dict[str, List[str]]:
    """The parameter names `_bcss.pyi` declares: functions by name, classes by their
    `__init__` (without `self`)."""
    tree = ast.parse((Path(_bcss.__file__).parent / "_bcss.pyi").read_text())
    out: Dict[str, List[str]] = {}

    def names(f: ast.FunctionDef) -> List[str]:
        a = f.args
        return [x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs] if x.arg != "self"]

    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = names(node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    out[node.name] = names(item)
    return out


def runtime_signature(obj: object) -> List[str]:
    text = obj.__text_signature__  # type: ignore[attr-defined]
    inner = text.strip()[1:-1]
    return [p.split("=")[0].strip().lstrip("*") for p in inner.split(",") if p.strip() and p.strip() not in ("$self", "/", "*")]


def test_the_stub_declares_what_the_extension_has() -> None:
    stubs = stub_signatures()
    native = {
        name: getattr(_bcss, name)
        for name in dir(_bcss)
        if not name.startswith("_") and getattr(getattr(_bcss, name), "__text_signature__", None)
    }
    assert len(native) >= 10, sorted(native)
    assert sorted(set(native) - set(stubs)) == [], "native items missing from _bcss.pyi"
    for name, obj in sorted(native.items()):
        assert stubs[name] == runtime_signature(obj), f"_bcss.pyi declares {name}{tuple(stubs[name])}"
