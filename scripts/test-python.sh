#!/usr/bin/env bash
# The Python package's tests: builds the extension (debug) into the repository's venv,
# target/pyvenv (scripts/setup-pyvenv.sh: python/requirements-dev.txt, pinned; maturin, pytest,
# numpy, tqdm, Pillow to read the Reinhard fixtures' PNGs, and torch for the DataLoader test),
# builds the stand-in DSA binary, runs python/tests.
# Extra arguments go to pytest (e.g. `scripts/test-python.sh -k cli`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/target/pyvenv"
scripts/setup-pyvenv.sh
cargo build --locked -q -p bcss-testserver
# A dev build (opt-level as the workspace's dev profile), shared with `cargo test`'s artefacts.
VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" "$VENV/bin/maturin" develop --locked -q
set +e
"$VENV/bin/python" -m pytest -q python/tests -p no:cacheprovider "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "test-python: pytest collected no tests" >&2
  exit 1
fi
exit "$code"
