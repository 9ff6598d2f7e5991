//! Argument handling that needs no server: help, and bad input refused before any request.

use crate::util::{bcss, run, Dir};

#[test]
fn help_lists_every_download_option() {
    let r = run(bcss().args(["download", "--help"]));
    assert_eq!(r.code, 0);
    for flag in [
        "--api-url",
        "--api-key",
        "--login",
        "--folder-id",
        "--roi-bounds",
        "--out",
        "--mpp",
        "--mag",
        "--base",
        "--pipeline",
        "--slides",
        "--jobs",
        "--compat",
        "--encoding",
        "--retries",
        "--timeout",
        "--ca-cert",
        "--config",
    ] {
        assert!(r.stdout.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn mpp_and_mag_together_are_refused() {
    let r = run(bcss().args(["download", "--mpp", "0.5", "--mag", "20"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--mpp") && r.stderr.contains("--mag"), "{}", r.stderr);
}

#[test]
fn output_path_that_is_a_file_is_refused() {
    let d = Dir::new();
    let f = d.write("file", "x");
    let r = run(bcss().args(["download", "--api-url", "http://127.0.0.1:9/api/v1", "--out"]).arg(&f));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is not a directory"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "x");
}

#[test]
fn rois_lists_the_catalogue_with_sites_and_splits() {
    let r = run(bcss().args(["rois", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rows.len(), 151);
    assert_eq!(rows.iter().filter(|v| v["split"] == "test").count(), 45);
    assert_eq!(rows.iter().filter(|v| v["magnification"] == 20.0).count(), 14);
    let first = &rows[0];
    assert_eq!(
        (first["roi"].as_str(), first["width"].as_u64(), first["height"].as_u64()),
        (Some("TCGA-A1-A0SK-DX1"), Some(4040), Some(2936))
    );
    assert_eq!(
        (first["site"].as_str(), first["split"].as_str(), first["split_val"].as_str()),
        (Some("A1"), Some("train"), Some("val"))
    );
    let text = run(bcss().args(["rois", "--slides", "TCGA-OL-A5RW"]));
    assert_eq!(text.code, 0);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "header + one ROI: {:?}", lines);
    assert!(lines[1].starts_with("TCGA-OL-A5RW-DX1") && lines[1].contains(" test "), "{}", lines[1]);
    let bad = run(bcss().args(["rois", "--slides", "TCGA-XX-0000"]));
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("unknown slide `TCGA-XX-0000`"));
}
