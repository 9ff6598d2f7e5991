//! One writer per output folder: a second run on a busy `--out` is refused (exit 4, naming the
//! first) or waits (`--wait-lock`); a killed run leaves no lock behind. And one resolution per
//! root, checked against the files on disk as well as the manifest.

use std::path::Path;
use std::time::Duration;

use bcss_testserver::{Config, Fault, Faults, Route, When};

use crate::harness::*;
use crate::util::*;

/// The owner recorded in `<root>/.bcss.lock`, when there is one.
fn lock_owner(root: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(root.join(".bcss.lock")).ok()?;
    serde_json::from_str(&text).ok()
}

/// `bcss download` from the stand with extra arguments.
fn download(s: &Stand, args: &[&str]) -> std::process::Command {
    let mut cmd = s.download();
    cmd.args(args);
    cmd
}

fn lock_held_by(root: &Path, pid: u32) -> bool {
    lock_owner(root).is_some_and(|o| o["pid"] == pid)
}

/// Four ROIs, every answer 150 ms late: a run takes a couple of seconds.
fn slow() -> Config {
    Config { latency: Duration::from_millis(150), ..synthetic(4, 400, 300) }
}

#[test]
fn a_second_run_on_a_busy_out_is_refused_naming_the_first() {
    let s = Stand::with(slow());
    let out = s.out();
    let mut first = Running::spawn(download(&s, &["--jobs", "2"]), s.dir.join("first.stderr"));
    let pid = first.pid();
    // The first run has the lock and is fetching (its files are in flight from here on).
    assert!(first.until(|| lock_held_by(&out, pid) && !s.region_requests().is_empty(), || {}), "{}", first.stderr());

    let second = run(s.download().args(["--jobs", "2"]));
    assert!(
        first.child.try_wait().unwrap().is_none(),
        "the first run must still be running for this test to mean anything"
    );
    assert_eq!(second.code, 4, "{}", second.stderr);
    assert!(second.stderr.contains("is in use by another run"), "{}", second.stderr);
    assert!(second.stderr.contains(&format!("pid {pid} on host")), "names the first run: {}", second.stderr);
    assert!(second.stderr.contains("`bcss download`") && second.stderr.contains(".bcss.lock"), "{}", second.stderr);
    assert!(second.stderr.contains("--wait-lock"), "hint: {}", second.stderr);
    assert_clean_error(&second.stderr);

    let status = first.wait_observing(|| {});
    assert!(status.success(), "the first run is undisturbed: {}", first.stderr());
    let manifest = read_manifest(&out);
    let recorded: Vec<String> = manifest["rois"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(recorded, roi_ids(&s), "every ROI done");
    assert_manifest_matches_disk(&out);
    assert_no_parts(&out, "after both runs");
    assert_verifies(&out);
}

#[test]
fn with_wait_lock_two_runs_over_disjoint_slides_both_land_in_the_manifest() {
    let s = Stand::with(slow());
    let out = s.out();
    let ids = roi_ids(&s);
    let (a, b) = (&ids[..2], &ids[2..]);
    let mut first = Running::spawn(
        download(&s, &["--jobs", "2", "--wait-lock", "--slides", &a.join(",")]),
        s.dir.join("first.stderr"),
    );
    let pid = first.pid();
    assert!(first.until(|| lock_held_by(&out, pid), || {}), "{}", first.stderr());
    let mut second = Running::spawn(
        download(&s, &["--jobs", "2", "--wait-lock", "--slides", &b.join(",")]),
        s.dir.join("second.stderr"),
    );
    let first_status = first.wait_observing(|| {});
    let second_status = second.wait_observing(|| {});
    assert!(first_status.success(), "{}", first.stderr());
    assert!(second_status.success(), "{}", second.stderr());
    assert!(second.stderr().contains("waiting for the other run"), "the second waited: {}", second.stderr());

    let manifest = read_manifest(&out);
    let recorded: Vec<String> = manifest["rois"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(recorded, ids, "both runs' ROIs are recorded");
    let planned: Vec<String> =
        manifest["planned"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(planned, ids);
    assert_manifest_matches_disk(&out);
    assert_no_parts(&out, "after both runs");
    assert_verifies(&out);
}

#[test]
fn analysis_commands_are_refused_on_a_busy_out() {
    // The lock is the operating system's: this test process holds it, as another bcss would.
    let s = Stand::with(synthetic(2, 200, 150));
    let r = run(s.download().arg("--no-icc"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let busy = s.dir.join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    let file =
        std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(busy.join(".bcss.lock")).unwrap();
    file.try_lock().unwrap();
    std::fs::write(
        busy.join(".bcss.lock"),
        r#"{"pid": 4242, "host": "elsewhere", "command": "bcss tile", "started": "2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    for args in [vec!["tile", "--size", "64"], vec!["stats"], vec!["overlay"]] {
        let mut cmd = bcss();
        cmd.arg("--no-progress").args(&args).arg(s.out()).arg("--out").arg(&busy);
        let r = run(&mut cmd);
        assert_eq!(r.code, 4, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("pid 4242 on host `elsewhere`"), "{args:?}: {}", r.stderr);
    }
    let files: Vec<String> =
        std::fs::read_dir(&busy).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(files, [".bcss.lock"], "nothing written into the busy folder");
    drop(file);
    let mut cmd = bcss();
    cmd.args(["--no-progress", "tile", "--size", "64"]).arg(s.out()).arg("--out").arg(&busy);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "once released, and the lock file does not make the folder non-empty: {}", r.stderr);
}

#[test]
fn a_killed_run_leaves_no_lock_that_blocks_the_next() {
    let s = Stand::with(slow());
    let out = s.out();
    let mut first = Running::spawn(download(&s, &["--jobs", "2"]), s.dir.join("first.stderr"));
    let pid = first.pid();
    assert!(first.until(|| lock_held_by(&out, pid) && !s.region_requests().is_empty(), || {}), "{}", first.stderr());
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert!(lock_held_by(&out, pid), "the killed run's record is still there, as information only");

    s.server.set_latency(Duration::ZERO);
    let r = run(s.download().args(["--jobs", "2"]));
    assert_eq!(r.code, 0, "not blocked by the dead run: {}", r.stderr);
    assert_no_parts(&out, "after the resume");
    assert_verifies(&out);
}

#[test]
fn a_rerun_at_another_resolution_is_refused_by_the_files_on_disk() {
    let s = Stand::with(synthetic(1, 400, 300));
    let roi = roi_ids(&s).remove(0);
    // The mask fails: the image is written, the ROI is not recorded (nor is any manifest).
    s.server.set_faults(Faults::none().on(Route::MaskFile, When::Always, Fault::Status(404)));
    let r = run(s.download().args(["--retries", "0"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let image = s.image_path(&roi, "MPP-0.2500");
    assert!(image.exists() && !s.out().join("manifest.json").exists());
    s.server.set_faults(Faults::none());

    let requests = s.server.requests().len();
    let r = run(s.download().args(["--mag", "20"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let on_disk = format!("images/{}", image.file_name().unwrap().to_string_lossy());
    assert!(r.stderr.contains(&format!("already holds {roi} as `{on_disk}`")), "names the file on disk: {}", r.stderr);
    assert!(r.stderr.contains("MAG-20.00.png"), "{}", r.stderr);
    assert!(!s.image_path(&roi, "MAG-20.00").exists());
    let regions = s.server.requests()[requests..].iter().filter(|q| q.is_region() || q.is_mask_file()).count();
    assert_eq!(regions, 0, "refused before anything is fetched");

    // The same resolution completes the ROI; a second resolution beside it is a verify problem.
    let r = run(&mut s.download());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_verifies(&s.out());
    std::fs::copy(&image, s.image_path(&roi, "MAG-20.00")).unwrap();
    let v = run(bcss().arg("verify").arg(s.out()));
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains(&format!("{roi}: has 2 images of different resolutions in images/")), "{}", v.stdout);
}
