//! Small ways a run could go wrong without telling the real cause (issue 10, item 7): long or
//! disguised server names, a file where a folder should be, a corrupt manifest, a fatal error a
//! script reading `--json` would miss.

use bcss_testserver::{Config, SlideSpec};

use crate::util::{bcss, files_under, run, Dir, Stand, KEY};

/// A stand whose one slide has this item name.
fn stand_named(name: &str) -> Stand {
    let slide = SlideSpec::new(name, 6000, 5000, 0.25, 40.0).roi("TCGA-SY-0001-DX1", 1000, 1000, 1400, 1300);
    Stand::with(Config { slides: vec![slide], api_key: Some(KEY.into()), ..Default::default() })
}

#[test]
fn a_server_name_too_long_for_its_temporary_file_is_refused_before_anything_is_written() {
    // 230 bytes: under the 255 of a file name, but the temporary name adds up to 45.
    let name = format!("TCGA-SY-0001-01Z-00-DX1.{}.svs", "A".repeat(202));
    let s = stand_named(&name);
    let r = run(s.download().args(["--pipeline", "images,masks,annotations", "--json"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("longer than 200 bytes"), "{}", r.stderr);
    assert!(files_under(&s.out().join("images")).is_empty(), "refused before the region was fetched");
    assert!(s.region_requests().is_empty());
}

#[test]
fn a_direction_override_in_a_server_name_is_refused() {
    let s = stand_named("TCGA-SY-0001-01Z-00-DX1.evil\u{202E}nosj.svs");
    let r = run(s.download().args(["--pipeline", "images,annotations"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("text-direction character"), "{}", r.stderr);
    assert!(files_under(&s.out().join("annotations")).is_empty());
}

#[test]
fn a_file_where_a_dataset_folder_belongs_is_named() {
    let s = Stand::new();
    std::fs::create_dir_all(s.out()).unwrap();
    std::fs::write(s.out().join("images"), b"not a folder").unwrap();
    let r = run(&mut s.download());
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("images`: it exists and is not a directory"), "{}", r.stderr);
}

#[test]
fn a_corrupt_manifest_is_bad_input_not_a_full_disk() {
    let s = Stand::new();
    std::fs::create_dir_all(s.out()).unwrap();
    std::fs::write(s.out().join("manifest.json"), b"{ not json").unwrap();
    let r = run(&mut s.download());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("manifest.json` is not valid"), "{}", r.stderr);
    assert!(!r.stderr.contains("free space"), "{}", r.stderr);
    assert_eq!(std::fs::read(s.out().join("manifest.json")).unwrap(), b"{ not json", "left as it was");
}

#[test]
fn a_fatal_error_is_in_the_log_and_on_stdout_with_json() {
    let s = Stand::new();
    std::fs::create_dir_all(s.out()).unwrap();
    std::fs::write(s.out().join("manifest.json"), b"[]").unwrap();
    let r = run(s.download().arg("--json"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(v["exit"], 2);
    assert!(v["error"].as_str().unwrap().contains("manifest.json` is not valid"), "{v}");
    let logs: Vec<String> = files_under(&s.out()).into_iter().filter(|f| f.starts_with("logs/")).collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = std::fs::read_to_string(s.out().join(&logs[0])).unwrap();
    assert!(log.contains("bcss stops") && log.contains("is not valid"), "{log}");
}

#[test]
fn a_fatal_error_before_any_output_still_answers_json() {
    let d = Dir::new();
    let r = run(bcss().args(["download", "--json", "--mpp", "0", "--out"]).arg(d.join("BCSS")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert!(v["error"].as_str().unwrap().contains("`--mpp 0`"), "{v}");
}

#[test]
fn verify_never_reads_a_manifest_path_outside_the_dataset() {
    let s = Stand::new();
    let r = run(s.download().args(["--slides", "TCGA-SY-0001"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let path = s.out().join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let roi = m["rois"].as_object_mut().unwrap().values_mut().next().unwrap();
    roi["files"]["image"]["path"] = serde_json::json!("../../../etc/hostname");
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let r = run(bcss().arg("verify").arg(s.out()));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("../../../etc/hostname") && r.stdout.contains("not a path inside the dataset"),
        "{}",
        r.stdout
    );
}

#[test]
fn verify_checks_a_dataset_of_other_rois_for_what_it_holds() {
    // A custom --roi-bounds dataset (ROI ids not in the catalogue), its manifest moved away.
    let s = Stand::new();
    let r = run(&mut s.download());
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::rename(s.out().join("manifest.json"), s.dir.join("manifest.json")).unwrap();
    let r = run(bcss().arg("verify").arg(s.out()));
    assert_eq!(r.code, 0, "not 151 missing catalogue ROIs: {}{}", r.stdout, r.stderr);
}

#[test]
fn verify_keeps_checking_the_image_beside_a_mask_with_bad_codes() {
    let d = Dir::new();
    let root = d.join("data");
    for dir in ["images", "masks"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let name = "MY-OWN-ROI-1_xmin10_ymin20_MPP-0.2500.png";
    let write = |path: std::path::PathBuf, w: u32, h: u32, colour: png::ColorType, data: &[u8]| {
        let mut enc = png::Encoder::new(std::fs::File::create(path).unwrap(), w, h);
        enc.set_color(colour);
        enc.write_header().unwrap().write_image_data(data).unwrap();
    };
    write(root.join("masks").join(name), 20, 10, png::ColorType::Grayscale, &[99; 200]);
    write(root.join("images").join(name), 21, 10, png::ColorType::Rgb, &[7; 21 * 10 * 3]);
    let r = run(bcss().arg("verify").arg(&root));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("outside the label codes"), "{}", r.stdout);
    assert!(r.stdout.contains("image is 21x10 but mask is 20x10"), "the image is still checked: {}", r.stdout);
}
