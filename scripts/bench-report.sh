#!/usr/bin/env bash
# Size, time and peak memory of `bcss report` on the 151 ROIs of the built-in table at their
# real aspect ratios (crates/bcss/examples/synth_dataset.rs, sizes times SCALE), measured in the
# same run as the anchors `bcss stats` (one pass over the masks) and `bcss overlay` (one pass
# over masks and images, writing overlays) on the same files.
#
#   scripts/bench-report.sh                 # SCALE=0.25: about 230 MP, 0.6 GB of PNGs
#   BENCH_DIR=/big/disk SCALE=1 JOBS=2 scripts/bench-report.sh
#
# Prints one line per command: wall seconds, user+sys seconds, peak RSS (GNU time), and for the
# report its size in MB.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${BENCH_DIR:-/tmp/bcss-bench-report}
SCALE=${SCALE:-0.25}
JOBS=${JOBS:-$(nproc)}

cargo build --locked --release -p bcss-cli --bin bcss -p bcss --example synth_dataset
BCSS=target/release/bcss

if [ ! -d "$WORK/data-$SCALE/masks" ]; then
  echo "generating the synthetic dataset (scale $SCALE) in $WORK/data-$SCALE" >&2
  target/release/examples/synth_dataset "$WORK/data-$SCALE" --scale "$SCALE"
fi
rm -rf "$WORK/stats" "$WORK/overlay" "$WORK/report.html"

measure() {
  local name=$1
  shift
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.txt" "$@" > /dev/null
  read -r wall user sys rss < "$WORK/time.txt"
  awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
    'BEGIN { printf "%-8s wall %6.2f s  cpu %6.2f s  peak RSS %5.0f MB\n", n, w, u + s, r / 1024 }'
}

mp=$("$BCSS" --json stats "$WORK/data-$SCALE" --jobs "$JOBS" --out "$WORK/stats" | grep -m1 '"megapixels"' | tr -dc '0-9.')
echo "dataset: 151 ROIs, $mp MP, $(du -sh "$WORK/data-$SCALE" | cut -f1) (scale $SCALE, jobs $JOBS, load $(cut -d' ' -f1-3 /proc/loadavg))"
measure stats "$BCSS" --json stats "$WORK/data-$SCALE" --jobs "$JOBS" --out "$WORK/stats"
measure overlay "$BCSS" --json overlay "$WORK/data-$SCALE" --jobs "$JOBS" --downsample 4 --out "$WORK/overlay"
measure report "$BCSS" --json report "$WORK/data-$SCALE" --jobs "$JOBS" --overlays "$WORK/overlay" --out "$WORK/report.html"
echo "report: $(awk -v b="$(stat -c %s "$WORK/report.html")" 'BEGIN { printf "%.2f", b / 1e6 }') MB"
