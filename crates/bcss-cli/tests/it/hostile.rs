//! Hostile files in a dataset (issue 22): planted symbolic links never make a command write
//! outside the folder, and special files (FIFOs) never make a reader block. Each rule is checked
//! over every command it concerns, as a table.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::analysis::write_png;
use crate::util::*;

const ROI_A: &str = "TCGA-A1-A0SK-DX1_xmin1_ymin2_MPP-0.2500.png";
const ROI_B: &str = "TCGA-OL-A5RW-DX1_xmin3_ymin4_MPP-0.2500.png";

/// Runs `cmd` and returns its output, or fails the test if it has not ended within `limit`
/// (the point of these tests is that it ends at all: the limit is far above any real run).
fn run_within(cmd: &mut Command, limit: Duration) -> Run {
    let dir = Dir::new();
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = cmd
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("bcss runs");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{cmd:?}` still running after {limit:?}: it blocked");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(status.success());
}

/// Two ROIs (images, masks, predictions) of 4 x 2 pixels under `d/ds` and `d/pred`.
fn small_dataset(d: &Dir) -> (PathBuf, PathBuf) {
    let mask = [0u8, 1, 1, 2, 2, 3, 4, 1];
    let rgb: Vec<u8> = (0..8 * 3).map(|i| (i * 9) as u8).collect();
    for name in [ROI_A, ROI_B] {
        write_png(&d.join("ds/masks").join(name), 4, 2, 1, &mask);
        write_png(&d.join("ds/images").join(name), 4, 2, 3, &rgb);
        write_png(&d.join("pred").join(name), 4, 2, 1, &mask);
    }
    (d.join("ds"), d.join("pred"))
}

/// Every command that reads a dataset, given a FIFO where it reads a file: each ends (exit 1 or
/// 2: the file is a problem of its ROI or of the input) and names the FIFO, instead of waiting
/// forever for a writer that never comes.
#[test]
fn a_fifo_in_a_dataset_blocks_no_reader() {
    type Case = (&'static str, &'static [&'static str], fn(&Path, &Path, &Path) -> Vec<std::ffi::OsString>);
    let cases: &[Case] = &[
        ("verify", &["masks", "images"], |ds, _, _| vec!["verify".into(), ds.into()]),
        ("stats", &["masks"], |ds, _, out| vec!["stats".into(), ds.into(), "--out".into(), out.into()]),
        ("tile", &["masks", "images"], |ds, _, out| {
            vec!["tile".into(), ds.into(), "--size".into(), "2".into(), "--out".into(), out.into()]
        }),
        ("overlay", &["masks", "images"], |ds, _, out| vec!["overlay".into(), ds.into(), "--out".into(), out.into()]),
        ("eval", &["pred"], |ds, pred, _| {
            vec!["eval".into(), "--pred".into(), pred.into(), "--truth".into(), ds.into()]
        }),
        ("eval truth", &["masks"], |ds, pred, _| {
            vec!["eval".into(), "--pred".into(), pred.into(), "--truth".into(), ds.into()]
        }),
        ("report", &["masks", "images"], |ds, _, out| {
            vec!["report".into(), ds.into(), "--out".into(), out.join("r.html").into()]
        }),
    ];
    for (what, planted, args) in cases {
        for place in *planted {
            let d = Dir::new();
            let (ds, pred) = small_dataset(&d);
            // The FIFO takes the place of one ROI's file, so every reader meets it.
            let fifo = if *place == "pred" { pred.join(ROI_B) } else { ds.join(place).join(ROI_B) };
            std::fs::remove_file(&fifo).unwrap();
            mkfifo(&fifo);
            let r = run_within(bcss().arg("--json").args(args(&ds, &pred, &d.join("out"))), Duration::from_secs(60));
            assert!(
                r.code == 1 || r.code == 2,
                "{what} with a FIFO in {place}/: exit {}\n{}\n{}",
                r.code,
                r.stdout,
                r.stderr
            );
            let said = format!("{}{}", r.stdout, r.stderr);
            assert!(said.contains("FIFO") && said.contains("OL-A5RW"), "{what} ({place}) names the FIFO: {said}");
            assert_clean_error(&r.stderr);
        }
    }
}

/// A FIFO given as a settings or table file is refused at once, not waited on.
#[test]
fn a_fifo_as_a_config_or_table_file_is_refused() {
    let d = Dir::new();
    let fifo = d.join("f.toml");
    mkfifo(&fifo);
    let runs = [
        bcss().args(["download", "--config"]).arg(&fifo).arg("--out").arg(d.join("o")).output().unwrap(),
        bcss().args(["rois", "--roi-bounds"]).arg(&fifo).output().unwrap(),
    ];
    for out in runs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("FIFO"), "{stderr}");
    }
    assert!(!d.join("o").exists());
}

/// A `.bcss.lock` planted as a symbolic link: every command that locks a folder refuses (exit 4)
/// and the file the link points to is neither changed nor created.
#[test]
fn a_lock_file_link_is_never_followed() {
    type Case = (&'static str, fn(&Path, &Path) -> Vec<std::ffi::OsString>);
    let cases: &[Case] = &[
        ("stats", |ds, out| vec!["stats".into(), ds.into(), "--out".into(), out.into()]),
        ("overlay", |ds, out| vec!["overlay".into(), ds.into(), "--out".into(), out.into()]),
        ("extract", |ds, out| {
            vec![
                "extract".into(),
                "--slides-dir".into(),
                ds.into(),
                "--masks-dir".into(),
                ds.join("masks").into(),
                "--out".into(),
                out.into(),
            ]
        }),
        ("masks", |ds, out| {
            let ann = ds.join("TCGA-A1-A0SK-01Z-00-DX1.json");
            std::fs::write(&ann, "[]").unwrap();
            vec!["masks".into(), "--annotations".into(), ann.into(), "--out".into(), out.into()]
        }),
        ("download", |_, out| {
            vec!["download".into(), "--api-url".into(), "http://127.0.0.1:9/api/v1".into(), "--out".into(), out.into()]
        }),
    ];
    for (what, args) in cases {
        for target_exists in [true, false] {
            let d = Dir::new();
            let (ds, _) = small_dataset(&d);
            let out = d.join("out");
            std::fs::create_dir_all(&out).unwrap();
            let outside = d.join("outside.txt");
            if target_exists {
                std::fs::write(&outside, "precious\n").unwrap();
            }
            std::os::unix::fs::symlink(&outside, out.join(".bcss.lock")).unwrap();
            let r = run_within(bcss().args(args(&ds, &out)), Duration::from_secs(60));
            assert_eq!(r.code, 4, "{what}: {}", r.stderr);
            assert!(r.stderr.contains("symbolic link") && r.stderr.contains(".bcss.lock"), "{what}: {}", r.stderr);
            if target_exists {
                assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n", "{what} changed the target");
            } else {
                assert!(!outside.exists(), "{what} created the link's target");
            }
            assert_clean_error(&r.stderr);
        }
    }
}

/// `images/` (or `logs/`) planted as a link to a folder elsewhere: download and extract refuse
/// before writing anything there.
#[test]
fn a_dataset_folder_that_is_a_link_is_refused() {
    for sub in ["images", "masks", "logs"] {
        let d = Dir::new();
        let (ds, _) = small_dataset(&d);
        let out = d.join("out");
        let elsewhere = d.join("elsewhere");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join(sub)).unwrap();
        let r = run_within(
            bcss()
                .args(["extract", "--slides-dir"])
                .arg(&ds)
                .arg("--masks-dir")
                .arg(ds.join("masks"))
                .arg("--out")
                .arg(&out),
            Duration::from_secs(60),
        );
        assert_eq!(r.code, 4, "{sub}: {}", r.stderr);
        assert!(r.stderr.contains("symbolic link") && r.stderr.contains(sub), "{sub}: {}", r.stderr);
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "{sub}: something was written through the link");
    }
}

/// `verify` while a run holds the folder's lock says so, in text and in `--json`, instead of
/// only listing the ROIs that run is writing as problems.
#[test]
fn verify_says_when_a_run_is_writing() {
    let d = Dir::new();
    let (ds, _) = small_dataset(&d);
    std::fs::remove_file(ds.join("images").join(ROI_B)).unwrap();
    let lock = bcss::dataset::DatasetLock::acquire(&ds, "download", false).unwrap();
    let r = run_within(bcss().args(["--json", "verify"]).arg(&ds), Duration::from_secs(60));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let writer = v["writer"].as_str().unwrap();
    assert!(writer.contains("`bcss download`") && writer.contains(&format!("pid {}", std::process::id())), "{writer}");
    let r = run_within(bcss().arg("verify").arg(&ds), Duration::from_secs(60));
    assert!(r.stderr.contains("was writing into this folder while it was checked"), "{}", r.stderr);
    drop(lock);
    let r = run_within(bcss().args(["--json", "verify"]).arg(&ds), Duration::from_secs(60));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()["writer"], serde_json::Value::Null);
}

/// A config file over 1 MiB is refused by its size before the TOML parser sees it (a 100 MB
/// file once cost 7.5 GB): exit 2, nothing created, within far less memory than its parse.
#[test]
fn a_huge_config_file_is_refused_before_parsing() {
    let d = Dir::new();
    let mut text = String::from("jobs = 2\n");
    while text.len() <= 30 << 20 {
        text.push_str("# padding padding padding padding padding padding padding padding padding\n");
    }
    let cfg = d.write("bcss.toml", &text);
    // Under an address-space limit far below what parsing the file cost (2.2 GB for 30 MB): the
    // refusal is by size, or the run would abort instead of exiting 2. (A limit rather than the
    // peak RSS: a forked child's RSS counts the test process's own pages until it execs.)
    let mut cmd = Command::new("prlimit");
    let inner = bcss();
    cmd.arg("--as=400000000").arg("--").arg(inner.get_program());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.env("MALLOC_ARENA_MAX", "2");
    let r = run(cmd.args(["download", "--config"]).arg(&cfg).arg("--out").arg(d.join("o")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("over the limit of 1048576 bytes"), "{}", r.stderr);
    assert!(!d.join("o").exists());
}
