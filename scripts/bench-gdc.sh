#!/usr/bin/env bash
# Benchmark of the two GDC roads against the GDC stand-in (crates/bcss-testserver) on 127.0.0.1:
#   A. `bcss download --source gdc`: each ROI read by byte ranges (tiles of the read level,
#      directories, smallest level) into a sparse cached copy;
#   B. `bcss download --pipeline wsis` (whole slide files) followed by `bcss extract`.
#
# Slides are Aperio-style SVS files written by `bcss-testserver write-svs` with real geometry
# (SIZE base pixels, levels 1/4/16/32, 256-px JPEG tiles) and tissue in TISSUE_MP megapixels
# around the ROI plus two other regions; the rest is blank (shared tiles), so the files are much
# smaller than real slides of that size. The ROI is ROI (BCSS's median is about 4450 x 4450).
# The stand-in paces every response body to BANDWIDTH bytes/s.
#
#   scripts/bench-gdc.sh
#   SLIDES=2 SIZE=100000x80000 ROI=4450x4450 BANDWIDTH=50000000 scripts/bench-gdc.sh
#
# Output: a Markdown table on stdout; raw logs in $WORK.
set -euo pipefail

cd "$(dirname "$0")/.."
SLIDES=${SLIDES:-2}
SIZE=${SIZE:-100000x80000}
ROI=${ROI:-4450x4450}
BANDWIDTH=${BANDWIDTH:-50000000}
TARGET=${CARGO_TARGET_DIR:-target}
WORK=${WORK:-$(mktemp -d /tmp/bcss-bench-gdc.XXXXXX)}
mkdir -p "$WORK/slides"

if [ ! -x "$TARGET/release/bcss" ] || [ ! -x "$TARGET/release/bcss-testserver" ]; then
  cargo build --release -p bcss-cli -p bcss-testserver >&2
fi
BCSS="$TARGET/release/bcss"

W=${SIZE%x*}; H=${SIZE#*x}; RW=${ROI%x*}; RH=${ROI#*x}
# BCSS slide names from the built-in table, so the GDC is searched by name as for real.
mapfile -t NAMES < <(sed -n '2,$p' crates/bcss-catalog/src/data/slide_magnifications.csv | cut -d, -f2 | head -n "$SLIDES")
printf ',xmin,ymin,xmax,ymax,mask_link\n' > "$WORK/roiBounds.csv"
SHORTS=()
for i in "${!NAMES[@]}"; do
  name=${NAMES[$i]}
  x0=$((W / 3 + 1000 * i)); y0=$((H / 3 + 700 * i)); x1=$((x0 + RW)); y1=$((y0 + RH))
  "$TARGET/release/bcss-testserver" write-svs "$WORK/slides/$name" "$SIZE" --levels 1,4,16,32 \
    --tissue "$((x0 - 2000)),$((y0 - 2000)),$((x1 + 2000)),$((y1 + 2000))" \
    --tissue "5000,5000,17000,17000" --tissue "$((W - 20000)),$((H - 20000)),$((W - 8000)),$((H - 8000))" >&2
  python3 - "$WORK/${name:0:12}-DX1.png" "$RW" "$RH" <<'EOF'
import struct, sys, zlib
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
row = bytes((x // 37) % 22 for x in range(w))
raw = b"".join(b"\0" + row for _ in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
open(path, "wb").write(png)
EOF
  printf '%s-DX1,%s,%s,%s,%s,%s\n' "${name:0:12}" "$x0" "$y0" "$x1" "$y1" "$WORK/${name:0:12}-DX1.png" >> "$WORK/roiBounds.csv"
  SHORTS+=("${name:0:12}")
done
SLIDE_BYTES=$(du -cb "$WORK"/slides/*.svs | tail -1 | cut -f1)

"$TARGET/release/bcss-testserver" gdc --dir "$WORK/slides" --bytes-per-sec "$BANDWIDTH" \
  > "$WORK/server.env" 2> "$WORK/server.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q '^BCSS_GDC_URL=' "$WORK/server.env" 2>/dev/null && break
  sleep 0.1
done
GDC_URL=$(sed -n 's/^BCSS_GDC_URL=//p' "$WORK/server.env")
COMMON=(--gdc-url "$GDC_URL" --roi-bounds "$WORK/roiBounds.csv" --jobs 2)

measure() { # label, out, args...
  local label=$1; shift
  /usr/bin/time -v "$BCSS" --json "$@" > "$WORK/$label.json" 2> "$WORK/$label.time"
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/$label.time" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/$label.time")
  local bytes
  bytes=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(s.get('bytes', 0) + (s.get('wsis') or {}).get('bytes', 0))" "$WORK/$label.json")
  echo "$label $wall $((rss / 1024)) $bytes"
}

echo "slides: $SLIDES x $SIZE, $SLIDE_BYTES bytes in all; ROI $ROI; ${BANDWIDTH} B/s per response" >&2
A=$(measure gdc download --source gdc "${COMMON[@]}" --out "$WORK/A")
B1=$(measure wsis download --pipeline wsis "${COMMON[@]}" --out "$WORK/B")
B2=$(measure extract extract --slides-dir "$WORK/B/wsis" --roi-bounds "$WORK/roiBounds.csv" --jobs 2 --out "$WORK/B")
A2=$(measure gdc-mag20-shared-cache download --source gdc "${COMMON[@]}" --out "$WORK/A2" --mag 20 --gdc-cache "$WORK/A/.cache/gdc")
cmp <(cd "$WORK/A/images" && sha256sum ./*) <(cd "$WORK/B/images" && sha256sum ./*) >&2 && echo "images identical: yes" >&2

printf '| road | wall s | peak RSS MB | MB fetched | MB fetched per ROI | share of slide bytes |\n|---|---:|---:|---:|---:|---:|\n'
for row in "$A" "$B1" "$B2" "$A2"; do
  read -r label wall rss bytes <<< "$row"
  printf '| %s | %.2f | %s | %.2f | %.2f | %.2f%% |\n' "$label" "$wall" "$rss" "$(echo "$bytes / 1000000" | bc -l)" \
    "$(echo "$bytes / 1000000 / $SLIDES" | bc -l)" "$(echo "100 * $bytes / $SLIDE_BYTES" | bc -l)"
done
