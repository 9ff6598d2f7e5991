"""Runs HistomicsTK's own get_all_rois_from_slide on a local annotation file (no server: a stub
girder client serves the annotations, tile metadata and file name) and reports the time.

Usage: python htk_masks.py ANNOTATIONS.json CODES.csv OUTDIR SLIDE_NAME
"""
import copy
import json
import os
import sys
import time
import warnings

import pandas as pd
from histomicstk.annotations_and_masks.annotations_to_masks_handler import get_all_rois_from_slide

ann_path, codes_path, outdir, slide = sys.argv[1:5]
warnings.simplefilter('ignore')


class StubClient:
    def __init__(self, anns):
        self.anns = anns

    def get(self, path, **kwargs):
        if path.startswith('/annotation/item/'):
            return copy.deepcopy(self.anns)
        if path.endswith('/tiles'):
            return {'mm_x': None, 'mm_y': None, 'magnification': None, 'sizeX': 200000, 'sizeY': 200000}
        if path.endswith('/files'):
            return [{'name': slide + '.svs'}]
        raise KeyError(path)


t0 = time.perf_counter()
with open(ann_path) as f:
    anns = json.load(f)
codes = pd.read_csv(codes_path)
codes.index = codes.loc[:, 'group']
os.makedirs(outdir, exist_ok=True)
saved = get_all_rois_from_slide(
    StubClient(anns), 'bench', codes.to_dict(orient='index'), save_directories={'ROI': outdir},
    get_image_and_mask_from_slide_kwargs={
        'MPP': None, 'MAG': None, 'get_rgb': False, 'get_contours': False, 'get_visualization': False,
        'get_roi_mask_kwargs': {'iou_thresh': 0.0, 'crop_to_roi': True, 'use_shapely': True, 'verbose': False}},
    slide_name=slide, verbose=False)
print('%d masks in %.3f s' % (len(saved), time.perf_counter() - t0))
