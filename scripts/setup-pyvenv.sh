#!/usr/bin/env bash
# The one Python venv of the repository's scripts, target/pyvenv, with every package of
# python/requirements-dev.txt (all versions pinned; from PyPI). Shared by scripts/test-python.sh
# and scripts/check-loaders.sh. pip runs only when the requirements or the interpreter changed
# since the last install (a stamp in the venv holds the requirements' SHA-256 and the Python
# version), so a second run costs nothing. A first install downloads 3.5 GB and makes a
# 7 GB venv (torch's CUDA build, the one PyPI has; only the CPU is used): 3.5 minutes here.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="$ROOT/target/pyvenv"
REQ="$ROOT/python/requirements-dev.txt"
STAMP="$VENV/.requirements-stamp"
# A venv whose interpreter is gone (Python upgraded or removed) is made again from scratch.
if ! "$VENV/bin/python" -c '' 2>/dev/null; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi
want="$(sha256sum "$REQ" | cut -d' ' -f1) $("$VENV/bin/python" -c 'import platform; print(platform.python_version())')"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "setup-pyvenv: installing python/requirements-dev.txt into target/pyvenv" >&2
  rm -f "$STAMP"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
  printf '%s\n' "$want" >"$STAMP"
fi
