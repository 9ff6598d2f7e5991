//! What a new user meets in the first hour (issue 14): evaluation by split, errors that name the
//! real cause, and files that say what they hold. Each test runs the real binary and asserts the
//! message or the file content.

use crate::analysis::{json, write_png};
use crate::util::{bcss, run, Dir};

/// Truth masks of three ROIs in raw codes: two from test sites (OL, LL), one from a train site
/// (A1). Each 2x2: tumor (1) over stroma (2).
fn three_rois(d: &Dir) {
    for roi in ["TCGA-OL-A5RW-DX1", "TCGA-LL-A5YP-DX1", "TCGA-A1-A0SK-DX1"] {
        write_png(&d.join(&format!("truth/masks/{roi}_xmin0_ymin0_MPP-0.2500.png")), 2, 2, 1, &[1, 1, 2, 2]);
    }
}

#[test]
fn eval_scores_one_part_of_a_split() {
    let d = Dir::new();
    three_rois(&d);
    // Predictions for the two test ROIs: OL perfect, LL with one stroma pixel called tumour.
    write_png(&d.join("pred/TCGA-OL-A5RW-DX1_xmin0_ymin0_MPP-0.2500.png"), 2, 2, 1, &[1, 1, 2, 2]);
    write_png(&d.join("pred/TCGA-LL-A5YP-DX1_xmin0_ymin0_MPP-0.2500.png"), 2, 2, 1, &[1, 1, 1, 2]);
    let eval = |extra: &[&str]| {
        run(bcss()
            .args(["--json", "eval", "--pred"])
            .arg(d.join("pred"))
            .arg("--truth")
            .arg(d.join("truth"))
            .args(extra))
    };

    let r = eval(&["--split", "official", "--part", "test"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["images"], 2);
    assert_eq!(v["problems"], serde_json::json!([]));
    // Per-ROI scores: LL has tumour TP 2, FP 1 (Dice 4/5) and stroma TP 1, FN 1 (Dice 2/3).
    let rois: Vec<&str> = v["per_image"].as_array().unwrap().iter().map(|i| i["roi"].as_str().unwrap()).collect();
    assert_eq!(rois, ["TCGA-LL-A5YP-DX1", "TCGA-OL-A5RW-DX1"]);
    let ll = &v["per_image"][0];
    assert!((ll["per_class"][0]["dice"].as_f64().unwrap() - 0.8).abs() < 1e-12, "{ll}");
    assert!((ll["per_class"][1]["dice"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12, "{ll}");
    assert!(ll["per_class"][2]["dice"].is_null(), "{ll}");
    assert_eq!(v["per_image"][1]["per_class"][0]["dice"], 1.0);

    // Without --part the train ROI has no prediction: exit 1, and a hint that names the option.
    let r = run(bcss().args(["eval", "--pred"]).arg(d.join("pred")).arg("--truth").arg(d.join("truth")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png`: no prediction"), "{}", r.stderr);
    assert!(r.stderr.contains("give `--split official --part test`"), "{}", r.stderr);

    // A prediction for a ROI of another part is left out, not a problem.
    write_png(&d.join("pred/TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png"), 3, 1, 1, &[1, 1, 1]);
    let r = eval(&["--part", "test"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r.stdout)["images"], 2);
    // ... and scored when its part is asked for (here it has the wrong size).
    let r = eval(&["--part", "train"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["problems"][0]["kind"], "size", "{v}");

    // A --split that is no split is an error, with or without --part.
    let r = eval(&["--split", "offical"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("split `offical` is neither official, official-val nor a split file"), "{}", r.stderr);
    // The official split has no val part; a part with no ROI is an error that says so.
    let r = eval(&["--part", "val"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("the official split has no val part"), "{}", r.stderr);
    // official-val puts site A1 in val.
    let r = eval(&["--split", "official-val", "--part", "val"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        json(&r.stdout)["problems"][0]["file"].as_str().unwrap(),
        d.join("pred/TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png").to_str().unwrap()
    );
    let only_test = d.join("only-test");
    write_png(&only_test.join("TCGA-OL-A5RW-DX1_xmin0_ymin0_MPP-0.2500.png"), 2, 2, 1, &[1, 1, 2, 2]);
    let r = run(bcss().args(["eval", "--part", "train", "--pred"]).arg(d.join("pred")).arg("--truth").arg(&only_test));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("only-test` is in part train of split official"), "{}", r.stderr);
}

#[test]
fn the_same_part_option_limits_stats_tile_and_overlay() {
    let d = Dir::new();
    for roi in ["TCGA-OL-A5RW-DX1", "TCGA-LL-A5YP-DX1", "TCGA-A1-A0SK-DX1"] {
        write_png(&d.join(&format!("ds/masks/{roi}_xmin0_ymin0_MPP-0.2500.png")), 2, 2, 1, &[1, 1, 2, 2]);
        write_png(&d.join(&format!("ds/images/{roi}_xmin0_ymin0_MPP-0.2500.png")), 2, 2, 3, &[200; 12]);
    }
    let r = run(bcss().args(["--json", "stats"]).arg(d.join("ds")).args(["--part", "test", "--out"]).arg(d.join("st")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r.stdout)["rois"], 2);
    let rois_csv = std::fs::read_to_string(d.join("st/rois.csv")).unwrap();
    assert!(!rois_csv.contains("TCGA-A1-A0SK") && rois_csv.contains("TCGA-OL-A5RW"), "{rois_csv}");

    let r = run(bcss()
        .args(["--json", "tile"])
        .arg(d.join("ds"))
        .args(["--size", "2", "--part", "train", "--out"])
        .arg(d.join("t")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r.stdout)["rois"], 1);
    assert!(d.join("t/train/index.csv").is_file() && !d.join("t/test").exists());
    // tiles.json says what the tiles hold.
    let tiles = json(&std::fs::read_to_string(d.join("t/tiles.json")).unwrap());
    assert_eq!(tiles["bcss_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(tiles["resolution"], serde_json::json!(["MPP-0.2500"]));
    assert_eq!(tiles["class_map"], "main5");
    assert_eq!(tiles["classes"][0]["name"], "tumour");
    assert_eq!(tiles["classes"][0]["color"], serde_json::json!([220, 20, 60]));
    assert_eq!(tiles["classes"][0]["codes"], serde_json::json!([1, 19, 20]));
    assert_eq!(tiles["classes"].as_array().unwrap().len(), 5);
    assert_eq!(tiles["split"], "official");
    assert_eq!(tiles["per_part"], serde_json::json!({"train": 1}));

    let r =
        run(bcss().args(["--json", "overlay"]).arg(d.join("ds")).args(["--part", "test", "--out"]).arg(d.join("o")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(d.join("o/TCGA-OL-A5RW-DX1_overlay.png").is_file() && !d.join("o/TCGA-A1-A0SK-DX1_overlay.png").exists());
}

#[test]
fn eval_warns_when_predictions_look_like_raw_codes_or_zero_based_classes() {
    let d = Dir::new();
    // Four ROIs; predictions that are the truth's raw codes. Three hold codes above 5 (10, 18,
    // 21), one only codes 1 and 2, which main5 happens to share.
    let truths: [&[u8; 4]; 4] = [&[1, 2, 10, 10], &[1, 18, 2, 2], &[21, 1, 1, 2], &[1, 1, 2, 2]];
    for (i, t) in truths.iter().enumerate() {
        write_png(&d.join(&format!("truth/masks/R{i}_xmin0_ymin0_MPP-0.2500.png")), 2, 2, 1, *t);
        write_png(&d.join(&format!("pred/R{i}_xmin0_ymin0_MPP-0.2500.png")), 2, 2, 1, *t);
    }
    let r = run(bcss()
        .args(["eval", "--class-map", "main5", "--pred"])
        .arg(d.join("pred"))
        .arg("--truth")
        .arg(d.join("truth")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "warning: 3 of 4 predictions hold values above 5 (up to 21): they look like raw BCSS codes (1..=21), not the classes of map main5"
        ),
        "{}",
        r.stderr
    );
    let r = run(bcss().args(["--json", "eval", "--pred"]).arg(d.join("pred")).arg("--truth").arg(d.join("truth")));
    let v = json(&r.stdout);
    assert_eq!(v["problems"][0]["kind"], "value_over_k");
    assert_eq!(v["problems"][0]["max_value"], 10);
    assert!(v["warnings"][0].as_str().unwrap().contains("raw BCSS codes"), "{v}");

    // 0-based predictions (argmax): tumour as 0, stroma as 1, class 5 never predicted.
    let d = Dir::new();
    write_png(&d.join("truth/masks/R_xmin0_ymin0_MPP-0.2500.png"), 2, 2, 1, &[1, 1, 2, 2]);
    write_png(&d.join("pred/R_xmin0_ymin0_MPP-0.2500.png"), 2, 2, 1, &[0, 0, 1, 1]);
    let r = run(bcss().args(["eval", "--pred"]).arg(d.join("pred")).arg("--truth").arg(d.join("truth")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: 50% of the labelled pixels are predicted 0 (no prediction) and class 5 never")
            && r.stderr.contains("look like 0-based classes"),
        "{}",
        r.stderr
    );
}

/// Every record of a CSV file, read back through the `csv` crate (which refuses a row with
/// another number of fields than the header).
fn read_csv(path: &std::path::Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let mut rows = vec![r.headers().unwrap().iter().map(String::from).collect::<Vec<_>>()];
    for rec in r.records() {
        rows.push(rec.unwrap_or_else(|e| panic!("{}: {e}", path.display())).iter().map(String::from).collect());
    }
    rows
}

#[test]
fn csv_files_round_trip_class_names_with_commas_and_quotes() {
    let d = Dir::new();
    let map = d.write(
        "map.toml",
        "name = \"quoted\"\ndont_care = [7, 15]\n[[class]]\nname = \"tumour, invasive\"\ncodes = [1, 19, 20]\n\
         [[class]]\nname = \"the \\\"rest\\\"\"\ncodes = [2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 21]\n",
    );
    write_png(&d.join("ds/masks/TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png"), 2, 2, 1, &[1, 1, 2, 0]);
    write_png(&d.join("ds/images/TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png"), 2, 2, 3, &[9; 12]);
    let r = run(bcss().args(["stats"]).arg(d.join("ds")).arg("--class-map").arg(&map).arg("--out").arg(d.join("st")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rois = read_csv(&d.join("st/rois.csv"));
    assert_eq!(rois[0][7..], ["tumour, invasive", "the \"rest\""]);
    assert_eq!(rois[1], ["TCGA-A1-A0SK-DX1", "train", "2", "2", "4", "1", "0.250000", "2", "1"]);
    let classes = read_csv(&d.join("st/classes.csv"));
    assert_eq!(classes[1][..4], ["train", "1", "tumour, invasive", "2"]);
    assert_eq!(classes[2][..4], ["train", "2", "the \"rest\"", "1"]);

    let r = run(bcss()
        .args(["tile"])
        .arg(d.join("ds"))
        .arg("--class-map")
        .arg(&map)
        .args(["--size", "2", "--out"])
        .arg(d.join("t")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let index = read_csv(&d.join("t/train/index.csv"));
    assert_eq!(index[0][7..], ["tumour, invasive", "the \"rest\""]);
    assert_eq!(index[1][7..], ["2", "1"]);
    assert_eq!(index[0].len(), index[1].len());

    // The split file is written the same way and reads back as 151 records of 4 fields.
    let r = run(bcss().args(["split", "--out"]).arg(d.join("s.csv")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let split = read_csv(&d.join("s.csv"));
    assert_eq!(split[0], ["roi", "site", "patient", "part"]);
    assert_eq!(split.len(), 152);
}

#[test]
fn a_refused_folder_listing_on_another_server_is_one_error_with_a_hint() {
    // A server whose folder needs a key, asked without one and without --folder-id: the public
    // DSA's built-in item ids mean nothing there, so the listing's 401 is the error.
    let s = crate::util::Stand::with(bcss_testserver::Config {
        slides: crate::util::slides(),
        api_key: Some(crate::util::KEY.into()),
        ..Default::default()
    });
    let r = run(bcss()
        .args(["--no-progress", "download", "--api-url", &s.server.api_url(), "--out"])
        .arg(s.out())
        .arg("--roi-bounds")
        .arg(&s.csv));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("cannot list folder `5bbdeba3e629140048d017bb`"), "{}", r.stderr);
    assert!(r.stderr.contains("HTTP 401"), "{}", r.stderr);
    assert!(
        r.stderr.contains("hint: the folder listing was refused: give --api-key (or BCSS_API_KEY) or --login"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("failed:") && !r.stderr.contains("Invalid item id"), "{}", r.stderr);
}

#[test]
fn identical_failures_are_grouped_and_rerun_is_offered_only_when_it_can_help() {
    use bcss_testserver::{Fault, Faults, Route, When};
    let s = crate::util::Stand::new();
    let n = s.server.slides().iter().map(|sl| sl.rois.len()).sum::<usize>();
    assert!(n >= 3, "the standard slides have {n} ROIs");
    // Every item refused as unknown: the same 400 for each ROI, with its own item id.
    s.server.set_faults(Faults::none().on(Route::Tiles, When::Always, Fault::Status(400)));
    let r = run(&mut s.download());
    assert_eq!(r.code, 1, "{}", r.stderr);
    let failed: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("failed: ")).collect();
    assert_eq!(failed.len(), 1, "{}", r.stderr);
    assert!(failed[0].starts_with(&format!("failed: {n} ROIs (")), "{}", failed[0]);
    assert!(failed[0].contains("tiles metadata: the server answered HTTP 400"), "{}", failed[0]);
    // Said once: not also as each ROI failed.
    assert_eq!(r.stderr.matches("the server answered HTTP 400").count(), 1, "{}", r.stderr);
    assert!(!r.stderr.contains("rerun the same command"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("hint: {n} failure(s) will not change on a rerun alone")), "{}", r.stderr);

    // A server error (503 after every retry) is worth a rerun.
    s.server.set_faults(Faults::none().on(Route::Tiles, When::Always, Fault::Status(503)));
    let r = run(s.download().args(["--retries", "0"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("hint: rerun the same command to retry the failed ROIs"), "{}", r.stderr);
    assert!(!r.stderr.contains("will not change on a rerun"), "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn scripts_bcss_runs_the_binary_cargo_built_under_cargo_target_dir() {
    use std::os::unix::fs::PermissionsExt;
    // A real release build takes minutes here (checked by hand: `CARGO_TARGET_DIR=/tmp/t
    // scripts/bcss --version` builds into /tmp/t and runs /tmp/t/release/bcss). This test puts a
    // `cargo` first on PATH that reports, as cargo's JSON messages do, the binary it built under
    // CARGO_TARGET_DIR, and checks that the script runs that one.
    let d = Dir::new();
    let target = d.join("elsewhere");
    std::fs::create_dir_all(target.join("release")).unwrap();
    let exe = |path: &std::path::Path, body: &str| {
        std::fs::write(path, body).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    exe(&target.join("release/bcss"), "#!/bin/sh\necho \"built bcss: $*\"\n");
    std::fs::create_dir_all(d.join("bin")).unwrap();
    exe(
        &d.join("bin/cargo"),
        "#!/bin/sh\necho \"$*\" > \"$CARGO_TARGET_DIR/args\"\n\
         echo '{\"reason\":\"compiler-artifact\",\"executable\":null}'\n\
         echo '{\"reason\":\"compiler-artifact\",\"executable\":\"'\"$CARGO_TARGET_DIR\"'/release/bcss\",\"fresh\":true}'\n\
         echo '{\"reason\":\"build-finished\",\"success\":true}'\n",
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bcss");
    let path = format!("{}:{}", d.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let r = run(std::process::Command::new("bash")
        .arg(&script)
        .args(["rois", "--json"])
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", &target));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "built bcss: rois --json");
    let args = std::fs::read_to_string(target.join("args")).unwrap();
    assert!(args.contains("build") && args.contains("--release") && args.contains("-p bcss-cli"), "{args}");
}

#[test]
fn an_unknown_slide_is_refused_with_the_names_the_given_table_holds() {
    let s = crate::util::Stand::new();
    let r = run(s.download().args(["--slides", "TCGA-A1-A0SK"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let csv = s.csv.display().to_string();
    assert!(
        r.stderr.contains(&format!(
            "unknown slide `TCGA-A1-A0SK`: not in `{csv}`, which holds 3 ROI(s): `TCGA-SY-0001-DX1`, `TCGA-SY-0002-DX1`, `TCGA-SY-0003-DX1`"
        )),
        "{}",
        r.stderr
    );
    assert!(!s.out().exists(), "nothing is written for a refused command");
    // The built-in table names its own.
    let r = run(bcss().args(["rois", "--slides", "TCGA-ZZ-0000"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not in the built-in ROI table, which holds 151 ROI(s): `TCGA-"), "{}", r.stderr);
    assert!(r.stderr.contains("and 146 more"), "{}", r.stderr);
}

#[test]
fn verify_of_a_partial_dataset_without_manifest_says_how_many_rois_are_absent() {
    let d = Dir::new();
    let rois = json(&run(bcss().args(["--json", "rois"])).stdout);
    let five: Vec<(String, u64, u64)> = rois.as_array().unwrap()[..5]
        .iter()
        .map(|r| (r["roi"].as_str().unwrap().to_string(), r["xmin"].as_u64().unwrap(), r["ymin"].as_u64().unwrap()))
        .collect();
    for (id, x, y) in &five {
        let name = format!("{id}_xmin{x}_ymin{y}_MPP-0.2500.png");
        write_png(&d.join(&format!("ds/masks/{name}")), 2, 2, 1, &[1, 2, 3, 0]);
        write_png(&d.join(&format!("ds/images/{name}")), 2, 2, 3, &[9; 12]);
    }
    let r = run(bcss().arg("verify").arg(d.join("ds")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stdout.contains("has no mask") && !r.stdout.contains("has no image"), "{}", r.stdout);
    assert!(r.stdout.contains("146 of 151 ROIs absent (neither image nor mask): TCGA-"), "{}", r.stdout);
    assert!(r.stdout.contains("and 141 more"), "{}", r.stdout);
    assert!(r.stderr.contains("hint: a partial dataset? use --slides"), "{}", r.stderr);
    // JSON still lists every problem, and the absent ROIs.
    let v = json(&run(bcss().args(["--json", "verify"]).arg(d.join("ds"))).stdout);
    assert_eq!(v["absent"].as_array().unwrap().len(), 146);
    assert_eq!(v["problems"].as_array().unwrap().len(), 292);
    // Checking only the ROIs it holds passes.
    let ids: Vec<&str> = five.iter().map(|(id, ..)| id.as_str()).collect();
    let r = run(bcss().arg("verify").arg(d.join("ds")).arg("--slides").arg(ids.join(",")));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("5 ROIs and 10 files checked by name (no manifest.json); 0 problems"), "{}", r.stderr);
}

#[test]
fn a_download_of_images_and_masks_makes_no_annotations_folder() {
    let s = crate::util::Stand::new();
    let r = run(s.download().args(["--pipeline", "images,masks"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(s.out().join("images").is_dir() && s.out().join("masks").is_dir());
    assert!(!s.out().join("annotations").exists(), "an empty annotations/ says the dataset has none");
    let r = run(s.download().args(["--pipeline", "annotations"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_dir(s.out().join("annotations")).unwrap().count(), 3);
}

/// The progress bar as a terminal sees it: `script` gives the binary a pseudo-terminal, so the
/// bar is drawn; its frames are in the captured output.
#[cfg(unix)]
#[test]
fn the_progress_bar_never_shows_0_of_0_and_counts_bytes_in_decimal_units() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        panic!("`script` (util-linux) is needed: scripts/setup-system.sh installs the system tools");
    }
    let s = crate::util::Stand::with(bcss_testserver::Config {
        slides: crate::util::slides(),
        api_key: Some(crate::util::KEY.into()),
        latency: std::time::Duration::from_millis(150),
        ..Default::default()
    });
    let out = s.dir.join("typescript");
    let cmd = format!(
        "{} download --api-url {} --folder-id {} --roi-bounds {} --out {} --jobs 1",
        env!("CARGO_BIN_EXE_bcss"),
        s.server.api_url(),
        s.server.folder_id(),
        s.csv.display(),
        s.out().display()
    );
    let r = run(std::process::Command::new("script")
        .args(["-qfec", &cmd])
        .arg(&out)
        .env("BCSS_API_KEY", crate::util::KEY)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let screen = String::from_utf8_lossy(&std::fs::read(&out).unwrap()).into_owned();
    assert!(screen.contains("/3 ROIs"), "the bar was drawn: {screen:?}");
    assert!(!screen.contains("0/0"), "a 0/0 frame: {screen:?}");
    assert!(!screen.contains("MiB") && !screen.contains("KiB"), "binary units: {screen:?}");
    assert!(screen.contains("preparing the ROIs..."), "the first frames say what is happening: {screen:?}");
    assert!(screen.contains(" kB (") || screen.contains(" MB ("), "bytes in decimal units: {screen:?}");
}

#[test]
fn overlay_defaults_to_main5_like_stats_tile_and_eval() {
    let d = Dir::new();
    // Angioinvasion (19) is tumour in main5 (crimson) but has its own colour in raw.
    write_png(&d.join("ds/masks/TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png"), 2, 2, 1, &[19, 19, 1, 1]);
    write_png(&d.join("ds/images/TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png"), 2, 2, 3, &[128; 12]);
    let overlay = |name: &str, extra: &[&str]| {
        let r = run(bcss().arg("overlay").arg(d.join("ds")).args(extra).arg("--out").arg(d.join(name)));
        assert_eq!(r.code, 0, "{}", r.stderr);
        crate::util::read_rgb(&d.join(&format!("{name}/TCGA-A1-A0SK-DX1_overlay.png")))
    };
    let default = overlay("default", &[]);
    let main5 = overlay("main5", &["--class-map", "main5"]);
    let raw = overlay("raw", &["--class-map", "raw"]);
    assert!(default.data == main5.data, "the default is main5");
    assert!(default.data != raw.data, "raw colours angioinvasion apart");
    // In main5 the angioinvasion pixel is drawn like the tumour pixel below it.
    let px = |img: &bcss::model::RgbImage, x: usize, y: usize| img.data[(y * img.width + x) * 3..][..3].to_vec();
    assert_eq!(px(&default, 0, 0), px(&default, 0, 1));
    assert_ne!(px(&raw, 0, 0), px(&raw, 0, 1));
    let help = run(bcss().args(["overlay", "--help"])).stdout;
    assert!(
        help.contains("[default: main5]") && help.contains("Usage: bcss overlay [OPTIONS] --out <OUT> <DATASET>"),
        "{help}"
    );
    assert!(help.contains("Global options:\n  -q, --quiet"), "{help}");
}

#[cfg(feature = "openslide")]
#[test]
fn a_slide_missing_from_slides_dir_is_not_offered_a_rerun() {
    let d = Dir::new();
    std::fs::create_dir(d.join("slides")).unwrap();
    let mut csv = String::from(",xmin,ymin,xmax,ymax,mask_link\n");
    for (id, x) in [("TCGA-SY-TEST-DX1", 0), ("TCGA-SY-TEST-DX2", 100)] {
        let mask = d.join(&format!("{id}.png"));
        write_png(&mask, 4, 4, 1, &[1; 16]);
        csv += &format!("{id},{x},0,{},4,{}\n", x + 4, mask.display());
    }
    let csv = d.write("roiBounds.csv", &csv);
    let r = run(bcss()
        .args(["--no-progress", "extract", "--slides-dir"])
        .arg(d.join("slides"))
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(d.join("o")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let failed: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("failed: ")).collect();
    assert_eq!(failed.len(), 1, "{}", r.stderr);
    assert!(
        failed[0].starts_with("failed: 2 ROIs (TCGA-SY-TEST-DX1, TCGA-SY-TEST-DX2): no slide file for `TCGA-SY-TEST"),
        "{}",
        failed[0]
    );
    assert!(!r.stderr.contains("rerun the same command"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: 2 failure(s) will not change on a rerun alone"), "{}", r.stderr);
}

#[test]
fn when_the_dsa_is_down_the_hint_names_both_other_roads() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let d = Dir::new();
    let r = run(bcss()
        .args(["download", "--retries", "0", "--api-url", &format!("http://127.0.0.1:{port}/api/v1"), "--out"])
        .arg(d.join("BCSS")));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("`bcss download --source gdc` builds the same images"), "{}", r.stderr);
    assert!(r.stderr.contains("the authors' Google Drive copy (colour-normalised, 0.25 um/px"), "{}", r.stderr);
    // The README gives the copy's address and says bcss reads its layout.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    assert!(readme.contains("https://drive.google.com/drive/folders/1zqbdkQF8i5cEmZOGmbdQm-EP8dRYtvss"));
    assert!(readme.contains("`rgbs_colorNormalized/`"));
}
