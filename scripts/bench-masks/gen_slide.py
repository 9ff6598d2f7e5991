"""Writes a synthetic slide's annotations (the body of GET annotation/item/{id}) for benchmarks.

A BCSS-sized ROI (a ~4000 px irregular polygon, plus an evaluation ROI rectangle and a rotated
ROI) with `N` class polygons of 40-400 vertices and fractional coordinates, some rotated
rectangles, points, and elements of unknown groups. Deterministic for a given seed.
Usage: python gen_slide.py OUT.json [N] [SEED]
"""
import json
import math
import random
import sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
groups = ['mostly_tumor', 'mostly_stroma', 'mostly_lymphocytic_infiltrate', 'necrosis_or_debris',
          'glandular_secretions', 'mostly_blood', 'exclude', 'mostly_fat', 'mostly_plasma_cells',
          'normal_acinus_or_duct', 'blood_vessel', 'other', 'not_in_table']
X0, Y0, S = 40000.0, 30000.0, 4000.0


def blob(cx, cy, r, k):
    pts = []
    for i in range(k):
        a = 2 * math.pi * i / k
        rr = r * (0.6 + 0.4 * rng.random())
        pts.append([round(cx + rr * math.cos(a), rng.choice([0, 1, 2, 3])),
                    round(cy + rr * math.sin(a), rng.choice([0, 1, 2, 3])), 0])
    return pts


def eid():
    return '%024x' % rng.getrandbits(96)


elements = [{'type': 'polyline', 'closed': True, 'group': 'roi', 'label': {'value': 'roi'}, 'id': eid(),
             'points': blob(X0 + S / 2, Y0 + S / 2, S / 2, 240)},
            {'type': 'rectangle', 'group': 'evaluation_roi', 'id': eid(), 'center': [X0 + 900.5, Y0 + 800, 0],
             'width': 1201.3, 'height': 901, 'rotation': 0},
            {'type': 'rectangle', 'group': 'roi', 'id': eid(), 'center': [X0 + S + 1500, Y0 + 1500, 0],
             'width': 2000, 'height': 1600, 'rotation': 0.3}]
for i in range(n):
    g = rng.choice(groups)
    cx, cy = X0 + rng.uniform(-300, S + 3000), Y0 + rng.uniform(-300, S + 300)
    if rng.random() < 0.15:
        elements.append({'type': 'rectangle', 'group': g, 'id': eid(), 'center': [round(cx, 2), round(cy, 2), 0],
                         'width': rng.uniform(20, 400), 'height': rng.uniform(20, 400),
                         'rotation': rng.choice([0, 0, rng.uniform(-1, 1)])})
    elif rng.random() < 0.05:
        elements.append({'type': 'point', 'group': g, 'id': eid(), 'center': [cx, cy, 0]})
    else:
        e = {'type': 'polyline', 'closed': True, 'id': eid(), 'label': {'value': g},
             'points': blob(cx, cy, rng.uniform(15, 450), rng.randint(40, 400))}
        if rng.random() < 0.8:
            e['group'] = g
        elements.append(e)
doc = [{'_id': '%024x' % 1, '_modelType': 'annotation', '_version': 1, 'itemId': 'bench',
        'groups': sorted(set(groups)), 'annotation': {'name': 'bench', 'elements': elements}}]
with open(out, 'w') as f:
    json.dump(doc, f)
