//! Unit and property tests of the raster rules. The fixture test against HistomicsTK's own masks
//! is in `tests/it/htk_masks.rs`.

use proptest::prelude::*;

use super::*;
use bcss_model::parse_annotations as parse;

/// Brute-force oracle of Pillow's rule: for each pixel, recompute its row's crossings from the
/// whole edge list (no active-edge table, no spans) and test membership directly.
fn pil_oracle(vertices: &[[i32; 2]], width: i32, height: i32) -> Vec<u8> {
    let n = vertices.len();
    let mut edges = Vec::new();
    for i in 0..n - 1 {
        edges.push(PilEdge::new(vertices[i][0], vertices[i][1], vertices[i + 1][0], vertices[i + 1][1]));
    }
    if vertices[n - 1] != vertices[0] {
        edges.push(PilEdge::new(vertices[n - 1][0], vertices[n - 1][1], vertices[0][0], vertices[0][1]));
    }
    let ymax_all = edges.iter().map(|e| e.ymax).max().unwrap_or(0).max(0).min(height);
    let table: Vec<PilEdge> = edges.iter().copied().filter(|e| e.ymin != e.ymax).collect();
    let mut out = vec![0u8; (width * height) as usize];
    for y in 0..height {
        let mut xs: Vec<f32> = Vec::new();
        for (i, cur) in table.iter().enumerate() {
            if !(y >= cur.ymin && y <= cur.ymax) {
                continue;
            }
            let mut x = cur.x_at(y);
            let mut twice = false;
            if y == cur.ymax && y < ymax_all {
                twice = true;
            } else if (y == cur.ymin || y == cur.ymax) && cur.dx != 0.0 {
                for other in &table[..i] {
                    if !(y == other.ymin || y == other.ymax) || other.dx == 0.0 || x.round() != other.x_at(y).round() {
                        continue;
                    }
                    let off = if y == cur.ymax { -1 } else { 1 };
                    if y + off < other.ymin || y + off > other.ymax {
                        continue;
                    }
                    let (a, b) = (cur.x_at(y + off), other.x_at(y + off));
                    if x > a + 1.0 && x > b + 1.0 {
                        x = a.max(b).round() + 1.0;
                    } else if x < a - 1.0 && x < b - 1.0 {
                        x = a.min(b).round() - 1.0;
                    }
                    break;
                }
            }
            xs.push(x);
            if twice {
                xs.push(x);
            }
        }
        xs.sort_by(f32::total_cmp);
        for x in 0..width {
            let in_pair = xs.chunks_exact(2).any(|p| round_up(p[0]) <= x && x <= round_down(p[1]));
            let on_flat = edges.iter().any(|e| e.ymin == e.ymax && e.ymin == y && e.xmin <= x && x <= e.xmax);
            if in_pair || on_flat {
                out[(y * width + x) as usize] = 1;
            }
        }
    }
    out
}

/// PNPOLY, the classic even-odd point-in-polygon test, at pixel centres.
fn strict_oracle(v: &[[f64; 2]], w: Rect<i64>) -> Vec<u8> {
    let mut out = Vec::new();
    for y in w.top..w.bottom {
        for x in w.left..w.right {
            let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
            let mut inside = false;
            let mut j = v.len() - 1;
            for i in 0..v.len() {
                if (v[i][1] > py) != (v[j][1] > py)
                    && px < (v[j][0] - v[i][0]) * (py - v[i][1]) / (v[j][1] - v[i][1]) + v[i][0]
                {
                    inside = !inside;
                }
                j = i;
            }
            out.push(u8::from(inside));
        }
    }
    out
}

fn int_polygon() -> impl Strategy<Value = (Vec<[i32; 2]>, i32, i32)> {
    (1usize..9, 1i32..24, 1i32..24).prop_flat_map(|(n, w, h)| {
        (prop::collection::vec((0..=w + 2, 0..=h + 2).prop_map(|(x, y)| [x - 1, y - 1]), n), Just(w), Just(h))
    })
}

fn float_polygon() -> impl Strategy<Value = Vec<[f64; 2]>> {
    prop::collection::vec((-2.0f64..22.0, -2.0f64..22.0).prop_map(|(x, y)| [x, y]), 3..9)
}

/// Polygons whose vertices sit on a quarter-pixel grid, so centres often land exactly on edges
/// and the tie rules are exercised.
fn grid_polygon() -> impl Strategy<Value = Vec<[f64; 2]>> {
    prop::collection::vec((-4i32..80, -4i32..80).prop_map(|(x, y)| [f64::from(x) / 4.0, f64::from(y) / 4.0]), 3..9)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn pil_fill_matches_the_oracle((v, w, h) in int_polygon()) {
        prop_assert_eq!(pil_polygon_fill(&v, w as usize, h as usize).data, pil_oracle(&v, w, h));
    }

    #[test]
    fn pil_rows_window_equals_full_fill_rows((v, w, h) in int_polygon(), a in 0i32..24, len in 0i32..24) {
        let full = pil_polygon_fill(&v, w as usize, h as usize).data;
        let (r0, r1) = (a.min(h), (a + len).min(h));
        let mut part = vec![0u8; (w * h) as usize];
        pil_spans(&v, w, h, (r0, r1), |y, x0, x1| {
            assert!((r0..r1).contains(&y));
            for x in x0..=x1 { part[(y * w + x) as usize] = 1; }
        });
        for y in r0..r1 {
            let row = (y * w) as usize..((y + 1) * w) as usize;
            prop_assert_eq!(&part[row.clone()], &full[row]);
        }
    }

    #[test]
    fn strict_fill_matches_pnpoly(v in float_polygon()) {
        let w = Rect { left: -3, top: -3, right: 23, bottom: 23 };
        prop_assert_eq!(strict_polygon_fill(&v, w).data, strict_oracle(&v, w));
    }

    #[test]
    fn strict_fill_matches_pnpoly_on_ties(v in grid_polygon()) {
        let w = Rect { left: -1, top: -1, right: 21, bottom: 21 };
        prop_assert_eq!(strict_polygon_fill(&v, w).data, strict_oracle(&v, w));
    }

    #[test]
    fn rectangles_are_half_open_in_both_rules(x0 in 0i32..10, y0 in 0i32..10, w in 1i32..10, h in 1i32..10) {
        // HTK: the element canvas is trunc(max - min) wide, so the inclusive fill loses its last
        // row and column: exactly w * h pixels.
        let v = [[0, 0], [w, 0], [w, h], [0, h]];
        let m = pil_polygon_fill(&v, w as usize, h as usize);
        prop_assert!(m.data.iter().all(|&p| p == 1));
        let win = Rect { left: 0, top: 0, right: 20, bottom: 20 };
        let (fx, fy) = (f64::from(x0), f64::from(y0));
        let s = strict_polygon_fill(&[[fx, fy], [fx + f64::from(w), fy], [fx + f64::from(w), fy + f64::from(h)], [fx, fy + f64::from(h)]], win);
        for y in 0..20 {
            for x in 0..20 {
                let want = (x0..x0 + w).contains(&x) && (y0..y0 + h).contains(&y);
                prop_assert_eq!(s.pixel(x as usize, y as usize) == [1], want);
            }
        }
    }
}

#[test]
fn pil_worked_examples() {
    // Inclusive fill on a canvas large enough: the square's 5x5 pixel centres.
    let m = pil_polygon_fill(&[[0, 0], [4, 0], [4, 4], [0, 4]], 6, 6);
    assert_eq!(m.data.iter().filter(|&&v| v == 1).count(), 25);
    assert_eq!(m.pixel(5, 5), [0]);
    // Spec 4.4: a 10x5 rectangle on its trunc(max - min) canvas covers 50 pixels.
    let m = pil_polygon_fill(&[[0, 0], [10, 0], [10, 5], [0, 5]], 10, 5);
    assert_eq!(m.data.iter().filter(|&&v| v == 1).count(), 50);
    assert_eq!(pil_oracle(&[[0, 0], [10, 0], [10, 5], [0, 5]], 10, 5), m.data);
}

#[test]
fn rounding_helpers_are_symmetric() {
    for (f, up, down) in [(0.5f32, 1, 0), (1.49, 1, 1), (-0.5, -1, 0), (-1.5, -2, -1), (2.0, 2, 2)] {
        assert_eq!((round_up(f), round_down(f)), (up, down), "{f}");
    }
}

#[test]
fn shapely_like_distance() {
    let sq = |x: f64, y: f64, s: f64| vec![[x, y], [x + s, y], [x + s, y + s], [x, y + s]];
    assert!(within_distance(&sq(0.0, 0.0, 10.0), &sq(2.0, 2.0, 1.0), 2.0), "containment");
    assert!(within_distance(&sq(2.0, 2.0, 1.0), &sq(0.0, 0.0, 10.0), 2.0), "contained");
    assert!(within_distance(&sq(0.0, 0.0, 10.0), &sq(12.0, 0.0, 3.0), 2.0), "exactly 2 apart is kept");
    assert!(!within_distance(&sq(0.0, 0.0, 10.0), &sq(12.5, 0.0, 3.0), 2.0), "2.5 apart");
    assert!(!within_distance(&sq(0.0, 0.0, 10.0), &sq(12.0, 12.0, 3.0), 2.0), "diagonal 2.83");
    assert!(within_distance(&sq(0.0, 0.0, 10.0), &sq(5.0, -5.0, 10.0), 2.0), "crossing edges");
}

fn doc(elements: &str) -> Annotations {
    parse(format!(r#"[{{"annotation": {{"name": "t", "elements": [{elements}]}}}}]"#).as_bytes()).unwrap()
}

#[test]
fn htk_overlay_order_area_and_crop() {
    // ROI 0..10; a big tumour (order 1) under a small lymphocyte patch (order 1, smaller area:
    // drawn later); exclude (order 3) wins over both; a fat polygon outside the ROI by 1 px
    // (kept by the 2 px rule) paints nothing after the crop; one 6 px away is "outside".
    let a = doc(r#"
        {"type": "polyline", "group": "roi", "points": [[0,0,0],[10,0,0],[10,10,0],[0,10,0]]},
        {"type": "polyline", "group": "mostly_lymphocytic_infiltrate", "points": [[2,2,0],[4,2,0],[4,4,0],[2,4,0]]},
        {"type": "polyline", "group": "mostly_tumor", "points": [[1,1,0],[6,1,0],[6,6,0],[1,6,0]]},
        {"type": "polyline", "group": "exclude", "points": [[5,5,0],[8,5,0],[8,8,0],[5,8,0]]},
        {"type": "polyline", "group": "mostly_fat", "points": [[11,0,0],[14,0,0],[14,3,0],[11,3,0]]},
        {"type": "polyline", "group": "not_in_table", "points": [[8,8,0],[30,8,0],[30,30,0],[8,30,0]]},
        {"type": "polyline", "group": "mostly_blood", "points": [[10,16,0],[14,16,0],[14,20,0],[10,20,0]]}
    "#);
    let masks = roi_masks(&a, &CodeTable::bcss(), &RasterOptions::default());
    assert_eq!(masks.len(), 1);
    let m = masks[0].as_ref().unwrap();
    let rows: Vec<String> =
        m.mask.data.chunks(m.mask.width).map(|r| r.iter().map(|v| format!("{v:x}")).collect()).collect();
    assert_eq!(
        rows,
        [
            "222222222",
            "211111222",
            "213311222",
            "213311222",
            "211111222",
            "211117772",
            "222227772",
            "222227772",
            "222222222"
        ]
    );
    assert_eq!(
        m.searched,
        Rect { left: 0, top: 0, right: 30, bottom: 30 },
        "the unknown group widens the search; blood is outside the ROI box"
    );
    assert_eq!(m.bounds, Rect { left: 0, top: 0, right: 30, bottom: 30 });
    assert_eq!(m.outside_roi, 0);
}

#[test]
fn htk_fractional_elements_are_padded_top_left() {
    // A polyline from 2.6 to 5.4: box [2, 5) (3 wide) but canvas trunc(2.8) = 2 wide, so the
    // two columns land at 3 and 4 (bottom-right aligned), not 2 and 3.
    let a = doc(r#"
        {"type": "rectangle", "group": "roi", "center": [5, 5, 0], "width": 10, "height": 10, "rotation": 0},
        {"type": "polyline", "group": "mostly_tumor", "points": [[2.6,2.6,0],[5.4,2.6,0],[5.4,5.4,0],[2.6,5.4,0]]}
    "#);
    let m = roi_mask(&a, 0, &CodeTable::bcss(), &RasterOptions::default()).unwrap();
    let ones: Vec<(usize, usize)> = (0..m.mask.height)
        .flat_map(|y| (0..m.mask.width).map(move |x| (x, y)))
        .filter(|&(x, y)| m.mask.data[y * m.mask.width + x] == 1)
        .collect();
    assert_eq!(ones, vec![(3, 3), (4, 3), (3, 4), (4, 4)]);
}

#[test]
fn scaling_truncates_before_rasterising() {
    let a = doc(
        r#"{"type": "rectangle", "group": "roi", "center": [101, 51, 0], "width": 41, "height": 21, "rotation": 0}"#,
    );
    let opts = RasterOptions { geometry: Geometry::Htk, scale: 0.5 };
    let m = roi_mask(&a, 0, &CodeTable::bcss(), &opts).unwrap();
    // center (50, 25), width int(20.5) = 20 -> half 10; height int(10.5) = 10 -> half 5.
    assert_eq!(m.roi_bbox, Rect { left: 40, top: 20, right: 60, bottom: 30 });
    assert_eq!((m.mask.width, m.mask.height), (19, 9));
    assert_eq!(m.name("s"), "s_left-80_top-40_bottom-60_right-120");
    assert!((scale_from_mpp(0.5, 0.00025) - 0.5).abs() < 1e-15);
    assert_eq!(scale_from_mag(10.0, 20.0), 0.5);
}

#[test]
fn strict_geometry_has_exact_bounds() {
    let a = doc(r#"
        {"type": "rectangle", "group": "roi", "center": [5, 5, 0], "width": 8, "height": 8, "rotation": 0},
        {"type": "polyline", "group": "mostly_tumor", "points": [[2,2,0],[5,2,0],[5,5,0],[2,5,0]]}
    "#);
    let opts = RasterOptions { geometry: Geometry::Strict, scale: 1.0 };
    let m = roi_mask(&a, 0, &CodeTable::bcss(), &opts).unwrap();
    assert_eq!((m.mask.width, m.mask.height), (8, 8));
    assert_eq!(m.bounds, Rect { left: 1, top: 1, right: 9, bottom: 9 });
    assert_eq!(m.mask.data.iter().filter(|&&v| v == 1).count(), 9);
    assert_eq!(m.name("s"), "s_left-1_top-1_bottom-9_right-9");
}

#[test]
fn bad_rois_and_elements() {
    let a = doc(r#"
        {"type": "polyline", "group": "roi", "points": [[0,0,0],[10,0,0]]},
        {"type": "rectangle", "group": "roi", "center": [5, 5, 0], "width": 10, "height": 10, "rotation": 0},
        {"type": "polyline", "group": "mostly_tumor", "points": [[1,1,0],[4,4,0]]},
        {"type": "point", "group": "roi", "center": [1, 1, 0]}
    "#);
    let table = CodeTable::bcss();
    assert_eq!(roi_elements(&a, &table), vec![0, 1]);
    let masks = roi_masks(&a, &table, &RasterOptions::default());
    assert!(matches!(masks[0], Err(RasterError::BadRoi { element: 0, .. })));
    let m = masks[1].as_ref().unwrap();
    assert_eq!(m.element_errors.len(), 1);
    assert_eq!(m.element_errors[0].element, 2);
    assert!(matches!(roi_mask(&a, 2, &table, &RasterOptions::default()), Err(RasterError::NotRoi(2))));
    assert!(matches!(roi_mask(&a, 3, &table, &RasterOptions::default()), Err(RasterError::NotRoi(3))));
}

#[test]
fn no_background_class_uses_the_roi_code() {
    let table = CodeTable::from_csv(
        "group,overlay_order,GT_code,is_roi,is_background_class\nroi,0,9,1,0\nt,1,1,0,0\n".as_bytes(),
    )
    .unwrap();
    let a =
        doc(r#"{"type": "rectangle", "group": "roi", "center": [5, 5, 0], "width": 4, "height": 4, "rotation": 0}"#);
    let m = roi_mask(&a, 0, &table, &RasterOptions::default()).unwrap();
    assert!(m.mask.data.iter().all(|&v| v == 9));
}

const ROIS_JSON: &[u8] = br#"[{"annotation": {"name": "t", "elements": [
    {"type": "rectangle", "id": "big", "group": "roi", "center": [50, 50, 0], "width": 100, "height": 100, "rotation": 0},
    {"type": "rectangle", "id": "small", "group": "evaluation_roi", "center": [20, 20, 0], "width": 10, "height": 10, "rotation": 0},
    {"type": "polyline", "group": "mostly_tumor", "points": [[10,10,0],[30,10,0],[30,30,0],[10,30,0]]},
    {"type": "point", "group": "mostly_tumor", "center": [3, 3, 0]}
]}}]"#;

fn rect(left: u64, top: u64, right: u64, bottom: u64) -> Rect {
    Rect { left, top, right, bottom }
}

#[test]
fn mask_for_rect_picks_the_best_overlap_and_fits_the_rectangle() {
    let a = parse(ROIS_JSON).unwrap();
    let table = CodeTable::bcss();
    let m = mask_for_rect(&a, "R", rect(0, 0, 100, 100), &table, Geometry::Htk).unwrap();
    assert_eq!((m.width, m.height), (100, 100));
    // HTK drops the last row and column: they are padded with 0.
    assert_eq!(m.data[99], 0);
    assert_eq!(m.data[99 * 100], 0);
    assert_eq!(m.data[0], 2);
    assert_eq!(m.data[20 * 100 + 20], 1);
    // The nested evaluation ROI matches its own box better than the big one does.
    let m = mask_for_rect(&a, "R", rect(15, 15, 25, 25), &table, Geometry::Htk).unwrap();
    assert_eq!((m.width, m.height), (10, 10));
    assert!(m.data[..9].iter().all(|&v| v == 1), "tumour fills the small ROI");
    assert_eq!(m.data[9], 0);
    let err = mask_for_rect(&a, "TCGA-ZZ-0000-DX1", rect(500, 500, 600, 600), &table, Geometry::Htk).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no ROI element of the annotations overlaps ROI `TCGA-ZZ-0000-DX1` (2 ROI element(s) on the slide)"
    );
}

/// The rectangle `target` of the slide, filled from `mask` (whose top-left pixel is at slide
/// position `(x0, y0)`), 0 where the mask has no pixel: the oracle of windows painted alone.
fn place(mask: &GrayImage, x0: i64, y0: i64, target: Rect<i64>) -> Vec<u8> {
    let (w, h) = (target.width().max(0), target.height().max(0));
    let mut out = vec![0u8; (w * h) as usize];
    for ty in 0..h {
        for tx in 0..w {
            let (mx, my) = (target.left + tx - x0, target.top + ty - y0);
            if mx >= 0 && my >= 0 && (mx as usize) < mask.width && (my as usize) < mask.height {
                out[(ty * w + tx) as usize] = mask.data[my as usize * mask.width + mx as usize];
            }
        }
    }
    out
}

#[test]
fn place_crops_and_pads() {
    let mask = GrayImage { width: 3, height: 2, data: vec![1, 2, 3, 4, 5, 6] };
    let out = place(&mask, 11, 20, Rect { left: 10, top: 21, right: 13, bottom: 23 });
    assert_eq!(out, vec![0, 4, 5, 0, 0, 0]);
}

/// A ROI polygon and three class polygons on a small grid (half-pixel coordinates when `half`),
/// as annotation elements.
fn scene() -> impl Strategy<Value = String> {
    let poly = || prop::collection::vec((-6i32..70, -6i32..70), 3..8);
    (poly(), poly(), poly(), poly(), any::<bool>()).prop_map(|(roi, a, b, c, half)| {
        let points = |p: &[(i32, i32)]| {
            let d = if half { 2.0 } else { 1.0 };
            let v: Vec<String> =
                p.iter().map(|&(x, y)| format!("[{}, {}, 0]", f64::from(x) / d, f64::from(y) / d)).collect();
            v.join(", ")
        };
        format!(
            r#"{{"type": "polyline", "group": "roi", "points": [{}]}},
               {{"type": "polyline", "group": "mostly_tumor", "points": [{}]}},
               {{"type": "polyline", "group": "exclude", "points": [{}]}},
               {{"type": "polyline", "group": "mostly_lymphocytic_infiltrate", "points": [{}]}}"#,
            points(&roi),
            points(&a),
            points(&b),
            points(&c)
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Painting a band or any window alone gives the pixels the whole mask has there (0 where it
    /// has none): the per-band crop to the ROI's raster and the clipping to the mask agree with
    /// painting it whole, in both geometries.
    #[test]
    fn bands_and_windows_are_the_whole_mask_cut(
        elements in scene(),
        strict in any::<bool>(),
        win in (-8i64..45, -8i64..45, 0i64..50, 0i64..50),
        rows in 1usize..9,
    ) {
        let a = doc(&elements);
        let geometry = if strict { Geometry::Strict } else { Geometry::Htk };
        let Ok(raster) = roi_raster(&a, 0, &CodeTable::bcss(), &RasterOptions::default().geometry(geometry)) else {
            return Ok(());
        };
        let whole = raster.clone().into_mask();
        let (w, h) = (whole.mask.width, whole.mask.height);
        let mut banded = Vec::new();
        let mut band = vec![9u8; rows * w];
        for top in (0..h + rows).step_by(rows) {
            raster.paint_rows(top, &mut band);
            banded.extend_from_slice(&band);
        }
        prop_assert_eq!(&banded[..w * h], &whole.mask.data[..]);
        prop_assert!(banded[w * h..].iter().all(|&v| v == 0), "rows past the mask are 0");
        let (x0, y0) = (whole.bounds.left, whole.bounds.top);
        let window = Rect { left: x0 + win.0 - 8, top: y0 + win.1 - 8, right: x0 + win.0 - 8 + win.2, bottom: y0 + win.1 - 8 + win.3 };
        let mut out = vec![9u8; (win.2 * win.3) as usize];
        raster.paint_window(window, &mut out);
        prop_assert_eq!(out, place(&whole.mask, x0, y0, window));
    }
}

const HUGE_JSON: &[u8] = br#"[{"annotation": {"name": "t", "elements": [
    {"type": "rectangle", "id": "wide", "group": "roi", "center": [5000000, 50, 0], "width": 10000000, "height": 100, "rotation": 0},
    {"type": "rectangle", "id": "vast", "group": "roi", "center": [5000000, 5000000, 0], "width": 10000000, "height": 10000000, "rotation": 0}
]}}]"#;

#[test]
fn oversized_roi_elements_are_refused_before_allocating() {
    let a = parse(HUGE_JSON).unwrap();
    let table = CodeTable::bcss();
    // 1e7 x 1e7 pixels: over MAX_PIXELS, refused by size alone (an allocation would abort).
    for geometry in [Geometry::Htk, Geometry::Strict] {
        let err = roi_mask(&a, 1, &table, &RasterOptions { geometry, scale: 1.0 }).unwrap_err();
        assert!(matches!(err, RasterError::TooLarge { element: 1, .. }), "{err}");
    }
    let err = roi_mask(&a, 1, &table, &RasterOptions::default()).unwrap_err().to_string();
    assert!(err.contains("10000000x10000000 pixels, over the limit of 2147483648"), "{err}");
    // A scale factor can make a modest element too large as well.
    let err = roi_mask(&a, 0, &table, &RasterOptions { geometry: Geometry::Htk, scale: 50.0 }).unwrap_err();
    assert!(matches!(err, RasterError::TooLarge { element: 0, .. }), "{err}");
    // 1e7 x 100 is within the limit, but matched to a 100 x 100 catalogue ROI it is 100000 times
    // its area: refused without rasterising.
    let err = mask_for_rect(&a, "R", rect(0, 0, 100, 100), &table, Geometry::Htk).unwrap_err();
    assert!(matches!(err, RectMaskError::ElementTooLarge { width: 10_000_000, height: 100, .. }), "{err}");
    assert!(err.to_string().contains("over 4 times the ROI's area (100x100)"), "{err}");
    let err = mask_for_rect(&a, "R", rect(0, 0, 100_000, 100_000), &table, Geometry::Htk).unwrap_err();
    assert!(matches!(err, RectMaskError::RoiTooLarge { width: 100_000, .. }), "{err}");
}

/// One ROI rectangle (0..40 x 0..40) and one tumour polyline with the given points.
fn roi_and_polyline(points: &[[i32; 2]]) -> Result<RoiMask, RasterError> {
    let pts: Vec<String> = points.iter().map(|p| format!("[{}, {}, 0]", p[0], p[1])).collect();
    let a = doc(&format!(
        r#"{{"type": "rectangle", "group": "roi", "center": [20, 20, 0], "width": 40, "height": 40, "rotation": 0}},
           {{"type": "polyline", "group": "mostly_tumor", "points": [{}]}}"#,
        pts.join(", ")
    ));
    roi_mask(&a, 0, &CodeTable::bcss(), &RasterOptions::default())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// shapely makes a ring of any 3 or more coordinates: a there-and-back polyline `A, B, A` is
    /// drawn (as the ring `A, B, A, A` is), never an element error; a 2-point polyline `A, B` is
    /// an error and paints nothing (hard cases 00-11).
    #[test]
    fn there_and_back_polylines_are_drawn_two_points_are_not(
        a in (2i32..38, 2i32..38), b in (2i32..38, 2i32..38),
    ) {
        prop_assume!(a != b);
        let (a, b) = ([a.0, a.1], [b.0, b.1]);
        let back = roi_and_polyline(&[a, b, a]).unwrap();
        let closed = roi_and_polyline(&[a, b, a, a]).unwrap();
        prop_assert!(back.element_errors.is_empty());
        prop_assert_eq!(&back.mask, &closed.mask);
        if b[0] >= a[0] + 2 && b[1] >= a[1] + 2 {
            // A going down-right to B paints at least A (a horizontal or vertical segment has a
            // canvas of height or width 0 and paints nothing, as zero-height polygons).
            prop_assert!(back.mask.data.contains(&1), "the segment paints tumour");
        }
        let two = roi_and_polyline(&[a, b]).unwrap();
        prop_assert_eq!(two.element_errors.len(), 1);
        prop_assert!(!two.mask.data.contains(&1));
    }

    /// A ROI element one pixel wide or high leaves an empty mask once tightened: HistomicsTK
    /// skips it (hard cases 03, 10), and so does bcss, whatever its position and length.
    #[test]
    fn roi_elements_one_pixel_thin_are_skipped(x in -50i64..50, y in -50i64..50, len in 2i64..60, wide in any::<bool>()) {
        let (w, h) = if wide { (len, 1) } else { (1, len) };
        let a = doc(&format!(
            r#"{{"type": "polyline", "group": "roi", "points": [[{x},{y},0],[{},{y},0],[{},{},0],[{x},{},0]]}}"#,
            x + w, x + w, y + h, y + h
        ));
        let r = roi_mask(&a, 0, &CodeTable::bcss(), &RasterOptions::default());
        prop_assert!(matches!(&r, Err(e) if e.htk_skips()), "{:?}", r.map(|m| m.mask));
    }
}

/// Annotation coordinates are read correctly rounded, as Python reads them: HTK's `trunc`s turn a
/// one-ulp error into a pixel (the difference of these two is exactly 12.0).
#[test]
fn coordinates_are_read_correctly_rounded() {
    let a = doc(
        r#"{"type": "polyline", "group": "mostly_tumor", "points": [[125.69999999999999, 0, 0], [137.7, 0.1, 0], [130, 5, 0]]}"#,
    );
    let Shape::Polyline { points } = &a.elements[0].shape else { panic!("a polyline") };
    assert_eq!(points[0][0], "125.69999999999999".parse::<f64>().unwrap());
    assert_eq!(points[1][0] - points[0][0], 12.0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The ROI's 1-bit coverage (which pixels of its box it covers, and their box) and the crop
    /// of a window inside it agree with a byte per pixel, across word boundaries and offsets.
    #[test]
    fn coverage_and_crop_agree_with_a_byte_per_pixel(
        x0 in -5i64..5, y0 in -5i64..5, w in 1i64..200, h in 1i64..12,
        spans in proptest::collection::vec((-8i64..16, -10i64..210, 0i64..90), 0..30),
        sub in (0i64..70, 0i64..4, 0i64..70, 0i64..4),
    ) {
        let window = Rect { left: x0, top: y0, right: x0 + w, bottom: y0 + h };
        let mut cover = Coverage::new(window);
        let mut extent = Extent::new(window);
        let mut oracle = vec![0u8; (w * h) as usize];
        for &(y, a, len) in &spans {
            let (y, a) = (y0 + y, x0 + a);
            cover.set(y, a, a + len);
            extent.add(y, a, a + len);
            for x in a..=a + len {
                if y >= window.top && y < window.bottom && x >= window.left && x < window.right {
                    oracle[((y - y0) * w + (x - x0)) as usize] = 1;
                }
            }
        }
        let covered: Vec<(i64, i64)> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| oracle[(y * w + x) as usize] == 1)
            .collect();
        let want = (!covered.is_empty()).then(|| Rect {
            left: x0 + covered.iter().map(|c| c.0).min().unwrap(),
            top: y0 + covered.iter().map(|c| c.1).min().unwrap(),
            right: x0 + covered.iter().map(|c| c.0).max().unwrap(),
            bottom: y0 + covered.iter().map(|c| c.1).max().unwrap(),
        });
        prop_assert_eq!(extent.extent, want);
        // A sub-window, painted 9 everywhere, keeps 9 exactly where the oracle is covered.
        let (sx, sy) = (sub.0.min(w - 1), sub.1.min(h - 1));
        let (sw, sh) = ((w - sx).min(1 + sub.2), (h - sy).min(1 + sub.3));
        let band = Rect { left: x0 + sx, top: y0 + sy, right: x0 + sx + sw, bottom: y0 + sy + sh };
        let mut data = vec![9u8; (sw * sh) as usize];
        cover.crop(&mut MaskWindow { window: band, clip: band, data: &mut data });
        for y in 0..sh {
            for x in 0..sw {
                let inside = oracle[((sy + y) * w + sx + x) as usize] == 1;
                prop_assert_eq!(data[(y * sw + x) as usize], if inside { 9 } else { 0 }, "pixel ({}, {})", x, y);
            }
        }
    }
}
