"""Benchmark of `bcss extract` on 12 ROIs of BCSS's real size distribution, against large_image's
getRegion (cold tile cache, numpy output) + a PNG save, and the cost of one ROI against its size.

Usage (one run measures every side; both bcss binaries are optional but the first):
    python3 scripts/bench_extract.py --bcss target/release/bcss [--before /tmp/bcss-before] \
        --testserver target/release/bcss-testserver --python /tmp/livenv/bin/python [--work DIR] \
        [--jobs 1,2] [--sizes 1,4,16,64,128] [--skip-large-image]

The catalogue: the built-in roiBounds.csv sorted by area, 11 ROIs at evenly spaced quantiles plus
the largest (TCGA-D8-A142-DX1, 11293 x 11187), each on its own synthetic Aperio slide written by
`bcss-testserver write-svs` (the ROI plus a 300-pixel margin, 0.252 um/px as many BCSS slides,
levels 1/4/16, 256-pixel JPEG tiles of the stand-in's test pattern). Every side reads at
--mpp 0.25 (large_image: mm_x = mm_y = 0.00025), so each region is read at the base level and
enlarged 1.008x with BICUBIC: the largest output is 11383 x 11276.

- large_image (large-image-source-openslide, openslide-bin, Pillow; see BENCHMARKS.md for the
  versions): each ROI in a fresh process (its tile cache is per process), timed inside the process
  after the imports and the open: getRegion(format=numpy), then PIL `save(format="PNG",
  compress_level=1)` to memory; CPU from `time.process_time`, peak RSS from getrusage.
- bcss: the whole `bcss extract --pipeline images --png-compression fast --mpp 0.25 --jobs J`
  process (GNU time -v: wall, user + sys, peak RSS), opening the slides, writing and fsyncing
  every PNG and the manifest, into a fresh directory.
- Cost against size (--sizes): one process per ROI of N MP (square, on the largest slide), bcss
  at --jobs 1 and its default --png-compression balanced: CPU s, CPU s per MP, peak RSS.

Prints Markdown tables (paste into BENCHMARKS.md).
"""
import argparse
import csv
import io
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROI_CSV = os.path.join(HERE, '..', 'crates', 'bcss-catalog', 'src', 'data', 'roiBounds.csv')
MARGIN = 300
MPP = 0.252


def pick_rois():
    rows = []
    with open(ROI_CSV) as f:
        for r in csv.DictReader(f):
            w, h = int(r['xmax']) - int(r['xmin']), int(r['ymax']) - int(r['ymin'])
            rows.append((w * h, r[''], w, h))
    rows.sort()
    n = len(rows)
    picks = [rows[int((k + 0.5) * n / 11)] for k in range(11)] + [rows[-1]]
    return [(rid, w, h) for _, rid, w, h in picks]


def slide_name(rid):
    return f'{rid[:12]}-01Z-00-DX1.BENCH.svs'


def make_catalogue(work, testserver, rois):
    slides = os.path.join(work, 'slides')
    os.makedirs(slides, exist_ok=True)
    with open(os.path.join(work, 'roiBounds.csv'), 'w') as f:
        f.write(',xmin,ymin,xmax,ymax,mask_link\n')
        for rid, w, h in rois:
            f.write(f'{rid},{MARGIN},{MARGIN},{MARGIN + w},{MARGIN + h},\n')
            path = os.path.join(slides, slide_name(rid))
            if not os.path.exists(path):
                subprocess.run([testserver, 'write-svs', path, f'{w + 2 * MARGIN}x{h + 2 * MARGIN}',
                                '--levels', '1,4,16', '--mpp', str(MPP)], check=True, stdout=subprocess.DEVNULL)
    return slides


LARGE_IMAGE = """
import io, resource, sys, time
import PIL.Image, large_image_source_openslide
src = large_image_source_openslide.open(sys.argv[1])
l, t, r, b = map(int, sys.argv[2:6])
c0, w0 = time.process_time(), time.perf_counter()
img, _ = src.getRegion(region={'left': l, 'top': t, 'right': r, 'bottom': b}, format='numpy',
                       scale={'mm_x': 0.00025, 'mm_y': 0.00025})
c1, w1 = time.process_time(), time.perf_counter()
buf = io.BytesIO()
PIL.Image.fromarray(img[:, :, :3]).save(buf, format='PNG', compress_level=1)
c2, w2 = time.process_time(), time.perf_counter()
print(w1 - w0, w2 - w0, c2 - c0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, img.shape[1], img.shape[0],
      len(buf.getvalue()))
"""


def time_large_image(python, slides, rois):
    tot = {'region': 0.0, 'png': 0.0, 'cpu': 0.0, 'rss': 0, 'bytes': 0}
    for rid, w, h in rois:
        out = subprocess.run([python, '-c', LARGE_IMAGE, os.path.join(slides, slide_name(rid)), str(MARGIN),
                              str(MARGIN), str(MARGIN + w), str(MARGIN + h)],
                             check=True, capture_output=True, text=True).stdout.split()
        tot['region'] += float(out[0])
        tot['png'] += float(out[1])
        tot['cpu'] += float(out[2])
        tot['rss'] = max(tot['rss'], int(out[3]) // 1024)
        tot['bytes'] += int(out[6])
    return tot


def gnu_time(cmd):
    r = subprocess.run(['/usr/bin/time', '-v'] + cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f'failed: {" ".join(cmd)}\n{r.stderr}')
    field = lambda name: re.search(re.escape(name) + r': (.*)', r.stderr).group(1).strip()
    wall = field('Elapsed (wall clock) time (h:mm:ss or m:ss)').split(':')
    secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
    cpu = float(field('User time (seconds)')) + float(field('System time (seconds)'))
    return secs, cpu, int(field('Maximum resident set size (kbytes)')) // 1024


def time_bcss(bcss, slides, roi_csv, jobs, compression='fast', extra=()):
    out = tempfile.mkdtemp(prefix='bcss-bench-extract.')
    try:
        wall, cpu, rss = gnu_time([bcss, 'extract', '--quiet', '--pipeline', 'images', '--png-compression',
                                   compression, '--mpp', '0.25', '--jobs', str(jobs), '--slides-dir', slides,
                                   '--roi-bounds', roi_csv, '--out', out] + list(extra))
        size = sum(os.path.getsize(os.path.join(out, 'images', f)) for f in os.listdir(os.path.join(out, 'images')))
        return wall, cpu, rss, size
    finally:
        shutil.rmtree(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bcss', required=True)
    ap.add_argument('--before')
    ap.add_argument('--testserver', required=True)
    ap.add_argument('--python', default=sys.executable)
    ap.add_argument('--work', default='/tmp/bcss-bench-extract')
    ap.add_argument('--jobs', default='1,2')
    ap.add_argument('--sizes', default='')
    ap.add_argument('--skip-large-image', action='store_true')
    a = ap.parse_args()
    rois = pick_rois()
    slides = make_catalogue(a.work, a.testserver, rois)
    roi_csv = os.path.join(a.work, 'roiBounds.csv')
    mp = sum(math.floor(w * MPP / 0.25) * math.floor(h * MPP / 0.25) for _, w, h in rois) / 1e6
    print(f'12 ROIs: {", ".join(f"{r} {w}x{h}" for r, w, h in rois)}; about {mp:.0f} MP of output; '
          f'load average {os.getloadavg()[0]:.1f}\n')
    print('| run | wall s | CPU s | peak RSS MB | MB written |')
    print('|---|---:|---:|---:|---:|')
    if not a.skip_large_image:
        li = time_large_image(a.python, slides, rois)
        print(f'| large_image getRegion (sum of 12 processes) | {li["region"]:.2f} | | {li["rss"]} | |')
        print(f'| large_image getRegion + PNG level 1 | {li["png"]:.2f} | {li["cpu"]:.2f} | {li["rss"]} | '
              f'{li["bytes"] / 1e6:.1f} |')
    for name, binary in [('before', a.before), ('bcss', a.bcss)]:
        if not binary:
            continue
        for j in a.jobs.split(','):
            wall, cpu, rss, size = time_bcss(binary, slides, roi_csv, j)
            print(f'| {name} extract --jobs {j} | {wall:.2f} | {cpu:.2f} | {rss} | {size / 1e6:.1f} |')
    print(f'\nload average after: {os.getloadavg()[0]:.1f}')
    if a.sizes:
        big = max(rois, key=lambda r: r[1] * r[2])
        print('\n| ROI MP (base) | output | binary | wall s | CPU s | CPU s per output MP | peak RSS MB |')
        print('|---:|---|---|---:|---:|---:|---:|')
        for s in [int(x) for x in a.sizes.split(',')]:
            side = int(math.sqrt(s * 1e6))
            side = min(side, big[1], big[2])
            csvp = os.path.join(a.work, f'size{s}.csv')
            with open(csvp, 'w') as f:
                f.write(f',xmin,ymin,xmax,ymax,mask_link\n{big[0]},{MARGIN},{MARGIN},{MARGIN + side},{MARGIN + side},\n')
            o = math.floor(side * MPP / 0.25)
            for name, binary in [('before', a.before), ('bcss', a.bcss)]:
                if not binary:
                    continue
                wall, cpu, rss, _ = time_bcss(binary, slides, csvp, 1, 'balanced')
                print(f'| {side * side / 1e6:.1f} | {o}x{o} | {name} | {wall:.2f} | {cpu:.2f} | '
                      f'{cpu / (o * o / 1e6):.4f} | {rss} |')


if __name__ == '__main__':
    main()
