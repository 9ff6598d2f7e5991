//! Every case of `tests/fixtures/htk-masks` and `tests/fixtures/htk-masks-hard` (masks made by
//! HistomicsTK 1.4.0 with Pillow 13): every expected mask must be reproduced pixel for pixel,
//! with the same name, the same bounds and the same count of elements left out; no mask may be
//! produced that is not expected, and every ROI HistomicsTK skipped must be skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bcss::codec::png::decode_gray;
use bcss::model::parse_annotations as parse;
use bcss::transform::{roi_masks, scale_from_mag, scale_from_mpp, Geometry, RasterOptions};
use serde_json::Value;

fn fixtures(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(set)
}

fn cases(folder: &Path) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(folder)
        .expect("fixtures present")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.file_name().unwrap().to_string_lossy().starts_with("case"))
        .collect();
    cases.sort();
    cases
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The scale factor the case asked for, computed the way HistomicsTK does from the tile
/// metadata, and checked against the `sf` HistomicsTK recorded.
fn scale(case: &Value) -> f64 {
    let tiles = &case["tiles"];
    let sf = match (case["MPP"].as_f64(), case["MAG"].as_f64()) {
        (Some(mpp), _) => scale_from_mpp(mpp, tiles["mm_x"].as_f64().unwrap()),
        (None, Some(mag)) => scale_from_mag(mag, tiles["magnification"].as_f64().unwrap()),
        (None, None) => 1.0,
    };
    // Exact: JSON numbers are parsed correctly rounded (serde_json's `float_roundtrip`).
    assert_eq!(sf, case["sf"].as_f64().unwrap(), "scale factor");
    sf
}

/// Checks one case; returns the differences found (empty: the case matches) and the number of
/// masks compared.
fn check_case(dir: &Path) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut checked = 0;
    let case = json(&dir.join("case.json"));
    let table = bcss::catalog::read_code_table(&dir.join("gtcodes.csv")).unwrap();
    let annotations = parse(&std::fs::read(dir.join("annotations.json")).unwrap()).unwrap();
    let opts = RasterOptions::default().geometry(Geometry::Htk).scale(scale(&case));
    let slide = case["slide_name"].as_str().unwrap();
    let results = roi_masks(&annotations, &table, &opts);
    let mut produced = BTreeMap::new();
    let mut skipped = Vec::new();
    for (roi_index, r) in results.into_iter().enumerate() {
        match r {
            Ok(m) => {
                produced.insert(m.name(slide), m);
            }
            Err(e) if e.htk_skips() => skipped.push(roi_index as u64),
            Err(e) => problems.push(format!("ROI {roi_index}: {e}")),
        }
    }
    let want_skipped: Vec<u64> = case["skipped_rois"]
        .as_array()
        .map(|a| a.iter().map(|r| r["roi_index"].as_u64().unwrap()).collect())
        .unwrap_or_default();
    if skipped != want_skipped {
        problems.push(format!("skipped ROIs {skipped:?}, expected {want_skipped:?}"));
    }
    let expected: Vec<&Value> = case["rois"].as_array().unwrap().iter().collect();
    let mut names: Vec<&str> = expected.iter().map(|r| r["name"].as_str().unwrap()).collect();
    names.sort();
    let got: Vec<&str> = produced.keys().map(String::as_str).collect();
    if got != names {
        problems.push(format!("mask names {got:?}, expected {names:?}"));
    }
    for roi in expected {
        let name = roi["name"].as_str().unwrap();
        let Some(m) = produced.get(name) else { continue };
        let meta = json(&dir.join("expected").join(format!("{name}.json")));
        let want = decode_gray(&std::fs::read(dir.join("expected").join(format!("{name}.png"))).unwrap()).unwrap();
        let mut p = |s: String| problems.push(format!("{name}: {s}"));
        checked += 1;
        if (m.mask.height, m.mask.width) != (want.height, want.width) {
            p(format!("shape {:?}, expected {:?}", (m.mask.height, m.mask.width), (want.height, want.width)));
        } else if m.mask.data != want.data {
            let diff: Vec<usize> = (0..want.data.len()).filter(|&i| m.mask.data[i] != want.data[i]).collect();
            let (xs, ys) = (diff.iter().map(|i| i % want.width), diff.iter().map(|i| i / want.width));
            let (x0, x1) = (xs.clone().min().unwrap(), xs.max().unwrap());
            let (y0, y1) = (ys.clone().min().unwrap(), ys.max().unwrap());
            let i = diff[0];
            p(format!(
                "{} pixels differ in x {x0}..={x1}, y {y0}..={y1} (mask space); first at x={} y={}: got {}, expected {}",
                diff.len(),
                i % want.width,
                i / want.width,
                m.mask.data[i],
                want.data[i]
            ));
        }
        let b = &meta["bounds"];
        let bounds =
            [b["xmin"].as_i64(), b["ymin"].as_i64(), b["xmax"].as_i64(), b["ymax"].as_i64()].map(Option::unwrap);
        let got = [m.bounds.left, m.bounds.top, m.bounds.right, m.bounds.bottom];
        if got != bounds {
            p(format!("bounds {got:?}, expected {bounds:?}"));
        }
        let e = &meta["roi_element_bbox"];
        let want_box =
            [e["xmin"].as_i64(), e["ymin"].as_i64(), e["xmax"].as_i64(), e["ymax"].as_i64()].map(Option::unwrap);
        let got_box = [m.roi_bbox.left, m.roi_bbox.top, m.roi_bbox.right, m.roi_bbox.bottom];
        if got_box != want_box {
            p(format!("ROI box {got_box:?}, expected {want_box:?}"));
        }
        if m.roi_index as u64 != roi["roi_index"].as_u64().unwrap() {
            p(format!("roi index {}, expected {}", m.roi_index, roi["roi_index"]));
        }
        if annotations.elements[m.element].id.as_deref() != roi["element_id"].as_str() {
            p("element id".to_string());
        }
        let outside = meta["htk_elements_outside_roi"].as_u64().unwrap();
        if m.outside_roi as u64 != outside {
            p(format!("{} elements outside the ROI, expected {outside}", m.outside_roi));
        }
        let errors = meta["htk_element_errors"].as_array().unwrap().len();
        if m.element_errors.len() != errors {
            p(format!("{} element errors, expected {errors}", m.element_errors.len()));
        }
    }
    (problems, checked)
}

fn check_set(set: &str, min_masks: usize) {
    check_folder(&fixtures(set), 12, min_masks);
}

fn check_folder(folder: &Path, min_cases: usize, min_masks: usize) {
    let set = folder.file_name().unwrap().to_string_lossy();
    let cases = cases(folder);
    assert!(cases.len() >= min_cases, "expected {min_cases} cases in {set}, found {}", cases.len());
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in &cases {
        let (problems, n) = check_case(dir);
        checked += n;
        let case = dir.file_name().unwrap().to_string_lossy().into_owned();
        failures.extend(problems.into_iter().map(|p| format!("{set}/{case}: {p}")));
    }
    assert!(failures.is_empty(), "{} difference(s):\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= min_masks, "{checked} masks checked");
}

#[test]
fn every_easy_fixture_mask_is_reproduced() {
    check_set("htk-masks", 16);
}

#[test]
fn every_hard_fixture_mask_is_reproduced() {
    check_set("htk-masks-hard", 20);
}

/// Any folder of cases in the same layout, named by `BCSS_HTK_FIXTURES`: for instance cases a
/// HistomicsTK 1.4.0 driver made on random slides. `cargo test -p bcss --test it -- --ignored
/// extra_fixture` with the variable set.
#[test]
#[ignore = "needs BCSS_HTK_FIXTURES, a folder of cases made by HistomicsTK"]
fn every_mask_of_an_extra_fixture_folder_is_reproduced() {
    let folder = std::env::var_os("BCSS_HTK_FIXTURES").expect("BCSS_HTK_FIXTURES names a folder of cases");
    check_folder(Path::new(&folder), 1, 0);
}
