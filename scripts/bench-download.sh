#!/usr/bin/env bash
# Benchmark of `bcss download` against the stand-in DSA (crates/bcss-testserver) on 127.0.0.1.
#
# Starts the release stand-in with per-request latency and a bandwidth cap, then runs a full
# download of N ROIs (default 20, about 2000 x 1500 base px each; every fifth slide is 20x, so
# its image is up-sampled 2x at 0.25 um/px) with the release `bcss` at --jobs 1 and --jobs 4,
# each into a fresh directory. Reports wall time, peak RSS and user+sys CPU of the bcss process
# (GNU time -v), and CPU seconds per ROI. The stand-in's own CPU is not counted.
#
#   scripts/bench-download.sh                  # builds release binaries if missing
#   LATENCY_MS=50 BANDWIDTH=50000000 ROIS=20 ROI=2000x1500 JOBS="1 4" scripts/bench-download.sh
#   PICTURE=tissue scripts/bench-download.sh   # H&E-like regions instead of the test pattern
#   BCSS_BIN=/tmp/old/bcss scripts/bench-download.sh   # another bcss build, same server
#
# PICTURE (default pattern) is the stand-in's --picture: the test pattern's repeating gradients
# compress nothing like tissue, so PNG sizes and encode times with `pattern` say little about
# real slides; `tissue` is an H&E-like picture that compresses like one. BCSS_BIN (default
# $TARGET/release/bcss) is the client measured, e.g. an older build against the same server.
#
# Output: a Markdown table on stdout (paste into BENCHMARKS.md); raw logs in $WORK.
set -euo pipefail

cd "$(dirname "$0")/.."
LATENCY_MS=${LATENCY_MS:-50}
BANDWIDTH=${BANDWIDTH:-50000000}   # bytes/s per response (about 400 Mbit/s)
ROIS=${ROIS:-20}
ROI=${ROI:-2000x1500}
JOBS=${JOBS:-"1 4"}
ENCODING=${ENCODING:-jpeg}
PICTURE=${PICTURE:-pattern}
TARGET=${CARGO_TARGET_DIR:-target}
BCSS_BIN=${BCSS_BIN:-$TARGET/release/bcss}
WORK=${WORK:-$(mktemp -d /tmp/bcss-bench.XXXXXX)}
mkdir -p "$WORK"

if [ ! -x "$TARGET/release/bcss" ] || [ ! -x "$TARGET/release/bcss-testserver" ]; then
  cargo build --release -p bcss-cli -p bcss-testserver >&2
fi
if [ ! -x "$BCSS_BIN" ]; then
  echo "bench-download.sh: BCSS_BIN=$BCSS_BIN is not an executable" >&2
  exit 2
fi

"$TARGET/release/bcss-testserver" --slides "$ROIS" --roi "$ROI" --latency-ms "$LATENCY_MS" \
  --bandwidth "$BANDWIDTH" --picture "$PICTURE" --roi-csv "$WORK/roiBounds.csv" \
  > "$WORK/server.env" 2> "$WORK/server.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q '^ROI_CSV=' "$WORK/server.env" 2>/dev/null && break
  sleep 0.1
done
if ! grep -q '^ROI_CSV=' "$WORK/server.env" 2>/dev/null; then
  # E.g. a release bcss-testserver older than --picture: rebuild it.
  echo "bench-download.sh: the stand-in did not start:" >&2
  cat "$WORK/server.log" >&2
  exit 2
fi
API_URL=$(sed -n 's/^BCSS_API_URL=//p' "$WORK/server.env")
FOLDER=$(sed -n 's/^BCSS_FOLDER_ID=//p' "$WORK/server.env")

echo "| jobs | ROIs | wall s | user+sys s | CPU s per ROI | peak RSS MB | MB received | MB written |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for j in $JOBS; do
  out="$WORK/out-j$j"
  rm -rf "$out"
  BCSS_API_KEY=bcss-test-key /usr/bin/time -v "$BCSS_BIN" --json download \
    --api-url "$API_URL" --folder-id "$FOLDER" --roi-bounds "$WORK/roiBounds.csv" \
    --out "$out" --mpp 0.25 --encoding "$ENCODING" --jobs "$j" \
    > "$WORK/summary-j$j.json" 2> "$WORK/time-j$j.txt"
  done_n=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['done']))" "$WORK/summary-j$j.json")
  bytes=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['bytes'])" "$WORK/summary-j$j.json")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/time-j$j.txt" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  user=$(sed -n 's/.*User time (seconds): //p' "$WORK/time-j$j.txt")
  sys=$(sed -n 's/.*System time (seconds): //p' "$WORK/time-j$j.txt")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time-j$j.txt")
  written=$(cat "$out"/images/*.png "$out"/masks/*.png 2>/dev/null | wc -c)
  awk -v j="$j" -v n="$done_n" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v b="$bytes" -v o="$written" \
    'BEGIN { printf "| %d | %d | %.2f | %.2f | %.3f | %.0f | %.1f | %.1f |\n", j, n, w, u+s, (u+s)/(n>0?n:1), r/1024, b/1e6, o/1e6 }'
done
echo
echo "latency ${LATENCY_MS} ms/request, bandwidth cap ${BANDWIDTH} B/s per response, ${ROIS} ROIs of about ${ROI} base px, --picture ${PICTURE}, --mpp 0.25 --encoding ${ENCODING}, client ${BCSS_BIN}; logs in ${WORK}"
