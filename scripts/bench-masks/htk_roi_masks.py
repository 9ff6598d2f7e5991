"""Times HistomicsTK's `get_roi_mask` path over a folder of slides' annotations, in one process
(after the imports), without writing anything: for each slide, read the JSON, scale
(`scale_slide_annotations`, sf = 1), `get_bboxes_from_slide_annotations`, then `get_roi_mask`
for every ROI element (base magnification, `iou_thresh=0`, `crop_to_roi=True`,
`use_shapely=True`), as `get_all_rois_from_slide` does. A ROI it raises on is counted as
skipped, as `get_all_rois_from_slide` skips it.

With CHECKDIR (where `bcss masks` wrote `<slide>/<slide>_left-..png`), after the timing each
mask is compared with bcss's, pixel for pixel; a difference exits 1.

Usage: python htk_roi_masks.py ANNOTATIONS_DIR CODES.csv [CHECKDIR]
Prints `htk_seconds=<s> htk_cpu_seconds=<s> masks=<n> skipped=<n>` (and `identical=<n>` with CHECKDIR).
"""
import glob
import json
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
from histomicstk.annotations_and_masks.annotation_and_mask_utils import (
    _get_idxs_for_all_rois, get_bboxes_from_slide_annotations, scale_slide_annotations)
from histomicstk.annotations_and_masks.annotations_to_masks_handler import get_roi_mask

ann_dir, codes_path = sys.argv[1:3]
check_dir = sys.argv[3] if len(sys.argv) > 3 else None
warnings.simplefilter('ignore')
codes = pd.read_csv(codes_path)
codes.index = codes.loc[:, 'group']
codes_dict = codes.to_dict(orient='index')
files = sorted(glob.glob(os.path.join(ann_dir, '*.json')))

results = []
skipped = 0
t0 = time.perf_counter()
c0 = time.process_time()
for path in files:
    slide = os.path.basename(path)[:-len('.json')]
    with open(path) as f:
        anns = json.load(f)
    anns = scale_slide_annotations(anns, sf=1.0)
    infos = get_bboxes_from_slide_annotations(anns)
    gt = pd.DataFrame.from_dict(codes_dict, orient='index')
    for idx in _get_idxs_for_all_rois(GTCodes=gt, element_infos=infos):
        try:
            roi, info = get_roi_mask(
                slide_annotations=anns, element_infos=infos,
                GTCodes_df=pd.DataFrame.from_dict(codes_dict, orient='index'), idx_for_roi=idx,
                iou_thresh=0.0, crop_to_roi=True, use_shapely=True, verbose=False)
        except Exception:
            skipped += 1
            continue
        results.append((slide, infos.loc[idx], roi))
elapsed = time.perf_counter() - t0
cpu = time.process_time() - c0
line = 'htk_seconds=%.3f htk_cpu_seconds=%.3f masks=%d skipped=%d' % (elapsed, cpu, len(results), skipped)

if check_dir is not None:
    from PIL import Image
    same = 0
    for slide, elinfo, roi in results:
        # get_all_rois_from_slide's name: the ROI element's box (sf = 1, so no rescaling).
        stem = '%s_left-%d_top-%d_bottom-%d_right-%d' % (
            slide, elinfo.xmin, elinfo.ymin, elinfo.ymax, elinfo.xmax)
        ours = np.asarray(Image.open(os.path.join(check_dir, slide, stem + '.png')))
        if ours.shape != roi.shape or not np.array_equal(ours, roi):
            print('DIFFERENT: %s (%s vs %s)' % (stem, ours.shape, roi.shape))
            sys.exit(1)
        same += 1
    line += ' identical=%d' % same
print(line)
