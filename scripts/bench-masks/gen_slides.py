"""Writes synthetic BCSS-like slides' annotations (the body of GET annotation/item/{id}), one
file per slide, for the 12-slide masks benchmark (issue 13).

Each slide takes the name and the ROI rectangle of a real BCSS ROI from the built-in catalogue
(`crates/bcss-catalog/src/data/roiBounds.csv`), so the masks have the real BCSS sizes. The ROI
is a `roi` polyline with the rectangle's corners and a few extra vertices on its edges (as the
crowdsourced ROIs are drawn), and about `N` class elements are spread over it and a margin of
10% around it, with the shapes and sizes of `gen_slide.py`: free-hand polygons of 40-400
fractional vertices and radius 15-450 px (one in ten crosses itself), rectangles of 20-400 px
(some rotated), points, and elements of a group that is not in the codes table. Deterministic for a given seed.

Usage: python gen_slides.py OUTDIR [SLIDES] [N] [SEED]
Writes OUTDIR/<slide>.json and prints one line per slide (name, ROI size, elements).
"""
import csv
import json
import math
import os
import random
import sys

here = os.path.dirname(os.path.abspath(__file__))
catalogue = os.path.join(here, '..', '..', 'crates', 'bcss-catalog', 'src', 'data', 'roiBounds.csv')
outdir = sys.argv[1]
slides = int(sys.argv[2]) if len(sys.argv) > 2 else 12
n = int(sys.argv[3]) if len(sys.argv) > 3 else 130
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 13)
groups = ['mostly_tumor', 'mostly_stroma', 'mostly_lymphocytic_infiltrate', 'necrosis_or_debris',
          'glandular_secretions', 'mostly_blood', 'exclude', 'mostly_fat', 'mostly_plasma_cells',
          'normal_acinus_or_duct', 'blood_vessel', 'other', 'not_in_table']

with open(catalogue) as f:
    rows = list(csv.DictReader(f))
chosen = rng.sample(rows, slides)
os.makedirs(outdir, exist_ok=True)


def eid():
    return '%024x' % rng.getrandbits(96)


def frac(v):
    return round(v, rng.choice([0, 1, 2, 3]))


def blob(cx, cy, r, k, wobble):
    pts = []
    for i in range(k):
        a = 2 * math.pi * i / k + (rng.uniform(-wobble, wobble) if wobble else 0.0)
        rr = r * (0.6 + 0.4 * rng.random())
        pts.append([frac(cx + rr * math.cos(a)), frac(cy + rr * math.sin(a)), 0])
    return pts


for row in chosen:
    name = row['']
    x0, y0, x1, y1 = (int(row[k]) for k in ('xmin', 'ymin', 'xmax', 'ymax'))
    w, h = x1 - x0, y1 - y0
    # The ROI: its corners (so its box is the catalogue rectangle) and points along the edges.
    ring = [[x0, y0], [x0 + w // 3, y0], [x0 + 2 * w // 3, y0], [x1, y0], [x1, y0 + h // 2], [x1, y1],
            [x0 + w // 2, y1], [x0, y1], [x0, y0 + h // 2]]
    elements = [{'type': 'polyline', 'closed': True, 'group': 'roi', 'label': {'value': 'roi'}, 'id': eid(),
                 'points': [[x, y, 0] for x, y in ring]}]
    for i in range(n):
        g = rng.choice(groups)
        cx, cy = x0 + rng.uniform(-0.1, 1.1) * w, y0 + rng.uniform(-0.1, 1.1) * h
        u = rng.random()
        if u < 0.12:
            elements.append({'type': 'rectangle', 'group': g, 'id': eid(), 'center': [frac(cx), frac(cy), 0],
                             'width': rng.uniform(20, 400), 'height': rng.uniform(20, 400),
                             'rotation': rng.choice([0, 0, rng.uniform(-1, 1)])})
        elif u < 0.16:
            elements.append({'type': 'point', 'group': g, 'id': eid(), 'center': [cx, cy, 0]})
        else:
            # A free-hand outline; about one in ten has jittered angles, so it crosses itself.
            wobble = 0.2 if rng.random() < 0.1 else 0.0
            e = {'type': 'polyline', 'closed': True, 'id': eid(), 'label': {'value': g},
                 'points': blob(cx, cy, rng.uniform(15, 450), rng.randint(40, 400), wobble)}
            if rng.random() < 0.8:
                e['group'] = g
            elements.append(e)
    doc = [{'_id': '%024x' % 1, '_modelType': 'annotation', '_version': 1, 'itemId': name,
            'groups': sorted(set(groups)), 'annotation': {'name': name, 'elements': elements}}]
    with open(os.path.join(outdir, name + '.json'), 'w') as f:
        json.dump(doc, f)
    print('%s %dx%d %d elements' % (name, w, h, len(elements)))
