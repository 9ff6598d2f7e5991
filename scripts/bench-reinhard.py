#!/usr/bin/env python3
"""Python ``bcss.reinhard`` against HistomicsTK 1.4.0's ``reinhard``, in one run, on one array.

Both normalise the same uint8 H x W x 3 array to the BCSS standard (statistics computed from
the image: the three passes). Runs alternate (HistomicsTK, bcss, HistomicsTK, ...) so load on
the machine hits both alike. Per run: CPU time of the process (``time.process_time``, all
threads: OpenBLAS's and rayon's included) and wall time; then each once more in a forked child
for its peak RSS during the call (``VmHWM`` after resetting it through
``/proc/self/clear_refs``; the input array is already resident in the child). The outputs are
compared pixel for pixel. ``lab_mean_std`` alone is timed the same way.

Usage: scripts/bench-reinhard.py [PNG] [--reps N] [--cli BCSS]

With ``--cli BCSS`` (a release build of the CLI, ``target/release/bcss``) and a PNG, the command
``bcss normalize --image PNG --out OUT`` is timed too, end to end in its own process (PNG decode
and encode included; CPU user + system, wall, peak RSS; needs GNU time, ``/usr/bin/time``), in the same alternating loop, and
its output file is compared with HistomicsTK's array.

PNG: an RGB image (read with Pillow). The issue's benchmark image is the test server's H&E-like
picture at the BCSS median ROI size:

    cargo run --release -p bcss-testserver --example tissue_png -- median.png 4806 3870

Without PNG, a deterministic H&E-like field with noise of that size is made with numpy.

Needs, in one environment: numpy, Pillow, histomicstk==1.4.0 (``pip install --no-deps
histomicstk==1.4.0`` plus what its colour modules import, when its GDAL-dependent extras do
not build) and bcss built in release (``maturin build --release --auditwheel skip`` at the
repository root, then ``pip install`` the wheel). Prints Markdown (BENCHMARKS.md, "Python
`bcss.reinhard` vs HistomicsTK's `reinhard`").
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

import bcss

W, H = 4806, 3870


def synthetic(w: int = W, h: int = H) -> np.ndarray:
    """A smooth pink/purple field with nuclei-like blobs and sensor noise (seed 0)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    field = 0.5 + 0.25 * np.sin(xx / 61.0) * np.cos(yy / 47.0) + 0.25 * np.sin((xx + yy) / 173.0)
    r = 235 - 70 * field
    g = 200 - 130 * field
    b = 225 - 60 * field
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 6, (h, w, 3)).astype(np.float32)
    return img.clip(0, 255).astype(np.uint8)


def read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.array(im.convert("RGB"))


def peak_in_child(fn: Callable[[], Any], q: Any) -> None:
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    base = rss_kb("VmRSS")
    fn()
    q.put((base, rss_kb("VmHWM")))


def rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def peak_rss(fn: Callable[[], Any]) -> Tuple[float, float]:
    """``(peak RSS MB during the call, of which MB above the RSS before it)`` in a forked child."""
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=peak_in_child, args=(fn, q))
    p.start()
    base, peak = q.get()
    p.join()
    return peak / 1024, (peak - base) / 1024


def timed(fn: Callable[[], Any]) -> Tuple[float, float, Any]:
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c0, time.perf_counter() - w0, out


def run_cli(cli: str, png: Path, out: Path) -> Tuple[float, float, float]:
    """``(CPU s, wall s, peak RSS MB)`` of one ``bcss normalize --image`` process: CPU (user +
    system) from ``wait4``, peak RSS from GNU time (``wait4``'s ``ru_maxrss`` would count this
    process's pages, which a forked child holds until it execs)."""
    import subprocess

    w0 = time.perf_counter()
    cmd = ["/usr/bin/time", "-f", "%M", cli, "normalize", "--image", str(png), "--out", str(out), "-q"]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - w0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cli} failed: {err}")
    return ru.ru_utime + ru.ru_stime, wall, int(err.split()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("png", nargs="?", type=Path)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cli", help="the bcss binary: also time `bcss normalize --image PNG`")
    args = ap.parse_args()
    if args.cli and not args.png:
        ap.error("--cli needs a PNG")
    cli_name = "CLI `bcss normalize --image` (decode + encode)"
    cli_out = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-reinhard-{os.getpid()}.png"

    import histomicstk
    from histomicstk.preprocessing.color_conversion import lab_mean_std as htk_lab_mean_std
    from histomicstk.preprocessing.color_normalization import reinhard as htk_reinhard

    im = read_png(args.png) if args.png else synthetic()
    source = str(args.png) if args.png else "numpy H&E-like field, seed 0"
    mu, sigma = bcss.BCSS_TARGET_MU, bcss.BCSS_TARGET_SIGMA
    # Warm-up (imports, page faults of the input) outside the timings.
    htk_reinhard(im[:64, :64], mu, sigma)
    bcss.reinhard(im[:64, :64])

    jobs: Dict[str, Callable[[], Any]] = {
        "HistomicsTK `reinhard`": lambda: htk_reinhard(im, np.array(mu), np.array(sigma)),
        "bcss `reinhard`": lambda: bcss.reinhard(im, mu, sigma),
        "HistomicsTK `lab_mean_std`": lambda: htk_lab_mean_std(im),
        "bcss `lab_mean_std`": lambda: bcss.lab_mean_std(im),
    }
    cpu: Dict[str, List[float]] = {k: [] for k in jobs}
    wall: Dict[str, List[float]] = {k: [] for k in jobs}
    outs: Dict[str, Any] = {}
    cli_rss = 0.0
    if args.cli:
        cpu[cli_name], wall[cli_name] = [], []
    for _ in range(args.reps):
        for name, fn in jobs.items():
            c, w, out = timed(fn)
            cpu[name].append(c)
            wall[name].append(w)
            outs[name] = out
        if args.cli:
            c, w, cli_rss = run_cli(args.cli, args.png, cli_out)
            cpu[cli_name].append(c)
            wall[cli_name].append(w)
    rss = {name: peak_rss(fn) for name, fn in jobs.items()}
    if args.cli:
        rss[cli_name] = (cli_rss, cli_rss)
        cli_differ = int((read_png(cli_out) != outs["HistomicsTK `reinhard`"]).any(axis=-1).sum())
        cli_out.unlink()

    a, b = outs["HistomicsTK `reinhard`"], outs["bcss `reinhard`"]
    differ = (a != b).any(axis=-1)
    (hm, hs), (bm, bs) = outs["HistomicsTK `lab_mean_std`"], outs["bcss `lab_mean_std`"]
    stats_equal = np.array_equal(hm, bm) and np.array_equal(hs, bs)
    stats_rel = max(np.max(np.abs((hm - bm) / hm)), np.max(np.abs((hs - bs) / hs)))

    print(f"Input: {im.shape[1]} x {im.shape[0]} uint8 RGB ({source}), {args.reps} runs each, alternating.")
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, HistomicsTK {histomicstk.__version__}, "
        f"bcss {bcss.__version__}; {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}."
    )
    print()
    print("| run | CPU s (min / median) | wall s (min / median) | peak RSS MB (above before) | median CPU |")
    print("|---|---:|---:|---:|---:|")
    for name in cpu:
        anchor = "HistomicsTK `lab_mean_std`" if "lab_mean_std" in name else "HistomicsTK `reinhard`"
        ratio = statistics.median(cpu[anchor]) / statistics.median(cpu[name])
        vs = "(anchor)" if name == anchor else f"{ratio:.1f}x less"
        peak, above = rss[name]
        print(
            f"| {name} | {min(cpu[name]):.3f} / {statistics.median(cpu[name]):.3f} "
            f"| {min(wall[name]):.3f} / {statistics.median(wall[name]):.3f} "
            f"| {peak:.0f} ({above:.0f}) | {vs} |"
        )
    print()
    for name in cpu:
        print(f"- {name}, CPU s of each run: {', '.join(f'{c:.2f}' for c in cpu[name])}")
    print()
    print(
        f"Outputs: {differ.sum()} of {differ.size} pixels differ ({differ.mean():.4%}); "
        f"lab_mean_std {'identical' if stats_equal else f'differs, largest relative difference {stats_rel:.2e}'}."
    )
    if args.cli:
        print(f"CLI output: {cli_differ} pixels differ from HistomicsTK's. (CLI peak RSS: whole process.)")


if __name__ == "__main__":
    main()
