//! Every case of `tests/fixtures/htk-masks` (masks made by HistomicsTK 1.4.0 with Pillow 13):
//! every expected mask must be reproduced pixel for pixel, with the same name, the same bounds
//! and the same count of elements left out, and no mask may be produced that is not expected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bcss::codec::png::decode_gray;
use bcss::model::CodeTable;
use bcss::source::annotations::parse;
use bcss::transform::raster::{roi_masks, scale_from_mag, scale_from_mpp, Geometry, RasterOptions};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/htk-masks")
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
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
    assert_eq!(sf, case["sf"].as_f64().unwrap(), "scale factor");
    sf
}

#[test]
fn every_fixture_mask_is_reproduced() {
    let cases = cases();
    assert!(cases.len() >= 12, "expected the 12 fixture cases, found {}", cases.len());
    let mut checked = 0;
    for dir in cases {
        let case = json(&dir.join("case.json"));
        let table = CodeTable::from_path(&dir.join("gtcodes.csv")).unwrap();
        let annotations = parse(&std::fs::read(dir.join("annotations.json")).unwrap()).unwrap();
        let opts = RasterOptions { geometry: Geometry::Htk, scale: scale(&case) };
        let slide = case["slide_name"].as_str().unwrap();
        let produced: BTreeMap<String, _> = roi_masks(&annotations, &table, &opts)
            .into_iter()
            .filter_map(|r| r.ok())
            .map(|m| (m.name(slide), m))
            .collect();
        let expected: Vec<&Value> = case["rois"].as_array().unwrap().iter().collect();
        let names: Vec<&str> = expected.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(
            produced.keys().map(String::as_str).collect::<Vec<_>>(),
            {
                let mut n = names.clone();
                n.sort();
                n
            },
            "{}: mask names",
            dir.display()
        );
        for roi in expected {
            let name = roi["name"].as_str().unwrap();
            let m = &produced[name];
            let meta = json(&dir.join("expected").join(format!("{name}.json")));
            let want = decode_gray(&std::fs::read(dir.join("expected").join(format!("{name}.png"))).unwrap()).unwrap();
            let where_ = format!("{} {name}", dir.file_name().unwrap().to_string_lossy());
            assert_eq!((m.mask.height, m.mask.width), (want.height, want.width), "{where_}: shape");
            if m.mask.data != want.data {
                let diff =
                    m.mask.data.iter().zip(&want.data).enumerate().filter(|(_, (a, b))| a != b).collect::<Vec<_>>();
                let (i, (got, exp)) = diff[0];
                panic!(
                    "{where_}: {} pixels differ; first at x={} y={}: got {got}, expected {exp}",
                    diff.len(),
                    i % want.width,
                    i / want.width
                );
            }
            let b = &meta["bounds"];
            let bounds =
                [b["xmin"].as_i64(), b["ymin"].as_i64(), b["xmax"].as_i64(), b["ymax"].as_i64()].map(Option::unwrap);
            assert_eq!([m.bounds.xmin, m.bounds.ymin, m.bounds.xmax, m.bounds.ymax], bounds, "{where_}: bounds");
            let e = &meta["roi_element_bbox"];
            assert_eq!(
                [m.roi_bbox.xmin, m.roi_bbox.ymin, m.roi_bbox.xmax, m.roi_bbox.ymax],
                [e["xmin"].as_i64(), e["ymin"].as_i64(), e["xmax"].as_i64(), e["ymax"].as_i64()].map(Option::unwrap),
                "{where_}: ROI box"
            );
            assert_eq!(m.roi_index as u64, roi["roi_index"].as_u64().unwrap(), "{where_}: roi index");
            assert_eq!(
                annotations.elements[m.element].id.as_deref(),
                roi["element_id"].as_str(),
                "{where_}: element id"
            );
            assert_eq!(
                m.outside_roi as u64,
                meta["htk_elements_outside_roi"].as_u64().unwrap(),
                "{where_}: elements outside the ROI"
            );
            assert_eq!(
                m.element_errors.len(),
                meta["htk_element_errors"].as_array().unwrap().len(),
                "{where_}: element errors"
            );
            checked += 1;
        }
    }
    assert!(checked >= 16, "{checked} masks checked");
}
