//! `bcss normalize` as the real binary: every HistomicsTK fixture case (`crates/bcss/tests/fixtures/reinhard`)
//! gives HistomicsTK's pixels; bad input exits 2 naming the file or value and writes nothing;
//! dataset mode writes the Drive layout, resumes, and `verify` reads it.

use std::path::{Path, PathBuf};

use bcss::model::{GrayImage, RgbImage};
use bcss::transform::reinhard::{lab_mean_std, LabStats, Reinhard};

use crate::analysis::{json, write_png};
use crate::util::{bcss, files_under, read_gray, read_rgb, run, Dir};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bcss/tests/fixtures/reinhard")
}

fn join3(v: &serde_json::Value) -> String {
    v.as_array().unwrap().iter().map(|x| format!("{}", x.as_f64().unwrap())).collect::<Vec<_>>().join(",")
}

#[test]
fn every_fixture_case_gives_histomicstks_pixels() {
    let d = Dir::new();
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(fixtures()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(cases.len() >= 12, "{cases:?}");
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let params: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("params.json")).unwrap()).unwrap();
        let out = d.join(&format!("{name}.png"));
        let mut c = bcss();
        c.args(["normalize", "--image"]).arg(case.join("input.png")).arg("--out").arg(&out);
        c.arg(format!("--target-mu={}", join3(&params["target_mu"])));
        c.arg(format!("--target-sigma={}", join3(&params["target_sigma"])));
        if let Some(m) = params["mask"].as_str() {
            c.arg("--mask").arg(case.join(m));
        }
        if params.get("src_mu").is_some() {
            c.arg(format!("--src-mu={}", join3(&params["src_mu"])));
            c.arg(format!("--src-sigma={}", join3(&params["src_sigma"])));
        }
        let r = run(&mut c);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        // Identical: the library's fixture test measured 0 values off by one over all cases.
        assert!(read_rgb(&out) == read_rgb(&case.join("expected.png")), "{name}: pixels differ from HistomicsTK");
    }
}

/// A 16-bit RGB PNG.
fn write_png16(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), 2, 1);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Sixteen);
    enc.write_header().unwrap().write_image_data(&[1; 12]).unwrap();
}

fn write_rgba(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), 2, 1);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(&[9; 8]).unwrap();
}

#[test]
fn bad_input_exits_2_naming_it_and_writes_nothing() {
    let d = Dir::new();
    let good = fixtures().join("case05/input.png");
    write_png16(&d.join("deep.png"));
    write_rgba(&d.join("rgba.png"));
    write_png(&d.join("small-mask.png"), 2, 2, 1, &[0; 4]);
    let out = d.join("out/x.png");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--image".into(), d.join("deep.png").display().to_string()],
            "16-bit RGB image (normalize needs 8-bit RGB)",
        ),
        (vec!["--image".into(), d.join("rgba.png").display().to_string()], "8-bit RGBA image"),
        (
            vec![
                "--image".into(),
                good.display().to_string(),
                "--mask".into(),
                d.join("small-mask.png").display().to_string(),
            ],
            "small-mask.png`: size 2x2 does not match its image 73x27",
        ),
        (
            vec!["--image".into(), good.display().to_string(), "--src-mu=1,2,3".into(), "--src-sigma=1,0,1".into()],
            "source sigma 0 of channel 1 is not a positive finite number",
        ),
        (
            vec![
                "--image".into(),
                good.display().to_string(),
                "--target-mu=1,2,3".into(),
                "--target-sigma=1,1,NaN".into(),
            ],
            "target sigma NaN of channel 2 is not a positive finite number",
        ),
        (
            vec!["--image".into(), good.display().to_string(), "--target-mu=1,2".into(), "--target-sigma=1,1,1".into()],
            "`--target-mu` takes 3 comma-separated numbers (l, alpha, beta), not 2",
        ),
        (
            vec![
                "--image".into(),
                good.display().to_string(),
                "--target-image".into(),
                d.join("deep.png").display().to_string(),
            ],
            "deep.png`: unsupported PNG: 16-bit RGB image",
        ),
    ];
    for (args, want) in cases {
        let r = run(bcss().arg("normalize").args(&args).arg("--out").arg(&out));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(files_under(&d.join("out")).is_empty(), "{args:?} wrote {:?}", files_under(&d.join("out")));
    }
}

const NAMES: [&str; 2] =
    ["TCGA-A1-A0SK-DX1_xmin45749_ymin25055_MPP-0.2500.png", "TCGA-OL-A5RW-DX1_xmin3_ymin4_MPP-0.2500.png"];

/// A bcss-layout dataset of two ROIs: the images of fixture cases 00 and 01, masks with a
/// band of don't care on the left.
fn dataset(d: &Dir) -> (Vec<RgbImage>, Vec<GrayImage>) {
    let mut images = Vec::new();
    let mut masks = Vec::new();
    for (name, case) in NAMES.iter().zip(["case00", "case01"]) {
        let img = read_rgb(&fixtures().join(case).join("input.png"));
        std::fs::create_dir_all(d.join("ds/images")).unwrap();
        std::fs::copy(fixtures().join(case).join("input.png"), d.join("ds/images").join(name)).unwrap();
        let mask: Vec<u8> =
            (0..img.width * img.height).map(|i| if i % img.width < 10 { 0 } else { 1 + (i % 3) as u8 }).collect();
        write_png(&d.join("ds/masks").join(name), img.width, img.height, 1, &mask);
        masks.push(GrayImage { width: img.width, height: img.height, data: mask });
        images.push(img);
    }
    (images, masks)
}

#[test]
fn dataset_mode_writes_the_drive_layout_resumes_and_verifies() {
    let d = Dir::new();
    dataset(&d);
    let r = run(bcss()
        .args(["--json", "normalize"])
        .arg(d.join("ds"))
        .arg("--out")
        .arg(d.join("drive"))
        .args(["--jobs", "2"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!((v["normalized"].as_u64(), v["skipped"].as_u64()), (Some(2), Some(0)), "{v}");
    let drive = d.join("drive/0_Public-data-Amgad2019_0.25MPP");
    let mut want: Vec<String> =
        NAMES.iter().flat_map(|n| [format!("masks/{n}"), format!("rgbs_colorNormalized/{n}")]).collect();
    want.sort();
    assert_eq!(files_under(&drive), want);
    for (name, case) in NAMES.iter().zip(["case00", "case01"]) {
        assert!(
            read_rgb(&drive.join("rgbs_colorNormalized").join(name))
                == read_rgb(&fixtures().join(case).join("expected.png")),
            "{name}"
        );
        assert_eq!(
            std::fs::read(drive.join("masks").join(name)).unwrap(),
            std::fs::read(d.join("ds/masks").join(name)).unwrap()
        );
    }
    // Same file system: the masks are hard links, not copies.
    assert_eq!(v["linked"].as_u64(), Some(2), "{v}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&drive.join("masks").join(NAMES[0])), ino(&d.join("ds/masks").join(NAMES[0])));
    }
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("drive/normalize.json")).unwrap()).unwrap();
    let entry = &record["rois"][NAMES[0]];
    assert_eq!(
        entry["image"]["sha256"].as_str().unwrap(),
        crate::util::sha256_hex(&drive.join("rgbs_colorNormalized").join(NAMES[0]))
    );

    // A rerun skips both; a damaged output is redone.
    std::fs::write(drive.join("rgbs_colorNormalized").join(NAMES[1]), b"broken").unwrap();
    let r = run(bcss().args(["--json", "normalize"]).arg(d.join("ds")).arg("--out").arg(d.join("drive")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!((v["normalized"].as_u64(), v["skipped"].as_u64()), (Some(1), Some(1)), "{v}");
    assert!(
        read_rgb(&drive.join("rgbs_colorNormalized").join(NAMES[1]))
            == read_rgb(&fixtures().join("case01/expected.png"))
    );

    let r = run(bcss().arg("verify").arg(&drive));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn exclude_dont_care_leaves_code_0_out_of_the_statistics_only() {
    let d = Dir::new();
    let (images, masks) = dataset(&d);
    let r = run(bcss().arg("normalize").arg(d.join("ds")).arg("--out").arg(d.join("drive")).arg("--exclude-dont-care"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for ((name, img), mask) in NAMES.iter().zip(&images).zip(&masks) {
        let out_of_stats = GrayImage { data: mask.data.iter().map(|&c| u8::from(c == 0)).collect(), ..mask.clone() };
        let stats = lab_mean_std(img, Some(&out_of_stats)).unwrap();
        let plain = lab_mean_std(img, None).unwrap();
        assert_ne!(stats, plain, "the band of don't care must move the statistics");
        let mut t = Reinhard::new(stats, LabStats::bcss());
        let mut want = img.clone();
        for y in 0..img.height {
            let n = img.width * 3;
            t.row(img.row(y), None, &mut want.data[y * n..(y + 1) * n]).unwrap();
        }
        let got = read_rgb(&d.join("drive/0_Public-data-Amgad2019_0.25MPP/rgbs_colorNormalized").join(name));
        assert!(got == want, "{name}");
        assert_eq!(read_gray(&d.join("drive/0_Public-data-Amgad2019_0.25MPP/masks").join(name)), *mask);
    }
}

#[test]
fn a_roi_without_image_fails_alone_with_exit_1() {
    let d = Dir::new();
    dataset(&d);
    std::fs::remove_file(d.join("ds/images").join(NAMES[1])).unwrap();
    let r = run(bcss().arg("normalize").arg(d.join("ds")).arg("--out").arg(d.join("drive")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("ROI `TCGA-OL-A5RW-DX1` has a mask but no image"), "{}", r.stderr);
    let drive = d.join("drive/0_Public-data-Amgad2019_0.25MPP");
    assert_eq!(files_under(&drive.join("rgbs_colorNormalized")), [NAMES[0]]);
    assert_eq!(files_under(&drive.join("masks")), [NAMES[0]]);
}

#[test]
fn an_image_without_mask_is_refused_before_anything_is_written() {
    let d = Dir::new();
    dataset(&d);
    std::fs::remove_file(d.join("ds/masks").join(NAMES[1])).unwrap();
    let r = run(bcss().arg("normalize").arg(d.join("ds")).arg("--out").arg(d.join("drive")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("image `{}", d.join("ds/images").join(NAMES[1]).display())), "{}", r.stderr);
    assert!(r.stderr.contains("has no mask"), "{}", r.stderr);
    assert!(!d.join("drive").exists());
}

#[test]
fn target_image_takes_its_statistics_and_new_settings_redo_every_roi() {
    let d = Dir::new();
    let (images, _) = dataset(&d);
    let target_png = fixtures().join("case08/input.png");
    let out = d.join("one.png");
    let r = run(bcss()
        .args(["normalize", "--image"])
        .arg(fixtures().join("case00/input.png"))
        .arg("--out")
        .arg(&out)
        .arg("--target-image")
        .arg(&target_png));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let target = lab_mean_std(&read_rgb(&target_png), None).unwrap();
    let want = bcss::transform::reinhard::reinhard(&images[0], target, None, None).unwrap();
    assert!(read_rgb(&out) == want);
    assert!(want != read_rgb(&fixtures().join("case00/expected.png")), "another target gives other pixels");

    let first = run(bcss().args(["--json", "normalize"]).arg(d.join("ds")).arg("--out").arg(d.join("drive")));
    assert_eq!(json(&first.stdout)["normalized"], 2, "{}", first.stderr);
    let again = run(bcss()
        .args(["--json", "normalize"])
        .arg(d.join("ds"))
        .arg("--out")
        .arg(d.join("drive"))
        .arg("--target-image")
        .arg(&target_png));
    let v = json(&again.stdout);
    assert_eq!((v["normalized"].as_u64(), v["skipped"].as_u64()), (Some(2), Some(0)), "{v}");
    let got = read_rgb(&d.join("drive/0_Public-data-Amgad2019_0.25MPP/rgbs_colorNormalized").join(NAMES[0]));
    assert!(got == want);
}

/// A folder of the Drive layout planted as a link to elsewhere (issue 22's rule for every writing
/// command): refused, exit 4, and nothing is written through it.
#[test]
fn a_drive_folder_that_is_a_link_is_refused() {
    for sub in ["0_Public-data-Amgad2019_0.25MPP", "0_Public-data-Amgad2019_0.25MPP/masks"] {
        let d = Dir::new();
        dataset(&d);
        let elsewhere = d.join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let link = d.join("drive").join(sub);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let r = run(bcss().arg("normalize").arg(d.join("ds")).arg("--out").arg(d.join("drive")));
        assert_eq!(r.code, 4, "{sub}: {}", r.stderr);
        assert!(r.stderr.contains("symbolic link"), "{sub}: {}", r.stderr);
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "{sub}: written through the link");
    }
}

/// A "Drive copy" to compare with: the first ROI's expected image with `changed` pixels altered
/// (the first by +3 in red, the rest by +1), the second ROI absent, masks equal but one value.
fn drive_copy(d: &Dir, changed: usize) -> PathBuf {
    let root = d.join("theirs/0_Public-data-Amgad2019_0.25MPP");
    let mut img = read_rgb(&fixtures().join("case00/expected.png"));
    for i in 0..changed {
        img.data[3 * i] = img.data[3 * i].wrapping_add(if i == 0 { 3 } else { 1 });
    }
    write_png(&root.join("rgbs_colorNormalized").join(NAMES[0]), img.width, img.height, 3, &img.data);
    let mut mask = read_gray(&d.join("ds/masks").join(NAMES[0]));
    mask.data[0] = 21;
    write_png(&root.join("masks").join(NAMES[0]), mask.width, mask.height, 1, &mask.data);
    root
}

#[test]
fn compare_reports_identical_pixels_and_differences_per_roi() {
    let d = Dir::new();
    dataset(&d);
    let changed = 10;
    let img = read_rgb(&fixtures().join("case00/expected.png"));
    assert!(img.data[..3 * changed].chunks(3).all(|p| p[0] < 250), "the test's +3 must not wrap");
    let theirs = drive_copy(&d, changed);
    // The Drive folder, and the root above it, are both accepted.
    for compare in [theirs.clone(), d.join("theirs")] {
        let r = run(bcss()
            .args(["--json", "normalize"])
            .arg(d.join("ds"))
            .arg("--out")
            .arg(d.join("drive"))
            .arg("--compare")
            .arg(&compare));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v = json(&r.stdout);
        let c = &v["compare"];
        assert_eq!((c["compared"].as_u64(), c["not_compared"].as_u64()), (Some(1), Some(1)), "{v}");
        let first = &c["rois"][0];
        assert_eq!(first["name"], NAMES[0]);
        let pixels = (img.width * img.height) as u64;
        assert_eq!(first["image"]["pixels"].as_u64(), Some(pixels));
        assert_eq!(first["image"]["identical_pixels"].as_u64(), Some(pixels - changed as u64), "{first}");
        assert_eq!(first["image"]["max_abs_diff"].as_u64(), Some(3));
        let mean = first["image"]["mean_abs_diff"].as_f64().unwrap();
        let want = (3 + changed - 1) as f64 / (3 * pixels) as f64;
        assert!((mean - want).abs() < 1e-12, "{mean} vs {want}");
        let mask_share = first["mask_identical_share"].as_f64().unwrap();
        assert!((mask_share - (pixels - 1) as f64 / pixels as f64).abs() < 1e-12, "{mask_share}");
        assert!(c["rois"][1]["problem"].as_str().unwrap().contains("not in"), "{c}");
        assert_eq!(c["worst"], NAMES[0]);
    }
    // The second run skipped both ROIs and still compared; the words say the same.
    let r =
        run(bcss().arg("normalize").arg(d.join("ds")).arg("--out").arg(d.join("drive")).arg("--compare").arg(&theirs));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pixels = img.width * img.height;
    let share = format!("{:.4}%", 100.0 * (pixels - changed) as f64 / pixels as f64);
    let line = r.stdout.lines().find(|l| l.starts_with(NAMES[0])).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(line.contains(&share) && line.contains(" 3 "), "{line}");
    assert!(r.stdout.lines().any(|l| l.starts_with(NAMES[1]) && l.contains("not compared")), "{}", r.stdout);
    assert!(r.stdout.contains("compared 1 ROI(s)"), "{}", r.stdout);

    // --image: one PNG against one PNG; of another size, a clear error naming it.
    let out = d.join("one.png");
    let r = run(bcss()
        .args(["--json", "normalize", "--image"])
        .arg(fixtures().join("case00/input.png"))
        .arg("--out")
        .arg(&out)
        .arg("--compare")
        .arg(theirs.join("rgbs_colorNormalized").join(NAMES[0])));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r.stdout)["compare"]["identical_pixels"].as_u64(), Some((pixels - changed) as u64));
    let r = run(bcss()
        .args(["normalize", "--image"])
        .arg(fixtures().join("case00/input.png"))
        .arg("--out")
        .arg(&out)
        .arg("--compare")
        .arg(fixtures().join("case01/expected.png")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("case01") && r.stderr.contains("the image compared"), "{}", r.stderr);
    // A folder that does not exist is refused before anything is written.
    let r = run(bcss()
        .arg("normalize")
        .arg(d.join("ds"))
        .arg("--out")
        .arg(d.join("new"))
        .arg("--compare")
        .arg(d.join("nowhere")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!d.join("new").exists());
}
