#!/usr/bin/env bash
# The 12-slide masks benchmark (issue 13): 12 synthetic slides of ~130 elements with real BCSS
# ROI sizes (gen_slides.py), `bcss masks` at base magnification, one whole process per slide
# with PNGs and JSON written, against HistomicsTK's get_roi_mask path in one Python process
# (htk_roi_masks.py, after imports, nothing written); then the masks are compared pixel for
# pixel. Prints both timings (wall, and CPU: user + sys of the bcss processes, process_time of
# the Python process) and the ratios. Then `bcss masks --annotations FOLDER`: the 12 slides in
# one process, as a user with a dataset runs it (masks compared with the per-slide ones).
#
# Usage: scripts/bench-masks/run_slides.sh [BCSS_BINARY] [HTK_PYTHON]
#   BCSS_BINARY defaults to target/release/bcss, HTK_PYTHON to /tmp/htkvenv/bin/python
#   (HistomicsTK 1.4.0 in a scratch venv, see BENCHMARKS.md). WORK (default /tmp/bench-masks-12)
#   holds the slides and outputs; SLIDES, ELEMENTS, SEED change the generator's input;
#   PNG sets --png-compression.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bcss="${1:-$repo/target/release/bcss}"
py="${2:-/tmp/htkvenv/bin/python}"
work="${WORK:-/tmp/bench-masks-12}"
codes="$repo/crates/bcss-model/src/data/htk_gtcodes.csv"
rm -rf "$work"
mkdir -p "$work/slides" "$work/bcss"
python3 "$here/gen_slides.py" "$work/slides" "${SLIDES:-12}" "${ELEMENTS:-130}" "${SEED:-13}" >"$work/slides.txt"

TIMEFORMAT='%R %U %S'
{ time (
  for f in "$work"/slides/*.json; do
    name="$(basename "$f" .json)"
    "$bcss" masks --quiet --annotations "$f" --slide-name "$name" --out "$work/bcss/$name" \
      --png-compression "${PNG:-balanced}"
  done
); } 2>"$work/bcss.time"
read -r bcss_s bcss_user bcss_sys <"$work/bcss.time"

htk_line=$("$py" "$here/htk_roi_masks.py" "$work/slides" "$codes" "$work/bcss")
htk_s=${htk_line#htk_seconds=}
htk_s=${htk_s%% *}
htk_cpu=${htk_line#*htk_cpu_seconds=}
htk_cpu=${htk_cpu%% *}
bcss_cpu=$(echo "$bcss_user + $bcss_sys" | bc -l)
printf 'slides=%s bcss_seconds=%.3f bcss_cpu_seconds=%.3f %s ratio=%.1f cpu_ratio=%.1f\n' \
  "$(wc -l <"$work/slides.txt")" "$bcss_s" "$bcss_cpu" "$htk_line" \
  "$(echo "$htk_s / $bcss_s" | bc -l)" "$(echo "$htk_cpu / $bcss_cpu" | bc -l)"

# The same slides in one process.
{ time "$bcss" masks --quiet --annotations "$work/slides" --out "$work/bcss-one" \
    --png-compression "${PNG:-balanced}"; } 2>"$work/bcss-one.time"
read -r one_s one_user one_sys <"$work/bcss-one.time"
one_cpu=$(echo "$one_user + $one_sys" | bc -l)
for f in "$work"/bcss/*/*.png; do
  cmp -s "$f" "$work/bcss-one/$(basename "$f")" || { echo "differs: $f" >&2; exit 1; }
done
printf 'one_process: bcss_seconds=%.3f bcss_cpu_seconds=%.3f ratio=%.1f cpu_ratio=%.1f (PNGs identical to the per-slide runs)\n' \
  "$one_s" "$one_cpu" "$(echo "$htk_s / $one_s" | bc -l)" "$(echo "$htk_cpu / $one_cpu" | bc -l)"
