//! `bcss download` against a misbehaving server: a seeded mix of every fault the stand-in knows,
//! rerun until complete, must give the very dataset a fault-free run gives; exhausted retries
//! are named; server-supplied names never leave the output root; secrets stay out of every file
//! and log; a full disk is a clear error that spares the files already written.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use bcss_testserver::{Config, Fault, Faults, Route, SlideSpec, When};

use crate::harness::*;
use crate::util::*;

/// A short label per fault kind, to check that the mix really hit each of them.
fn kind(f: &Fault) -> String {
    match f {
        Fault::Latency(_) => "latency".into(),
        Fault::Status(s) => format!("status {s}"),
        Fault::RateLimited(_) => "status 429".into(),
        Fault::ResetMidBody => "reset".into(),
        Fault::TruncatedBody => "truncated".into(),
        Fault::CorruptBody => "corrupt".into(),
        Fault::WrongJson => "wrong json".into(),
        other => format!("{other:?}"),
    }
}

/// Scripted faults that make sure every kind fires at least once (each retryable status, Retry-After,
/// resets, truncated and corrupt bodies, wrong JSON, delays), on every route a download uses, plus
/// a seeded random layer on top.
pub(crate) fn fault_mix(seed: u64, p: f64) -> Faults {
    use Fault::*;
    use Route::*;
    let at = |n: usize| When::Requests(vec![n]);
    let mut f = Faults::none()
        .seed(seed)
        .on(Version, at(0), Status(503))
        .on(Token, at(0), Status(502))
        .on(Listing, at(0), Status(504))
        .on(Listing, at(1), Latency(Duration::from_millis(50)))
        .on(Region, at(0), Status(500))
        .on(Region, at(1), ResetMidBody)
        .on(Region, at(3), TruncatedBody)
        .on(Region, at(5), CorruptBody)
        .on(Region, at(7), RateLimited(0))
        .on(Region, at(9), Status(408))
        .on(Tiles, at(0), Status(503))
        .on(Tiles, at(2), WrongJson)
        .on(Tiles, at(4), Status(504))
        .on(MaskLink, at(1), Status(503))
        .on(MaskFile, at(0), ResetMidBody)
        .on(MaskFile, at(2), CorruptBody)
        .on(MaskFile, at(4), TruncatedBody)
        .on(MaskFile, at(6), Status(502))
        .on(Annotations, at(1), WrongJson)
        .on(Annotations, at(3), ResetMidBody)
        .on(Any, When::Probability(0.2), Latency(Duration::from_millis(10)));
    for route in [Region, Tiles, MaskLink, MaskFile, Annotations] {
        f = f.on(route, When::Probability(p), Status(503)).on(route, When::Probability(p), ResetMidBody);
    }
    for route in [Region, MaskFile] {
        f = f.on(route, When::Probability(p), TruncatedBody).on(route, When::Probability(p), CorruptBody);
    }
    f.on(Tiles, When::Probability(p / 2.0), WrongJson)
}

const MIX_KINDS: [&str; 11] = [
    "status 408",
    "status 429",
    "status 500",
    "status 502",
    "status 503",
    "status 504",
    "reset",
    "truncated",
    "corrupt",
    "wrong json",
    "latency",
];

/// Runs `cmd` until it exits 0 (at most `max` runs); every run exits 0 or 1 (some ROIs failed),
/// leaves no temporary file, and a failed ROI is named with a reason. Returns the runs' stderr.
pub(crate) fn rerun_until_complete(stand: &Stand, args: &[&str], max: usize) -> Vec<String> {
    let mut logs = Vec::new();
    for _ in 0..max {
        let r = run(stand.download().args(args));
        assert_no_parts(&stand.out(), "after a run");
        assert_clean_error(&r.stderr);
        logs.push(r.stderr.clone());
        match r.code {
            0 => return logs,
            // One ROI per line, or several failed for the same reason on one line.
            1 => assert!(
                r.stderr.contains("failed: TCGA-SY-") || r.stderr.contains(" ROIs (TCGA-SY-"),
                "exit 1 names the failed ROIs: {}",
                r.stderr
            ),
            c => panic!("exit {c}: {}", r.stderr),
        }
    }
    panic!("not complete after {max} runs: {logs:#?}");
}

fn check_fault_mix(seed: u64, jobs: &str, extra: &[&str]) {
    let config = synthetic(8, 300, 200);
    let mut args: Vec<&str> = vec!["--pipeline", "images,masks,annotations", "--jobs", jobs];
    args.extend_from_slice(extra);
    let want = reference(config.clone(), &args);

    let s = Stand::with(Config { faults: fault_mix(seed, 0.06), ..config });
    let logs = rerun_until_complete(&s, &args, 8);
    assert!(logs.len() >= 2, "the wrong tiles JSON fails a ROI in the first run, so a rerun was needed");
    assert!(
        logs[0].contains("tiles metadata") && logs[0].contains("not the JSON expected"),
        "the first run names the bad JSON: {}",
        logs[0]
    );

    let fired: BTreeSet<String> = s.server.fired_faults().iter().map(|f| kind(&f.fault)).collect();
    for k in MIX_KINDS {
        assert!(fired.contains(k), "the mix never injected `{k}`: {fired:?}");
    }
    assert_same_dataset(&want, &s);
    assert_verifies(&s.out());
    assert_no_secrets(&s.out(), &s.server, &logs.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn seeded_fault_mix_png_one_job_gives_the_fault_free_dataset() {
    check_fault_mix(7, "1", &PNG);
}

#[test]
fn seeded_fault_mix_jpeg_three_jobs_gives_the_fault_free_dataset() {
    check_fault_mix(11, "3", &[]);
}

#[test]
fn retry_after_is_honoured() {
    let s = Stand::new();
    s.server.set_faults(Faults::none().on(Route::Region, When::First(1), Fault::RateLimited(1)));
    let r = run(s.download().args(["--slides", "TCGA-SY-0002", "--encoding", "png"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let regions: Vec<_> = s.server.requests_timed().into_iter().filter(|(_, q)| q.is_region()).collect();
    assert_eq!(regions.len(), 2, "one 429, then the region");
    let gap = regions[1].0 - regions[0].0;
    assert!(gap >= Duration::from_millis(1000), "Retry-After: 1 was not honoured: retried after {gap:?}");
    assert!(gap < Duration::from_secs(5), "waited far longer than asked: {gap:?}");
}

#[test]
fn exhausted_retries_are_named_and_a_rerun_finishes_the_job() {
    let s = Stand::new();
    // The second slide's region answers 502 for ever (three tries with --retries 2).
    let item = s.server.item_id("TCGA-SY-0002").unwrap();
    // The ROIs go one by one with --jobs 1, in table order: requests 1, 2, 3 are the second ROI's.
    s.server.set_faults(Faults::none().on(Route::Region, When::Requests(vec![1, 2, 3]), Fault::Status(502)));
    let r = run(s.download().args(["--encoding", "png", "--jobs", "1", "--retries", "2"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_clean_error(&r.stderr);
    let line =
        r.stderr.lines().find(|l| l.starts_with("failed: ")).unwrap_or_else(|| panic!("no failure line: {}", r.stderr));
    assert!(line.contains("TCGA-SY-0002-DX1"), "names the ROI: {line}");
    assert!(
        line.contains("HTTP 502") && line.contains("Injected fault"),
        "names the status and the server's message: {line}"
    );
    assert!(line.contains("2 retries"), "says how hard it tried: {line}");
    assert!(line.contains(&item) && !line.contains(KEY), "names the URL, without secrets: {line}");
    assert!(r.stderr.contains("rerun"), "says what to do: {}", r.stderr);
    assert!(!s.image_path("TCGA-SY-0002-DX1", "MPP-0.2500").exists());
    assert_no_parts(&s.out(), "after the failed run");

    s.server.clear_requests();
    let r = run(s.download().args(["--encoding", "png", "--jobs", "1", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["done"], serde_json::json!(["TCGA-SY-0002-DX1"]));
    let per_roi = downloads_per_roi(&s);
    assert_eq!(per_roi.len(), 1, "only the failed ROI is fetched again: {per_roi:?}");
    let want = reference(Config { slides: slides(), api_key: Some(KEY.into()), ..Default::default() }, &PNG);
    assert_same_dataset(&want, &s);
    assert_verifies(&s.out());
}

#[test]
fn verify_reports_a_flipped_byte_in_a_downloaded_file() {
    let s = reference(synthetic(3, 200, 150), &["--encoding", "png", "--pipeline", "images,masks,annotations"]);
    assert_verifies(&s.out());
    let files: Vec<String> = dataset_files(&s.out()).into_keys().collect();
    for prefix in ["images/", "masks/", "annotations/"] {
        let f = files.iter().find(|f| f.starts_with(prefix)).unwrap();
        assert_verify_reports_flipped_byte(&s.out(), f);
    }
}

/// Every file under `root` outside `except`, with its bytes.
fn snapshot_outside(root: &Path, except: &str) -> Vec<(String, Vec<u8>)> {
    files_under(root)
        .into_iter()
        .filter(|f| !f.starts_with(except))
        .map(|f| (f.clone(), std::fs::read(root.join(&f)).unwrap()))
        .collect()
}

#[test]
fn server_item_names_never_write_outside_the_output() {
    let mut slides = slides();
    // Names that start with the slide's short name (so the ROI finds its item) but carry a path.
    slides[0].name = "TCGA-SY-0001/../../../../escaped-relative.svs".into();
    slides[1].name = "TCGA-SY-0002\0.svs".into();
    // Names that are a path outright: no ROI can be matched to them.
    let abs = std::env::temp_dir().join(format!("bcss-escaped-absolute-{}.svs", std::process::id()));
    slides.push(SlideSpec::new("../../etc/x", 4000, 3000, 0.25, 40.0).roi("TCGA-SY-0004-DX1", 100, 100, 300, 250));
    slides.push(SlideSpec::new(abs.to_str().unwrap(), 4000, 3000, 0.25, 40.0).roi(
        "TCGA-SY-0005-DX1",
        100,
        100,
        300,
        250,
    ));
    let s = Stand::with(Config { slides, api_key: Some(KEY.into()), ..Default::default() });
    let before = snapshot_outside(s.dir.path(), "BCSS/");

    let r = run(s.download().args(["--json", "--encoding", "png", "--pipeline", "images,masks,annotations"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["done"], serde_json::json!(["TCGA-SY-0003-DX1"]), "the ROI with a plain name is unaffected");
    let failed: Vec<(String, String)> = summary["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f[0].as_str().unwrap().to_string(), f[1].as_str().unwrap().to_string()))
        .collect();
    let reason = |roi: &str| {
        failed
            .iter()
            .find(|(r, _)| r == roi)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| panic!("{roi} did not fail: {failed:?}"))
    };
    let m = reason("TCGA-SY-0001-DX1");
    assert!(
        m.contains("refusing unsafe file name") && m.contains("path separator") && m.contains("escaped-relative"),
        "{m}"
    );
    let m = reason("TCGA-SY-0002-DX1");
    assert!(m.contains("refusing unsafe file name") && m.contains("control character") && m.contains("\\u{0}"), "{m}");
    assert!(!m.contains('\0'), "the NUL is shown escaped");
    for roi in ["TCGA-SY-0004-DX1", "TCGA-SY-0005-DX1"] {
        let m = reason(roi);
        assert!(m.contains(&roi[..12]) && m.contains("not in the folder listing"), "{m}");
    }
    assert_eq!(failed.len(), 4);

    assert_eq!(snapshot_outside(s.dir.path(), "BCSS/"), before, "nothing written outside --out");
    assert!(!abs.with_extension("json").exists() && !abs.exists(), "nothing written at the absolute name");
    for f in files_under(&s.out()) {
        assert!(!f.contains("escaped") && !f.contains("etc") && !f.contains('\0'), "a server name became a file: {f}");
        assert!(!f.starts_with("annotations/") || f == "annotations/TCGA-SY-0003-01Z-00-DX1.SYNTH0003.json", "{f}");
    }
    // The refused ROIs wasted no download, and the manifest vouches only for the good one.
    let per_roi = downloads_per_roi(&s);
    assert!(per_roi.keys().all(|r| r == "TCGA-SY-0003-DX1"), "refused ROIs were downloaded: {per_roi:?}");
    let manifest = read_manifest(&s.out());
    assert_eq!(manifest["rois"].as_object().unwrap().keys().collect::<Vec<_>>(), vec!["TCGA-SY-0003-DX1"]);
    assert_manifest_matches_disk(&s.out());
    assert_no_parts(&s.out(), "after the run");
    assert_verify_reports_only_absent(
        &s.out(),
        &["TCGA-SY-0001-DX1", "TCGA-SY-0002-DX1", "TCGA-SY-0004-DX1", "TCGA-SY-0005-DX1"],
    );
}

/// Every secret and how it could appear: as is, and the Basic credentials in base64.
fn assert_log_is_clean_at(level: &str) {
    let s = Stand::new();
    // Retries, a failing ROI and renewed tokens: the paths that log URLs, statuses and messages.
    s.server.set_faults(
        Faults::none()
            .on(Route::Token, When::First(1), Fault::Status(503))
            .on(Route::Region, When::Requests(vec![3]), Fault::ExpireTokens)
            .on(Route::Region, When::First(2), Fault::ResetMidBody)
            .on(Route::Tiles, When::Requests(vec![2]), Fault::WrongJson)
            .on(Route::MaskFile, When::First(1), Fault::CorruptBody),
    );
    let mut cmd = s.download();
    cmd.env("BCSS_LOG", level).args(["--pipeline", "images,masks,annotations", "--jobs", "1"]);
    let r = run(&mut cmd);
    assert_eq!(r.code, 1, "{level}: {}", r.stderr);
    let tokens = s.server.issued_tokens();
    assert!(tokens.len() >= 2, "{level}: the token was renewed at least once: {tokens:?}");
    let logs: Vec<String> = files_under(&s.out()).into_iter().filter(|f| f.starts_with("logs/")).collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = std::fs::read_to_string(s.out().join(&logs[0])).unwrap();
    assert!(
        log.contains("retrying") && log.contains("ROI failed"),
        "{level}: the log records retries and failures:\n{log}"
    );
    assert_no_secrets(&s.out(), &s.server, &[&r.stdout, &r.stderr]);

    // The same with a login: the password and its Basic form never appear either.
    let password = "pa55-w0rd-of-the-test-do-not-print";
    let s = Stand::with(Config {
        slides: slides(),
        api_key: None,
        login: Some(("ana".into(), password.into())),
        ..Default::default()
    });
    s.server.set_faults(Faults::none().on(Route::Token, When::First(1), Fault::Status(502)));
    let mut cmd = s.download();
    cmd.env_remove("BCSS_API_KEY").env("BCSS_PASSWORD", password).env("BCSS_LOG", level).args([
        "--login",
        "ana",
        "--slides",
        "TCGA-SY-0001",
    ]);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{level}: {}", r.stderr);
    let basic = s.requests_where(|q| q.path.ends_with("/user/authentication"))[0]
        .header("Authorization")
        .unwrap()
        .trim_start_matches("Basic ")
        .to_string();
    for f in files_under(&s.out()) {
        let text = String::from_utf8_lossy(&std::fs::read(s.out().join(&f)).unwrap()).into_owned();
        assert!(!text.contains(password) && !text.contains(&basic), "{level}: the password leaked into {f}");
    }
    assert!(!r.stderr.contains(password) && !r.stderr.contains(&basic));
    assert_no_secrets(&s.out(), &s.server, &[&r.stdout, &r.stderr]);
}

#[test]
fn secrets_stay_out_of_files_and_logs_at_debug() {
    assert_log_is_clean_at("debug");
}

#[test]
fn secrets_stay_out_of_files_and_logs_at_trace() {
    assert_log_is_clean_at("trace");
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_is_named_and_spares_earlier_files() {
    let config = synthetic(8, 700, 500);
    let want = reference(config.clone(), &["--encoding", "png", "--jobs", "1"]);
    let total: u64 = dataset_files(&want.out()).values().map(|b| b.len() as u64).sum();
    // Room for about a third of the dataset (tmpfs counts whole 4 KiB pages), and a page for the
    // lock file.
    let size = (total / 3).div_ceil(4096) * 4096 + 4096;
    let fs = match Tmpfs::mount(&size.to_string()) {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("SKIPPED a_full_disk_is_named_and_spares_earlier_files: cannot mount a tmpfs ({why}); run the tests as root to cover a full disk");
            return;
        }
    };

    let s = Stand::with(config);
    let out = fs.dir.path().join("BCSS");
    let mut cmd = bcss();
    cmd.env("BCSS_API_KEY", KEY).args([
        "--no-progress",
        "download",
        "--api-url",
        &s.server.api_url(),
        "--folder-id",
        &s.server.folder_id(),
    ]);
    cmd.arg("--roi-bounds").arg(&s.csv).arg("--out").arg(&out).args(["--encoding", "png", "--jobs", "1", "--json"]);
    let r = run(&mut cmd);
    assert_ne!(r.code, 0, "a full disk is a failure: {}", r.stderr);
    assert_clean_error(&r.stderr);
    let summary: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr));
    let done = summary["done"].as_array().unwrap();
    let failed = summary["failed"].as_array().unwrap();
    assert!(!done.is_empty() && !failed.is_empty(), "some ROIs fit, some do not: {summary}");
    let first = failed[0][1].as_str().unwrap();
    assert!(first.contains("No space left on device"), "the reason is the full disk: {first}");
    let named =
        first.contains(&out.display().to_string()) && (first.contains(".png") || first.contains("manifest.json"));
    assert!(named, "the error names the file: {first}");

    // What was written before stays intact, valid and vouched for; no temporary file is left.
    assert_no_parts(&out, "after the full disk");
    assert_manifest_matches_disk(&out);
    let m = read_manifest(&out);
    let recorded: Vec<&String> = m["rois"].as_object().unwrap().keys().collect();
    assert_eq!(recorded.len(), done.len(), "every ROI reported done is recorded");
    for (rel, bytes) in dataset_files(&out) {
        assert!(want.out().join(&rel).is_file(), "{rel}");
        // A file under a final name is complete even if its ROI failed later.
        assert!(bytes == std::fs::read(want.out().join(&rel)).unwrap(), "{rel} is damaged");
    }
    let failed_ids: Vec<&str> = failed.iter().map(|f| f[0].as_str().unwrap()).collect();
    assert_verify_reports_only_absent(&out, &failed_ids);
}
