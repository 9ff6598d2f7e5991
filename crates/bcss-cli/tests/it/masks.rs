//! `bcss masks` on HistomicsTK's reference cases and on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
    assert!(
        r.stderr.contains("`--native-mag 0` is not a usable magnification: give a value from 0.01 to 400"),
        "{}",
        r.stderr
    );
    // One rule for microns per pixel, as `download` and `extract` apply it.
    let r = run(bcss()
        .args(["masks", "--annotations"])
        .arg(&good)
        .args(["--mpp", "0.001", "--native-mpp", "0.25", "--out"])
        .arg(dir.join("o")));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("`--mpp 0.001` is not a usable resolution: give microns per pixel from 0.01 to 100"),
        "{}",
        r.stderr
    );

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
        (["--mpp", "0.01", "--native-mpp", "25"], "at scale factor 2500"),
        (["--mpp", "1e-300", "--native-mpp", "1e300"], "is not a usable resolution"),
        (["--mag", "400", "--native-mag", "0.01"], "over the limit of 2147483648 pixels"),
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

/// `cmd` run under `prlimit --as=<bytes>`: its address space (every mapping, not only what it
/// touches) capped, so an allocation of a whole large mask fails.
fn under_address_limit(bytes: u64, cmd: &Command) -> Command {
    let mut limited = Command::new("prlimit");
    limited.arg(format!("--as={bytes}")).arg("--").arg(cmd.get_program()).args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => limited.env(key, v),
            None => limited.env_remove(key),
        };
    }
    limited
}

/// A 46340 x 46340 ROI element (2 147 395 600 pixels, just inside the 2^31 limit) in a file of a
/// few hundred bytes: `bcss masks` paints and writes its 46339 x 46339 mask (HistomicsTK's
/// tightening drops the last row and column) a band of rows at a time. Under a 600 MB address
/// space limit (the whole mask would be 2.1 GB, three and a half times that) it succeeds, and
/// every row of the PNG, read back a row at a time, is what the two elements make.
///
/// The full size, not a smaller one: painting, the PNG and the pixel summary of 2.1 G pixels took
/// 2.5 s on 2 cores in a debug build (bcss and the PNG crates are optimised in dev; the bands of
/// one value compress and hash fast), and reading it back 0.3 s. The binary of the commit before
/// (the mask made whole) aborts under this limit ("memory allocation of 2147302921 bytes failed").
#[test]
fn a_mask_of_2_gigapixels_is_written_in_bands_within_600_mb() {
    const SIDE: u64 = 46_340;
    // The tumour square covers slide pixels [A, B) in both axes (Pillow's fill of the corners'
    // pixel centres on HistomicsTK's canvas of B - A pixels).
    const A: usize = 20_000;
    const B: usize = 30_000;
    let dir = Dir::new();
    let json = dir.write(
        "BIG.json",
        &format!(
            r#"[{{"annotation": {{"name": "t", "elements": [
            {{"type": "rectangle", "id": "big", "group": "roi", "center": [{c}, {c}, 0], "width": {SIDE}, "height": {SIDE}, "rotation": 0}},
            {{"type": "polyline", "group": "mostly_tumor", "points": [[{A}, {A}, 0], [{B}, {A}, 0], [{B}, {B}, 0], [{A}, {B}, 0]]}}
            ]}}}}]"#,
            c = SIDE / 2
        ),
    );
    assert!(std::fs::metadata(&json).unwrap().len() < 400);
    let mut cmd = bcss();
    cmd.args(["masks", "--json", "--annotations"]).arg(&json).arg("--out").arg(dir.join("out"));
    let started = std::time::Instant::now();
    let r = run(&mut under_address_limit(600_000_000, &cmd));
    let took = started.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let side = SIDE as usize - 1;
    let m = &summary["masks"][0];
    assert_eq!((m["width"].as_u64(), m["height"].as_u64()), (Some(side as u64), Some(side as u64)), "{summary}");
    let png_path = PathBuf::from(m["png"].as_str().unwrap());
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(png_path.with_extension("json")).unwrap()).unwrap();
    let tumour = ((B - A) * (B - A)) as u64;
    assert_eq!(meta["value_counts"], serde_json::json!({"1": tumour, "2": (side * side) as u64 - tumour}));

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!((info.width, info.height), (side as u32, side as u32));
    assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Grayscale, png::BitDepth::Eight));
    let (outside, mut across) = (vec![2u8; side], vec![2u8; side]);
    across[A..B].fill(1);
    let mut y = 0;
    while let Some(row) = reader.next_row().unwrap() {
        let want = if (A..B).contains(&y) { &across } else { &outside };
        assert!(row.data() == &want[..], "row {y}");
        y += 1;
    }
    assert_eq!(y, side);
    eprintln!("2 gigapixel mask: bcss {took:?}, read back {:?}", started.elapsed() - took);
}

/// A FIFO named like an annotation file in a folder of them is a slide that fails ("a FIFO, not
/// a regular file"), reported as such, while the others are written: it is neither waited on
/// (no writer ever comes) nor left out without a word.
#[test]
fn a_fifo_among_annotation_files_fails_its_slide_without_hanging() {
    let dir = Dir::new();
    let folder = dir.join("annotations");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(case("case00").join("annotations.json"), folder.join("GOOD.json")).unwrap();
    let fifo = folder.join("x.json");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    let mut child = bcss()
        .args(["masks", "--json", "--annotations"])
        .arg(&folder)
        .arg("--out")
        .arg(dir.join("out"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bcss runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let finished = loop {
        if child.try_wait().unwrap().is_some() {
            break true;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert!(finished, "bcss masks still ran after 120 s: it waits on the FIFO");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let done: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let failed = done["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{done}");
    assert_eq!(failed[0]["annotations"].as_str(), fifo.to_str());
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("failed to read annotation file `") && reason.ends_with("it is a FIFO, not a regular file"),
        "{reason}"
    );
    assert_eq!(done["failures"][0]["id"], serde_json::json!("x"), "{done}");
    assert_eq!(done["slides"].as_array().unwrap().len(), 1, "the other slide is written: {done}");
}

/// `download --mask-source annotations` (the pipeline's `SlideAnnotationMasks`, base masks in
/// compat mode without images) streams each ROI's mask a band of rows at a time: the files hold
/// the pixels of the mask made whole from the annotation JSON the same run saved.
#[test]
fn masks_from_a_servers_annotations_are_the_masks_made_whole() {
    use bcss::catalog::Roi;
    use bcss::transform::{mask_for_rect, Geometry};

    let s = crate::util::Stand::new();
    let r = run(s.download().args([
        "--mpp",
        "0.25",
        "--compat",
        "--pipeline",
        "masks,annotations",
        "--mask-source",
        "annotations",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let saved: Vec<PathBuf> =
        std::fs::read_dir(s.out().join("annotations")).unwrap().map(|e| e.unwrap().path()).collect();
    for id in ["TCGA-SY-0001-DX1", "TCGA-SY-0002-DX1", "TCGA-SY-0003-DX1"] {
        let spec = s.roi(id);
        let roi = Roi {
            id: id.to_string(),
            xmin: spec.xmin,
            ymin: spec.ymin,
            xmax: spec.xmax,
            ymax: spec.ymax,
            mask_link: None,
        };
        let json = saved.iter().find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&id[..12])).unwrap();
        // Made whole, as `bcss masks` would: HistomicsTK's rules with the BCSS codes table.
        let parsed = bcss::model::parse_annotations(&std::fs::read(json).unwrap()).unwrap();
        let table = bcss::catalog::bcss_with_labels();
        let want = mask_for_rect(&parsed, id, roi.rect(), &table, Geometry::Htk).unwrap();
        let (w, h, got) = gray(&s.mask_path(id, "MAG-0"));
        assert_eq!((w as usize, h as usize), (want.width, want.height), "{id}");
        assert!(got == want.data, "{id}");
        assert!(want.data.iter().any(|&v| v != 0 && v != 2), "{id}: classes painted over stroma");
    }
}
