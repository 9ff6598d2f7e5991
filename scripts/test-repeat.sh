#!/usr/bin/env bash
# Runs the hermetic test suite N times in a row (default 20) and stops at the first failure:
# the check that no test is flaky. Build once, then `cargo test` N times.
#
#   scripts/test-repeat.sh            # 20 runs of `cargo test --workspace`
#   scripts/test-repeat.sh 5 -p bcss-cli --test it download   # 5 runs of a subset
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N=${1:-20}
shift || true
"$ROOT/scripts/setup-system.sh"
cargo test --locked --workspace --no-run "$@" >/dev/null 2>&1 || cargo test --locked --workspace --no-run "$@"
for i in $(seq 1 "$N"); do
  if ! cargo test --locked --workspace "$@" > "target/test-repeat.$i.log" 2>&1; then
    echo "run $i of $N FAILED: see target/test-repeat.$i.log" >&2
    grep -E "^test .* FAILED|panicked" "target/test-repeat.$i.log" >&2 || true
    exit 1
  fi
  echo "run $i of $N passed" >&2
done
echo "$N passed, 0 failed"
