#!/usr/bin/env bash
# Checks that the BCSS loaders of eva (PyPI kaiko-eva) and torch-em read `bcss normalize`'s output
# with their code unpatched: a synthetic 151-ROI dataset with the catalogue's real names (small
# ROIs), normalised by bcss into the Drive layout, then every split of both libraries loaded and
# compared with the files (scripts/check_loaders.py says what is checked). Work files go to
# target/check-loaders/ (about 360 MB, emptied first). Exits 1 if any check failed.
# Needs the venv of scripts/setup-pyvenv.sh (made here; pinned in python/requirements-dev.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup-pyvenv.sh
# The dev binary `cargo test` builds and runs: after scripts/test (as in .ci/run) this builds
# nothing, where `cargo build -p bcss-cli` would rebuild with other features (about 1.5 minutes).
cargo test --locked -q --workspace --no-run
target/pyvenv/bin/python scripts/check_loaders.py --bcss target/debug/bcss --work target/check-loaders
