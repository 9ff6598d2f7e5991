//! `bcss masks` on HistomicsTK's reference cases and on bad input.

use std::path::{Path, PathBuf};

use crate::util::{bcss, run, Dir};

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bcss/tests/fixtures/htk-masks").join(name)
}

fn gray(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Grayscale, png::BitDepth::Eight),
        "{}",
        path.display()
    );
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn scaled_case_matches_histomicstk() {
    let dir = Dir::new();
    let c = case("case02");
    let r = run(bcss()
        .args(["masks", "--annotations"])
        .arg(c.join("annotations.json"))
        .args(["--codes"])
        .arg(c.join("gtcodes.csv"))
        .args([
            "--slide-name",
            "TCGA-ZZ-6480-01Z-00-DX1.CB6846F8",
            "--mpp",
            "0.5",
            "--native-mpp",
            "0.25",
            "--json",
            "--out",
        ])
        .arg(dir.join("out")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["scale_factor"], serde_json::json!(0.5));
    assert_eq!(summary["skipped_elements"]["point"], serde_json::json!(2));
    let name = "TCGA-ZZ-6480-01Z-00-DX1.CB6846F8_left-63284_top-4698_bottom-7246_right-66048";
    assert_eq!(gray(&dir.join(&format!("out/{name}.png"))), gray(&c.join(format!("expected/{name}.png"))));
    let got: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(&format!("out/{name}.json"))).unwrap()).unwrap();
    let want: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.join(format!("expected/{name}.json"))).unwrap()).unwrap();
    for key in ["bounds", "roiinfo", "name_bounds", "roi_element_bbox", "shape", "value_counts", "sha256", "element_id"]
    {
        assert_eq!(got[key], want[key], "{key}");
    }
}

#[test]
fn bad_input_exits_2() {
    let dir = Dir::new();
    let bad = dir.write("bad.json", "[{");
    let r = run(bcss().args(["masks", "--annotations"]).arg(&bad).arg("--out").arg(dir.join("o")));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("failed to parse annotation file") && r.stderr.contains("not valid JSON"),
        "{}",
        r.stderr
    );

    let good = case("case00").join("annotations.json");
    let r = run(bcss().args(["masks", "--annotations"]).arg(&good).args(["--mpp", "0.5", "--out"]).arg(dir.join("o")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--native-mpp"), "{}", r.stderr);

    let r = run(bcss()
        .args(["masks", "--annotations"])
        .arg(&good)
        .args(["--mag", "10", "--native-mag", "0", "--out"])
        .arg(dir.join("o")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("`--native-mag 0` must be a number above 0"), "{}", r.stderr);

    let codes = dir.write("codes.csv", "group,overlay_order,GT_code,is_roi,is_background_class\nregion,0,9,1,0\n");
    let r = run(bcss()
        .args(["masks", "--annotations"])
        .arg(&good)
        .arg("--codes")
        .arg(&codes)
        .arg("--out")
        .arg(dir.join("o")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("has no ROI element") && r.stderr.contains("`region`"), "{}", r.stderr);

    let codes = dir.write("codes2.csv", "group,GT_code\nroi,1\n");
    let r = run(bcss()
        .args(["masks", "--annotations"])
        .arg(&good)
        .arg("--codes")
        .arg(&codes)
        .arg("--out")
        .arg(dir.join("o")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no `overlay_order` column"), "{}", r.stderr);
}

#[test]
fn strict_masks_have_exact_bounds() {
    let dir = Dir::new();
    let r = run(bcss()
        .args(["masks", "--strict", "--json", "--annotations"])
        .arg(case("case01").join("annotations.json"))
        .arg("--out")
        .arg(dir.join("o")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let m = &summary["masks"][0];
    let b = &m["bounds"];
    assert_eq!(b["xmax"].as_i64().unwrap() - b["xmin"].as_i64().unwrap(), m["width"].as_i64().unwrap());
    assert_eq!(b["ymax"].as_i64().unwrap() - b["ymin"].as_i64().unwrap(), m["height"].as_i64().unwrap());
    let (w, h, _) = gray(Path::new(m["png"].as_str().unwrap()));
    assert_eq!((i64::from(w), i64::from(h)), (m["width"].as_i64().unwrap(), m["height"].as_i64().unwrap()));
}

/// A ROI element whose mask would be 1e7 x 1000 pixels (over 2^31) fails alone, before anything
/// is allocated for it; a resolution that makes ordinary elements that large is bad input
/// (exit 2) and creates nothing.
#[test]
fn oversized_masks_are_refused_before_allocating() {
    let dir = Dir::new();
    let json = dir.write(
        "SLIDE-1.json",
        r#"[{"annotation": {"name": "t", "elements": [
        {"type": "rectangle", "id": "wide", "group": "roi", "center": [5000000, 500, 0], "width": 10000000, "height": 1000, "rotation": 0},
        {"type": "rectangle", "id": "ok", "group": "roi", "center": [50, 5000, 0], "width": 100, "height": 100, "rotation": 0}
    ]}}]"#,
    );
    let r = run(bcss().args(["masks", "--annotations"]).arg(&json).arg("--out").arg(dir.join("o")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("memory allocation") && !r.stderr.contains("panicked"), "{}", r.stderr);
    let line = r.stderr.lines().find(|l| l.starts_with("failed: ROI 0 (wide)")).expect(&r.stderr);
    assert!(line.contains("would make a mask of 10000000x1000 pixels, over the limit of 2147483648 pixels"), "{line}");
    assert_eq!(crate::util::files_under(&dir.join("o")).len(), 2, "the other ROI's PNG and JSON");

    let good = case("case00").join("annotations.json");
    for (scale, want) in [
        (["--mpp", "0.0001", "--native-mpp", "0.25"], "at scale factor 2500"),
        (["--mpp", "1e-300", "--native-mpp", "1e300"], "gives a scale factor of inf"),
        (["--mag", "1e9", "--native-mag", "20"], "over the limit of 2147483648 pixels"),
    ] {
        let out = dir.join("absurd");
        let r = run(bcss().args(["masks", "--annotations"]).arg(&good).args(scale).arg("--out").arg(&out));
        assert_eq!(r.code, 2, "{scale:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{scale:?}: {}", r.stderr);
        assert!(!out.exists(), "{scale:?}: nothing is created");
    }
}

/// Hard case 03: its first ROI element is one pixel wide at the scale asked for, so HistomicsTK
/// makes no mask for it and writes the slide's four others. bcss reports it as skipped (which
/// element, why: JSON summary and stderr), writes the others as HistomicsTK does, and exits 0.
#[test]
fn a_skipped_roi_is_reported_and_the_others_are_written() {
    let dir = Dir::new();
    let c = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bcss/tests/fixtures/htk-masks-hard/case03");
    let case: serde_json::Value = serde_json::from_slice(&std::fs::read(c.join("case.json")).unwrap()).unwrap();
    let r = run(bcss()
        .args(["masks", "--annotations"])
        .arg(c.join("annotations.json"))
        .args(["--codes"])
        .arg(c.join("gtcodes.csv"))
        .args(["--slide-name", case["slide_name"].as_str().unwrap(), "--mpp", "0.5", "--native-mpp", "0.25", "--json"])
        .arg("--out")
        .arg(dir.join("out")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let want = &case["skipped_rois"][0];
    let skipped = summary["skipped_rois"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{summary}");
    assert_eq!(skipped[0]["roi_index"], want["roi_index"]);
    assert_eq!(skipped[0]["element_id"], want["element_id"]);
    assert_eq!(
        (skipped[0]["annidx"].clone(), skipped[0]["elementidx"].clone()),
        (want["annidx"].clone(), want["elementidx"].clone())
    );
    assert!(skipped[0]["reason"].as_str().unwrap().contains("empty mask"), "{summary}");
    assert_eq!(summary["failed"], serde_json::json!([]));
    let id = want["element_id"].as_str().unwrap();
    assert!(r.stderr.contains("skipped: ROI 0") && r.stderr.contains(id), "{}", r.stderr);
    let rois = case["rois"].as_array().unwrap();
    assert_eq!(summary["masks"].as_array().unwrap().len(), rois.len());
    for roi in rois {
        let name = roi["name"].as_str().unwrap();
        assert_eq!(
            gray(&dir.join(&format!("out/{name}.png"))),
            gray(&c.join(format!("expected/{name}.png"))),
            "{name}"
        );
    }
    let written = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "png"))
        .count();
    assert_eq!(written, rois.len(), "no mask for the skipped ROI");

    // Without --json the skipped ROI is on stderr too, and the exit status is still 0.
    let r = run(bcss()
        .args(["masks", "--annotations"])
        .arg(c.join("annotations.json"))
        .args(["--codes"])
        .arg(c.join("gtcodes.csv"))
        .args(["--slide-name", "S", "--mpp", "0.5", "--native-mpp", "0.25", "--out"])
        .arg(dir.join("out2")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("(1 skipped)") && r.stderr.contains(&format!("skipped: ROI 0 ({id}, annotation 0 element 0")),
        "{}",
        r.stderr
    );
}

/// A folder of annotation files, one per slide, as `bcss download` saves them: one process
/// writes every slide's masks (each named after its file, pixels as HistomicsTK's), a file that
/// is not annotation JSON is reported by name and the others are still written (exit 1).
#[test]
fn a_folder_of_slides_in_one_run() {
    let dir = Dir::new();
    let folder = dir.join("annotations");
    std::fs::create_dir_all(&folder).unwrap();
    let cases = ["case00", "case01", "case03", "case09"];
    for name in cases {
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case(name).join("case.json")).unwrap()).unwrap();
        let slide = meta["slide_name"].as_str().unwrap();
        std::fs::copy(case(name).join("annotations.json"), folder.join(format!("{slide}.json"))).unwrap();
    }
    std::fs::write(folder.join("BROKEN.json"), "[{\"annotation\": ").unwrap();
    std::fs::write(folder.join("notes.txt"), "not a slide").unwrap();
    let r = run(bcss().args(["masks", "--json", "--annotations"]).arg(&folder).arg("--out").arg(dir.join("out")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let done: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let failed = done["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{done}");
    assert_eq!(failed[0]["annotations"].as_str().unwrap(), folder.join("BROKEN.json").to_str().unwrap());
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("failed to parse annotation file `") && reason.contains("BROKEN.json"), "{reason}");
    // Without --json: the failed slide and the tally on stderr, the masks on stdout.
    let r2 = run(bcss().args(["masks", "--annotations"]).arg(&folder).arg("--out").arg(dir.join("out-text")));
    assert_eq!(r2.code, 1, "{}", r2.stderr);
    assert!(r2.stderr.contains(&format!("failed: {reason}")), "{}", r2.stderr);
    assert!(r2.stderr.contains("of 5 slide(s), 1 with failures ->"), "{}", r2.stderr);
    assert!(r2.stdout.lines().all(|l| l.ends_with(".png")) && r2.stdout.lines().count() >= 4, "{}", r2.stdout);
    let slides = done["slides"].as_array().unwrap();
    assert_eq!(slides.len(), cases.len());
    let mut compared = 0;
    for name in cases {
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case(name).join("case.json")).unwrap()).unwrap();
        let summary = slides.iter().find(|s| s["slide_name"] == meta["slide_name"]).expect("every slide done");
        let rois = meta["rois"].as_array().unwrap();
        assert_eq!(summary["masks"].as_array().unwrap().len(), rois.len(), "{name}");
        for roi in rois {
            let mask = roi["name"].as_str().unwrap();
            assert_eq!(
                gray(&dir.join(&format!("out/{mask}.png"))),
                gray(&case(name).join(format!("expected/{mask}.png"))),
                "{name} {mask}"
            );
            compared += 1;
        }
    }
    assert!(compared >= cases.len(), "{compared}");

    // `--slide-name` names one file's masks: refused with a folder, and two files of one slide
    // name (their masks would overwrite each other) are refused before anything is written.
    let r =
        run(bcss().args(["masks", "--slide-name", "S", "--annotations"]).arg(&folder).arg("--out").arg(dir.join("o2")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("`--slide-name` names the masks of one annotation file"), "{}", r.stderr);
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(folder.join("BROKEN.json"), other.join("BROKEN.json")).unwrap();
    let r = run(bcss()
        .args(["masks", "--annotations"])
        .arg(&folder)
        .arg(other.join("BROKEN.json"))
        .arg("--out")
        .arg(dir.join("o3")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("are both slide `BROKEN`"), "{}", r.stderr);
    assert!(!dir.join("o3").exists());
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let r = run(bcss().args(["masks", "--annotations"]).arg(&empty).arg("--out").arg(dir.join("o4")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("holds no annotation file (`*.json`)"), "{}", r.stderr);
}
