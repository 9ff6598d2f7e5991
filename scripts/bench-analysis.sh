#!/usr/bin/env bash
# Throughput of `bcss stats` and `bcss tile` on a full-size synthetic dataset: the 151 ROIs of the
# built-in table at their real sizes (3689 MP), written by crates/bcss/examples/synth_dataset.rs.
#
#   scripts/bench-analysis.sh              # generate (once) and measure
#   BENCH_DIR=/big/disk SCALE=0.25 JOBS=2 scripts/bench-analysis.sh
#
# Needs about 9 GB for the dataset and as much again for the tiles (removed after the run).
# Prints megapixels of ROI per second of wall time, process start to exit.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${BENCH_DIR:-/tmp/bcss-bench}
SCALE=${SCALE:-1.0}
JOBS=${JOBS:-$(nproc)}

cargo build --release -p bcss-cli --bin bcss -p bcss --example synth_dataset
BCSS=target/release/bcss

if [ ! -d "$WORK/data/masks" ]; then
  echo "generating the synthetic dataset (scale $SCALE) in $WORK/data" >&2
  target/release/examples/synth_dataset "$WORK/data" --scale "$SCALE"
fi
rm -rf "$WORK/stats" "$WORK/tiles"

now() { date +%s.%N; }
mps() { awk -v mp="$1" -v s="$2" 'BEGIN { printf "%.1f", mp / s }'; }

t0=$(now)
"$BCSS" --json stats "$WORK/data" --class-map main5 --jobs "$JOBS" --out "$WORK/stats" > "$WORK/stats.json"
t1=$(now)
"$BCSS" --json tile "$WORK/data" --size 512 --stride 512 --class-map main5 --min-labelled 0.5 --jobs "$JOBS" --out "$WORK/tiles" > "$WORK/tile.json"
t2=$(now)

mp=$(grep -m1 '"megapixels"' "$WORK/stats.json" | tr -dc '0-9.')
tiles=$(grep -m1 '"tiles_written"' "$WORK/tile.json" | tr -dc '0-9')
stats_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
tile_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }')
du_data=$(du -sh "$WORK/data" | cut -f1)
du_tiles=$(du -sh "$WORK/tiles" | cut -f1)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), jobs $JOBS"
echo "dataset: $mp MP in 151 ROIs ($du_data of PNG)"
echo "stats:   ${stats_s} s, $(mps "$mp" "$stats_s") MP/s"
echo "tile:    ${tile_s} s, $(mps "$mp" "$tile_s") MP/s ($tiles tiles of 512 px, $du_tiles)"
rm -rf "$WORK/tiles"
