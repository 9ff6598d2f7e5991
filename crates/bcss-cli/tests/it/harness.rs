//! Helpers for the fault, resume and robustness tests: datasets compared byte for byte with a
//! fault-free reference, manifests compared where they must agree, `bcss download` run as a
//! child that the test watches (and kills) while polling the stand-in's request log.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bcss_testserver::{Config, RecordedRequest};

use crate::util::*;

/// `n` synthetic slides, one ROI each, behind [`KEY`]. At `--mpp 0.25` a ROI of a 40x slide is
/// `w` x `h` pixels (every fifth slide is 20x: twice that).
pub fn synthetic(n: usize, w: u64, h: u64) -> Config {
    Config { api_key: Some(KEY.into()), ..Config::synthetic(n, w, h) }
}

/// The arguments of every download in these tests: lossless, so bytes are comparable.
pub const PNG: [&str; 2] = ["--encoding", "png"];

/// The ROI ids of a stand.
pub fn roi_ids(stand: &Stand) -> Vec<String> {
    stand.server.slides().iter().flat_map(|s| &s.rois).map(|r| r.id.clone()).collect()
}

/// The image, mask and annotation files of a dataset (relative path -> bytes); not the manifest
/// nor the logs.
pub fn dataset_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(root)
        .into_iter()
        .filter(|f| f.starts_with("images/") || f.starts_with("masks/") || f.starts_with("annotations/"))
        .map(|f| {
            let bytes = std::fs::read(root.join(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

/// Every temporary file (`.*.part`) under `root`.
pub fn part_files(root: &Path) -> Vec<String> {
    files_under(root).into_iter().filter(|f| is_part(f)).collect()
}

fn is_part(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.starts_with('.') && name.ends_with(".part")
}

pub fn assert_no_parts(root: &Path, when: &str) {
    let parts = part_files(root);
    assert!(parts.is_empty(), "{when}: temporary files left: {parts:?}");
}

pub fn read_manifest(root: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(root.join("manifest.json")).unwrap()).unwrap()
}

/// The manifest with what must differ between two servers replaced: the server's address (in
/// `source` and the mask links inside each fingerprint).
pub fn normalised_manifest(stand: &Stand) -> serde_json::Value {
    let text = std::fs::read_to_string(stand.out().join("manifest.json")).unwrap();
    let text = text.replace(&stand.server.url(), "http://SERVER");
    serde_json::from_str(&text).unwrap()
}

/// Every file the manifest records exists with the recorded size and SHA-256.
pub fn assert_manifest_matches_disk(root: &Path) {
    let m = read_manifest(root);
    for (roi, e) in m["rois"].as_object().unwrap() {
        for (role, f) in e["files"].as_object().unwrap() {
            let path = root.join(f["path"].as_str().unwrap());
            assert!(path.is_file(), "{roi} {role}: {} is missing", path.display());
            assert_eq!(f["bytes"].as_u64(), Some(std::fs::metadata(&path).unwrap().len()), "{roi} {role}");
            assert_eq!(f["sha256"].as_str().unwrap(), sha256_hex(&path), "{roi} {role}");
        }
    }
}

/// `got` holds exactly the files of `reference`, byte for byte, its manifest equals the
/// reference's but for the server's address, and no temporary file is left.
pub fn assert_same_dataset(reference: &Stand, got: &Stand) {
    let want = dataset_files(&reference.out());
    let have = dataset_files(&got.out());
    let want_names: Vec<&String> = want.keys().collect();
    let have_names: Vec<&String> = have.keys().collect();
    assert_eq!(have_names, want_names, "the same files");
    for (name, bytes) in &want {
        assert!(&have[name] == bytes, "{name} differs from the fault-free run");
    }
    for name in want.keys().filter(|n| n.ends_with(".png")) {
        let (a, b) = (reference.out().join(name), got.out().join(name));
        if name.starts_with("images/") {
            assert_eq!(read_rgb(&a), read_rgb(&b), "{name}: pixels");
        } else {
            assert_eq!(read_gray(&a), read_gray(&b), "{name}: labels");
        }
    }
    assert_eq!(
        normalised_manifest(got),
        normalised_manifest(reference),
        "the manifests differ beyond the server address"
    );
    assert_manifest_matches_disk(&got.out());
    assert_no_parts(&got.out(), "final dataset");
}

/// `bcss verify DIR` passes.
pub fn assert_verifies(root: &Path) {
    let r = run(bcss().arg("verify").arg(root));
    assert_eq!(r.code, 0, "verify: {}{}", r.stdout, r.stderr);
}

/// Flips one byte in the middle of `rel` and checks that `bcss verify` names that file (and only
/// it), then restores it.
pub fn assert_verify_reports_flipped_byte(root: &Path, rel: &str) {
    let path = root.join(rel);
    let orig = std::fs::read(&path).unwrap();
    let mut bytes = orig.clone();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let r = run(bcss().arg("verify").arg(root));
    assert_eq!(r.code, 1, "verify must fail on a flipped byte in {rel}: {}{}", r.stdout, r.stderr);
    let name = Path::new(rel).file_name().unwrap().to_string_lossy().into_owned();
    let lines: Vec<&str> = r.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.contains(&name)),
        "verify must report exactly {rel}: {}",
        r.stdout
    );
    std::fs::write(&path, &orig).unwrap();
    assert_verifies(root);
}

/// A fault-free download of `config`, the reference every faulty run is compared with.
pub fn reference(config: Config, args: &[&str]) -> Stand {
    let s = Stand::with(config);
    let r = run(s.download().args(args));
    assert_eq!(r.code, 0, "reference run: {}", r.stderr);
    assert_no_parts(&s.out(), "reference run");
    s
}

/// The ROI a request is about: the mask file's name, or the region's item id and bounds.
pub fn roi_of(stand: &Stand, q: &RecordedRequest) -> Option<String> {
    if q.is_mask_file() {
        return q.path.strip_prefix("/files/").and_then(|f| f.strip_suffix(".png")).map(str::to_string);
    }
    if q.is_region() {
        let left: u64 = q.param("left")?.parse().ok()?;
        let top: u64 = q.param("top")?.parse().ok()?;
        for slide in stand.server.slides() {
            let id = stand.server.item_id(&slide.name)?;
            if q.path.contains(&id) {
                return slide.rois.iter().find(|r| r.xmin == left && r.ymin == top).map(|r| r.id.clone());
            }
        }
    }
    None
}

/// Region and mask-file requests per ROI, from the server's log.
pub fn downloads_per_roi(stand: &Stand) -> HashMap<String, (usize, usize)> {
    let mut out: HashMap<String, (usize, usize)> = HashMap::new();
    for q in stand.server.requests() {
        let Some(roi) = roi_of(stand, &q) else { continue };
        let e = out.entry(roi).or_default();
        if q.is_region() {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    out
}

/// ROIs the manifest vouches for whose every file is on disk as recorded and identical to the
/// reference's: finished and verified.
pub fn finished_rois(stand: &Stand, reference: &Stand) -> BTreeSet<String> {
    let root = stand.out();
    let Ok(bytes) = std::fs::read(root.join("manifest.json")) else { return BTreeSet::new() };
    let m: serde_json::Value =
        serde_json::from_slice(&bytes).expect("the manifest under its final name is complete JSON");
    let want_roles = ["image", "mask"];
    let mut done = BTreeSet::new();
    for (roi, e) in m["rois"].as_object().unwrap() {
        let files = e["files"].as_object().unwrap();
        let complete = want_roles.iter().all(|role| {
            files.get(*role).is_some_and(|f| {
                let rel = f["path"].as_str().unwrap();
                let path = root.join(rel);
                path.is_file()
                    && sha256_hex(&path) == f["sha256"].as_str().unwrap()
                    && std::fs::read(&path).unwrap() == std::fs::read(reference.out().join(rel)).unwrap()
            })
        });
        if complete {
            done.insert(roi.clone());
        }
    }
    done
}

/// Checks, at one moment, that every file under a final name in the dataset is complete: it
/// decodes, equals the reference's file byte for byte, and matches the manifest if the manifest
/// (itself complete JSON) records it. Files already checked (same size and mtime) are skipped.
pub struct Observer<'a> {
    root: PathBuf,
    reference: &'a Stand,
    seen: HashMap<String, (u64, std::time::SystemTime)>,
    /// Checks made.
    pub checks: usize,
    /// Temporary files seen at some moment.
    pub parts_seen: BTreeSet<String>,
}

impl<'a> Observer<'a> {
    pub fn new(root: PathBuf, reference: &'a Stand) -> Observer<'a> {
        Observer { root, reference, seen: HashMap::new(), checks: 0, parts_seen: BTreeSet::new() }
    }

    /// Looks at the dataset now; panics on a partial or wrong file under a final name.
    pub fn look(&mut self) {
        let manifest: Option<serde_json::Value> = match std::fs::read(self.root.join("manifest.json")) {
            Ok(b) => Some(
                serde_json::from_slice(&b)
                    .unwrap_or_else(|e| panic!("manifest.json under its final name is not complete JSON: {e}")),
            ),
            Err(_) => None,
        };
        let recorded: HashMap<String, String> = manifest
            .iter()
            .flat_map(|m| m["rois"].as_object().into_iter().flatten())
            .flat_map(|(_, e)| e["files"].as_object().into_iter().flatten())
            .map(|(_, f)| (f["path"].as_str().unwrap().to_string(), f["sha256"].as_str().unwrap().to_string()))
            .collect();
        for rel in files_under(&self.root) {
            if is_part(&rel) {
                self.parts_seen.insert(rel);
                continue;
            }
            if !(rel.starts_with("images/") || rel.starts_with("masks/") || rel.starts_with("annotations/")) {
                continue;
            }
            let path = self.root.join(&rel);
            // The file may be replaced (renamed over) or removed while we look: read it once.
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            let stamp = (meta.len(), meta.modified().unwrap());
            if self.seen.get(&rel) == Some(&stamp) && !recorded.contains_key(&rel) {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let want = std::fs::read(self.reference.out().join(&rel))
                .unwrap_or_else(|_| panic!("{rel} is not in the reference dataset"));
            assert!(
                bytes == want,
                "{rel} was observed under its final name with other bytes than the fault-free file ({} vs {} bytes)",
                bytes.len(),
                want.len()
            );
            if rel.starts_with("images/") {
                bcss::codec::png::decode_rgb(&bytes).unwrap_or_else(|e| panic!("{rel} does not decode: {e}"));
            } else if rel.starts_with("masks/") {
                bcss::codec::png::decode_gray(&bytes).unwrap_or_else(|e| panic!("{rel} does not decode: {e}"));
            }
            if let Some(sha) = recorded.get(&rel) {
                use sha2::Digest;
                let got: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(&got, sha, "{rel} does not match the manifest");
            }
            self.checks += 1;
            self.seen.insert(rel, stamp);
        }
    }
}

/// A `bcss download` running as a child process, stderr into a file.
pub struct Running {
    pub child: Child,
    pub stderr_path: PathBuf,
    pub started: Instant,
}

impl Running {
    /// Starts `cmd` with stdout discarded.
    pub fn spawn(mut cmd: Command, stderr_path: PathBuf) -> Running {
        cmd.stdout(Stdio::null());
        Running::spawn_keep_stdout(cmd, stderr_path)
    }

    /// Starts `cmd` with the stdout it was given.
    pub fn spawn_keep_stdout(mut cmd: Command, stderr_path: PathBuf) -> Running {
        let err = std::fs::File::create(&stderr_path).unwrap();
        let child = cmd.stdin(Stdio::null()).stderr(err).spawn().expect("bcss starts");
        Running { child, stderr_path, started: Instant::now() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls until `cond` holds (then returns true) or the process exits (false), calling
    /// `each` on every round. Panics after 60 s.
    pub fn until(&mut self, mut cond: impl FnMut() -> bool, mut each: impl FnMut()) -> bool {
        loop {
            each();
            if cond() {
                return true;
            }
            if self.child.try_wait().unwrap().is_some() {
                each();
                return false;
            }
            assert!(self.started.elapsed() < Duration::from_secs(60), "bcss ran for a minute");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits for the exit, observing the dataset meanwhile. Panics after 30 s.
    pub fn wait_observing(&mut self, mut each: impl FnMut()) -> ExitStatus {
        let t = Instant::now();
        loop {
            each();
            if let Some(status) = self.child.try_wait().unwrap() {
                each();
                return status;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "bcss did not exit");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends SIGINT (what Ctrl-C sends) to a process.
pub fn sigint(pid: u32) {
    let ok = Command::new("kill").args(["-INT", &pid.to_string()]).status().expect("kill runs").success();
    assert!(ok, "kill -INT {pid}");
}

/// `bcss verify DIR` fails only because these ROIs are planned but absent (they failed).
pub fn assert_verify_reports_only_absent(root: &Path, absent: &[&str]) {
    let r = run(bcss().arg("verify").arg(root));
    assert_eq!(r.code, 1, "verify: {}{}", r.stdout, r.stderr);
    let mut lines: Vec<&str> = r.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    lines.sort();
    let mut absent = absent.to_vec();
    absent.sort();
    assert_eq!(lines.len(), absent.len(), "verify: {}", r.stdout);
    for (line, roi) in lines.iter().zip(&absent) {
        assert!(line.starts_with(&format!("{roi}: planned but absent")), "verify: {line}");
    }
}
