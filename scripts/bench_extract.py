"""Benchmark: `bcss extract` vs large_image's getRegion on the same region and resolution.

Usage (one run, same machine, both single-threaded on one ROI):
    ~/.cache/real-dsa/.venv/bin/python scripts/bench_extract.py target/debug/bcss \
        ~/.cache/real-dsa/run/slides
Times large_image 1.35.6 (OpenSlide source) getRegion of TCGA-SY-NTH1 ROI 4000,3000,12000,9000
at magnification 20 (8000x6000 base -> 4000x3000, LANCZOS) and at mm 0.00025 (native), to a
numpy array (no encoding), and `bcss extract --pipeline images --png-compression fast --jobs 1`
on the same ROI (which also encodes and writes the PNG). Prints seconds and the ratio.
"""
import os
import subprocess
import sys
import tempfile
import time


BCSS, SLIDES = sys.argv[1], sys.argv[2]
ROI = ('TCGA-SY-NTH1-DX1', 4000, 3000, 12000, 9000)
SLIDE = os.path.join(SLIDES, 'TCGA-SY-NTH1-01Z-00-DX1.SYNTHETIC-0001.svs')


def time_large_image(scale):
    """In a fresh process each time: large_image's tile cache is per process and would otherwise
    serve the second case from memory."""
    code = f"""
import time, PIL.Image, io, large_image_source_openslide
src = large_image_source_openslide.open({SLIDE!r})
t = time.perf_counter()
img, _ = src.getRegion(region={{'left': {ROI[1]}, 'top': {ROI[2]}, 'right': {ROI[3]}, 'bottom': {ROI[4]}}},
                       format='numpy', scale={scale!r})
t1 = time.perf_counter()
PIL.Image.fromarray(img[:, :, :3]).save(io.BytesIO(), 'PNG', compress_level=1)
t2 = time.perf_counter()
print(t1 - t, t2 - t, img.shape[1], img.shape[0])
"""
    out = subprocess.run([sys.executable, '-c', code], check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1]), (int(out[3]), int(out[2]))


def time_bcss(flags):
    with tempfile.TemporaryDirectory() as d:
        csv = os.path.join(d, 'roiBounds.csv')
        with open(csv, 'w') as f:
            f.write(',xmin,ymin,xmax,ymax\n%s,%d,%d,%d,%d\n' % ROI)
        t = time.perf_counter()
        subprocess.run([BCSS, 'extract', '--quiet', '--pipeline', 'images', '--png-compression', 'fast',
                        '--jobs', '1', '--slides-dir', SLIDES, '--roi-bounds', csv,
                        '--out', os.path.join(d, 'out')] + flags, check=True)
        return time.perf_counter() - t


for name, scale, flags in [('mag 20 (shrink 2x)', {'magnification': 20}, ['--mag', '20']),
                           ('mpp 0.25 (native)', {'mm_x': 0.00025, 'mm_y': 0.00025}, ['--mpp', '0.25'])]:
    li, li_png, shape = time_large_image(scale)
    bc = time_bcss(flags)
    print(f'{name}: output {shape[1]}x{shape[0]}; large_image getRegion {li:.2f} s '
          f'(+ PNG level 1: {li_png:.2f} s); bcss extract {bc:.2f} s (whole process, incl. PNG '
          f'write); ratio large_image/bcss = {li / bc:.2f} (with PNG: {li_png / bc:.2f})')
