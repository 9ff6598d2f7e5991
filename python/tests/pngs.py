"""Minimal PNG writing and reading with numpy and zlib only (8-bit grey or RGB, no
interlacing), so the suite makes its synthetic datasets and reads `bcss tile`'s output without
Pillow."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def write_png(path: Path, a: np.ndarray) -> None:
    a = np.ascontiguousarray(a, dtype=np.uint8)
    h, w = a.shape[:2]
    colour = 2 if a.ndim == 3 else 0
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def read_png(path: Path) -> np.ndarray:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert hdr is not None
    w, h, depth, colour, _, _, interlace = hdr
    assert depth == 8 and interlace == 0 and colour in (0, 2), hdr
    ch = 3 if colour == 2 else 1
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + w * ch)
    out = np.zeros((h, w * ch), dtype=np.int32)
    prev = np.zeros(w * ch, dtype=np.int32)
    for y in range(h):
        f, row = raw[y, 0], raw[y, 1:].astype(np.int32)
        cur = np.zeros(w * ch, dtype=np.int32)
        for i in range(w * ch):
            a = cur[i - ch] if i >= ch else 0
            b = prev[i]
            c = prev[i - ch] if i >= ch else 0
            if f == 0:
                p = 0
            elif f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (row[i] + p) & 0xFF
        out[y], prev = cur, cur
    a = out.astype(np.uint8)
    return a.reshape(h, w, 3) if ch == 3 else a


def make_dataset(root: Path, rois: dict, image_dir: str = "images", suffix: str = "MPP-0.2500") -> dict:
    """ROIs ``{id: (w, h)}`` with masks of BCSS codes ``[0, 1, 2, 3, 4, 7, 19][(x // 3 + y) % 7]``
    and images whose pixel is ``(x % 256, y % 256, index)``. Returns ``{id: (image, mask)}``."""
    out = {}
    for n, (roi, (w, h)) in enumerate(sorted(rois.items())):
        yy, xx = np.mgrid[0:h, 0:w]
        codes = np.array([0, 1, 2, 3, 4, 7, 19], dtype=np.uint8)
        mask = codes[(xx // 3 + yy) % 7]
        image = np.stack([xx % 256, yy % 256, np.full_like(xx, n)], axis=-1).astype(np.uint8)
        name = f"{roi}_xmin{10 + n}_ymin{20 + n}_{suffix}.png"
        write_png(root / image_dir / name, image)
        write_png(root / "masks" / name, mask)
        out[roi] = (image, mask)
    return out


#: Three train ROIs (sites A1, BH, C8) and two test ROIs (OL, LL), one smaller than 64 px.
ROIS = {
    "TCGA-A1-A0SK-DX1": (150, 100),
    "TCGA-BH-A0AU-DX1": (90, 130),
    "TCGA-C8-A12T-DX1": (40, 30),
    "TCGA-OL-A5RW-DX1": (120, 70),
    "TCGA-LL-A5YP-DX1": (64, 64),
}

#: main5 of the codes used: 0->0, 1->1, 2->2, 3->3, 4->4, 7->0, 19->1.
MAIN5 = np.zeros(256, dtype=np.uint8)
MAIN5[[1, 2, 3, 4, 19]] = [1, 2, 3, 4, 1]
