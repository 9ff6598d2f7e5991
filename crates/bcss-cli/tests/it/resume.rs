//! Killing `bcss download` (SIGKILL, SIGINT) at several points, then resuming: the result is the
//! fault-free dataset, ROIs finished before the kill are not downloaded again, and no file under a
//! final name is ever partial or different from what the manifest records, at any moment watched.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use bcss_testserver::{Config, Fault, Faults, Route, When};

use crate::harness::*;
use crate::util::*;

#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// Once the server has seen this many region requests.
    Regions(usize),
    /// In the middle of a region body (the server has sent half of it and stalls).
    MidBody,
    /// As soon as the first image or mask is under its final name.
    FirstFile,
    /// As soon as a temporary file exists.
    TempFile,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Signal {
    Kill,
    Int,
}

fn args() -> Vec<&'static str> {
    vec!["--encoding", "png", "--jobs", "2"]
}

fn command(s: &Stand, json: bool) -> Command {
    let mut cmd = s.download();
    cmd.args(args());
    if json {
        cmd.arg("--json");
    }
    cmd
}

fn assert_killed_by(status: ExitStatus, signal: Signal) {
    match signal {
        Signal::Kill => assert_eq!(status.signal(), Some(9), "{status:?}"),
        // No handler: the default action ends the process; a handler would exit 130.
        Signal::Int => assert!(status.signal() == Some(2) || status.code() == Some(130), "{status:?}"),
    }
}

/// Runs a download, stops it at `at` with `signal`, checks what is on disk, resumes, checks the
/// resume. `config` must give a run long enough to be stopped at `at`.
fn kill_and_resume(config: Config, at: KillAt, signal: Signal) {
    let want = reference(Config { latency: Duration::ZERO, faults: Faults::none(), ..config.clone() }, &args());
    let s = Stand::with(config);
    let out = s.out();
    let mut obs = Observer::new(out.clone(), &want);

    // 1. Run and stop it.
    let mut child = Running::spawn(command(&s, false), s.dir.join("first.stderr"));
    let reached = {
        let s = &s;
        let cond = || match at {
            KillAt::Regions(n) => s.region_requests().len() >= n,
            KillAt::MidBody => !s.server.bodies_half_sent().is_empty(),
            KillAt::FirstFile => files_under(&out)
                .iter()
                .any(|f| (f.starts_with("images/") || f.starts_with("masks/")) && !f.contains("/.")),
            KillAt::TempFile => !part_files(&out).is_empty(),
        };
        child.until(cond, || obs.look())
    };
    assert!(reached, "{at:?}: the run ended before the kill point: {}", child.stderr());
    match signal {
        Signal::Kill => child.child.kill().unwrap(),
        Signal::Int => sigint(child.pid()),
    }
    let status = child.wait_observing(|| obs.look());
    assert_killed_by(status, signal);
    obs.look();

    let finished = finished_rois(&s, &want);
    eprintln!(
        "{at:?} {signal:?}: killed after {:?}; finished {}; parts {:?}; observer checks {}",
        child.started.elapsed(),
        finished.len(),
        part_files(&out),
        obs.checks
    );
    let all: BTreeSet<String> = roi_ids(&s).into_iter().collect();
    assert!(finished.len() < all.len(), "{at:?}: the run was stopped before the end");
    let parts_left = part_files(&out);
    if let KillAt::MidBody = at {
        // The ROI whose region was cut is not finished (one ROI per slide).
        let path = &s.server.bodies_half_sent()[0].1;
        let slide = s.server.slides().iter().find(|sl| path.contains(&s.server.item_id(&sl.name).unwrap())).unwrap();
        assert!(!finished.contains(&slide.rois[0].id), "{at:?}: {finished:?}");
    }
    // A temporary file of another dead run, to be cleared as well.
    std::fs::create_dir_all(out.join("masks")).unwrap();
    std::fs::write(out.join("masks/.TCGA-SY-0001-DX1_xmin1000_ymin2000_MPP-0.2500.png.4194304.7.part"), b"partial")
        .unwrap();

    // 2. Resume, the server healthy again, watching every file as it lands.
    s.server.set_faults(Faults::none());
    s.server.clear_requests();
    let mut cmd = command(&s, true);
    let stdout = s.dir.join("second.stdout");
    cmd.stdout(std::fs::File::create(&stdout).unwrap());
    let mut resume = Running::spawn_keep_stdout(cmd, s.dir.join("second.stderr"));
    let status = resume.wait_observing(|| obs.look());
    assert!(status.success(), "{at:?}: the resume failed: {}", resume.stderr());
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stdout).unwrap()).unwrap();
    let skipped: BTreeSet<String> =
        summary["skipped"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let done: BTreeSet<String> =
        summary["done"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(skipped, finished, "{at:?}: the resume skips exactly the ROIs finished before the kill");
    assert_eq!(done, all.difference(&finished).cloned().collect(), "{at:?}");
    assert_eq!(
        summary["stale_parts_removed"].as_u64(),
        Some(parts_left.len() as u64 + 1),
        "{at:?}: stale temporary files {parts_left:?} + 1 planted"
    );

    // No re-download of finished ROIs; one region and one mask for each of the others.
    let per_roi = downloads_per_roi(&s);
    for roi in &finished {
        assert!(
            !per_roi.contains_key(roi),
            "{at:?}: {roi} was finished before the kill but downloaded again: {:?}",
            per_roi[roi]
        );
    }
    for roi in all.difference(&finished) {
        assert_eq!(per_roi.get(roi), Some(&(1, 1)), "{at:?}: {roi}: region and mask requests");
    }
    assert!(obs.checks >= 2 * all.len(), "{at:?}: the observer checked {} files", obs.checks);
    assert_same_dataset(&want, &s);
    assert_verifies(&out);
}

/// Eight ROIs with a little latency per request: a run takes about half a second.
fn slowish() -> Config {
    Config { latency: Duration::from_millis(15), ..synthetic(8, 400, 300) }
}

#[test]
fn sigkill_after_three_region_requests_then_resume() {
    kill_and_resume(slowish(), KillAt::Regions(3), Signal::Kill);
}

#[test]
fn sigkill_after_six_region_requests_then_resume() {
    kill_and_resume(slowish(), KillAt::Regions(6), Signal::Kill);
}

#[test]
fn sigkill_in_the_middle_of_a_region_body_then_resume() {
    // The third region's body stops half way for 5 s: the client is killed while reading it.
    let faults = Faults::none().on(Route::Region, When::Requests(vec![2]), Fault::StallMidBody(Duration::from_secs(5)));
    kill_and_resume(Config { faults, ..synthetic(4, 400, 300) }, KillAt::MidBody, Signal::Kill);
}

#[test]
fn sigkill_right_after_the_first_file_lands_then_resume() {
    kill_and_resume(slowish(), KillAt::FirstFile, Signal::Kill);
}

#[test]
fn sigkill_while_a_temporary_file_exists_then_resume() {
    // Larger images: encoding and syncing a file takes long enough to be caught in the act.
    kill_and_resume(
        Config { latency: Duration::from_millis(5), ..synthetic(4, 2000, 1500) },
        KillAt::TempFile,
        Signal::Kill,
    );
}

#[test]
fn sigint_leaves_no_partial_file_and_a_rerun_completes() {
    kill_and_resume(slowish(), KillAt::Regions(3), Signal::Int);
}
