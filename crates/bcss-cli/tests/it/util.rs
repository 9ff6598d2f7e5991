//! Test helpers: a temporary directory and a command builder for the `bcss` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `bcss` binary under test.
pub fn bcss() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bcss"));
    cmd.env_remove("BCSS_API_KEY")
        .env_remove("BCSS_API_URL")
        .env_remove("BCSS_FOLDER_ID")
        .env_remove("BCSS_OUT")
        .env_remove("BCSS_PASSWORD");
    cmd.env("BCSS_RETRY_BASE_MS", "5").env("NO_COLOR", "1");
    cmd
}

/// Runs a command and returns its output, with stdout and stderr as text.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output { status, stdout, stderr } = cmd.output().expect("bcss runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A temporary directory kept for the test's lifetime.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir { tmp: tempfile::tempdir().expect("temp dir") }
    }
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, content).expect("write test file");
        p
    }
}

/// Every file under `root` (relative paths, sorted), but the lock file `.bcss.lock` of a folder
/// a command wrote into.
pub fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else if e.file_name() != ".bcss.lock" {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    walk(root, root, &mut out);
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// The stand-in DSA and checks of what `bcss download` wrote.

use bcss::model::{GrayImage, RgbImage};
use bcss_testserver::image as pixels;
use bcss_testserver::{Config, RecordedRequest, RoiSpec, SlideSpec, TestServer};

/// The API key the stand-in accepts. Distinctive, so a leak is easy to find.
pub const KEY: &str = "k3y-0f-the-test-5erver-do-not-print";

/// Three synthetic slides: two 40x at 0.25 um/px, one 20x at 0.5 um/px, one ROI each.
pub fn slides() -> Vec<SlideSpec> {
    vec![
        SlideSpec::new("TCGA-SY-0001-01Z-00-DX1.SYNTH0001.svs", 8000, 6000, 0.25, 40.0).roi(
            "TCGA-SY-0001-DX1",
            1234,
            2345,
            1834,
            2745,
        ),
        SlideSpec::new("TCGA-SY-0002-01Z-00-DX1.SYNTH0002.svs", 6000, 5000, 0.25, 40.0).roi(
            "TCGA-SY-0002-DX1",
            301,
            499,
            811,
            806,
        ),
        SlideSpec::new("TCGA-SY-0003-01Z-00-DX1.SYNTH0003.svs", 4000, 3000, 0.5, 20.0).roi(
            "TCGA-SY-0003-DX1",
            777,
            555,
            1077,
            755,
        ),
    ]
}

/// A stand-in server, a temporary directory and a `roiBounds.csv` pointing at the server's masks.
pub struct Stand {
    pub server: TestServer,
    pub dir: Dir,
    pub csv: PathBuf,
}

impl Stand {
    /// The standard slides, private, behind [`KEY`].
    pub fn new() -> Stand {
        Stand::with(Config { slides: slides(), api_key: Some(KEY.into()), ..Default::default() })
    }

    pub fn with(config: Config) -> Stand {
        let server = TestServer::start(config);
        let dir = Dir::new();
        let csv = dir.write("roiBounds.csv", &server.roi_bounds_csv());
        Stand { server, dir, csv }
    }

    /// The dataset root.
    pub fn out(&self) -> PathBuf {
        self.dir.join("BCSS")
    }

    /// `bcss download` against this server into [`Stand::out`], key from the environment.
    pub fn download(&self) -> Command {
        self.download_from(&self.server.api_url(), &self.server.folder_id())
    }

    /// Like [`Stand::download`] with another API URL and folder.
    pub fn download_from(&self, api_url: &str, folder: &str) -> Command {
        self.download_with(api_url, folder, &self.csv)
    }

    /// Like [`Stand::download_from`] with another ROI table.
    pub fn download_with(&self, api_url: &str, folder: &str, csv: &Path) -> Command {
        let mut cmd = bcss();
        cmd.env("BCSS_API_KEY", KEY).args(["--no-progress", "download", "--api-url", api_url, "--folder-id", folder]);
        cmd.arg("--roi-bounds").arg(csv).arg("--out").arg(self.out());
        cmd
    }

    pub fn roi(&self, id: &str) -> RoiSpec {
        self.server.slides().iter().flat_map(|s| &s.rois).find(|r| r.id == id).expect("known ROI").clone()
    }

    pub fn requests_where(&self, f: impl Fn(&RecordedRequest) -> bool) -> Vec<RecordedRequest> {
        self.server.requests().into_iter().filter(|r| f(r)).collect()
    }

    pub fn region_requests(&self) -> Vec<RecordedRequest> {
        self.requests_where(RecordedRequest::is_region)
    }

    pub fn mask_requests(&self) -> Vec<RecordedRequest> {
        self.requests_where(RecordedRequest::is_mask_file)
    }

    /// The image file of a ROI, named as the original downloader names it.
    pub fn image_path(&self, roi: &str, suffix: &str) -> PathBuf {
        let r = self.roi(roi);
        self.out().join("images").join(format!("{roi}_xmin{}_ymin{}_{suffix}.png", r.xmin, r.ymin))
    }

    pub fn mask_path(&self, roi: &str, suffix: &str) -> PathBuf {
        let r = self.roi(roi);
        self.out().join("masks").join(format!("{roi}_xmin{}_ymin{}_{suffix}.png", r.xmin, r.ymin))
    }
}

/// The size the server's own geometry gives for a ROI at a resolution.
pub fn expected_size(stand: &Stand, roi: &str, q: pixels::RegionQuery) -> (u64, u64) {
    let r = stand.roi(roi);
    let native = stand.server.native(&roi[..12]).expect("slide");
    let a = pixels::answer(
        &native,
        &pixels::RegionQuery {
            left: Some(r.xmin as f64),
            top: Some(r.ymin as f64),
            right: Some(r.xmax as f64),
            bottom: Some(r.ymax as f64),
            ..q
        },
    );
    (a.out_w, a.out_h)
}

pub fn mm(v: f64) -> pixels::RegionQuery {
    pixels::RegionQuery { mm_x: Some(v), mm_y: Some(v), ..Default::default() }
}

pub fn mag(v: f64) -> pixels::RegionQuery {
    pixels::RegionQuery { magnification: Some(v), ..Default::default() }
}

pub fn read_rgb(path: &Path) -> RgbImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bcss::codec::png::decode_rgb(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn read_gray(path: &Path) -> GrayImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bcss::codec::png::decode_gray(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the image of a ROI must hold at `w` x `h`: the server's pixel function, sampled.
pub fn expected_rgb(roi: &RoiSpec, w: u64, h: u64) -> Vec<u8> {
    pixels::render(roi.rect(), w, h, false)
}

/// The mask the server serves for a ROI (base size).
pub fn served_mask(roi: &RoiSpec) -> GrayImage {
    pixels::render_mask(roi.rect())
}

/// Mean and maximum absolute difference of two equally sized byte images.
pub fn diff(a: &[u8], b: &[u8]) -> (f64, u8) {
    assert_eq!(a.len(), b.len(), "sizes differ");
    let mut sum = 0u64;
    let mut max = 0u8;
    for (x, y) in a.iter().zip(b) {
        let d = x.abs_diff(*y);
        sum += u64::from(d);
        max = max.max(d);
    }
    (sum as f64 / a.len().max(1) as f64, max)
}

pub fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path).unwrap();
    sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Fails if any file under `root`, or any of `texts`, contains the API key or an issued token.
pub fn assert_no_secrets(root: &Path, server: &TestServer, texts: &[&str]) {
    let mut secrets = server.issued_tokens();
    secrets.push(KEY.to_string());
    for f in files_under(root) {
        let bytes = std::fs::read(root.join(&f)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a secret leaked into {f}");
        }
    }
    for t in texts {
        for s in &secrets {
            assert!(!t.contains(s.as_str()), "a secret leaked into the output: {t}");
        }
    }
}

/// The error output of a failed run must be short sentences, not a panic or a backtrace.
pub fn assert_clean_error(stderr: &str) {
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace", "Caused by", "thread 'main'"] {
        assert!(!stderr.contains(bad), "stderr has `{bad}`: {stderr}");
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile PNGs, and the peak memory of a child.

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A 4x4 grey PNG (about 70 bytes) whose `IHDR` is rewritten, CRC included, to claim
/// `width x height` pixels: decoded naively, 60000 x 2147483647 asks for 129 TB.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut enc = png::Encoder::new(&mut bytes, 4, 4);
    enc.set_color(png::ColorType::Grayscale);
    enc.write_header().unwrap().write_image_data(&[0; 16]).unwrap();
    // Signature (8), length (4), `IHDR` (4), width (4), height (4), 5 more bytes, CRC (4).
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// Writes a real grey PNG of `width x height` zeros, row by row (20000 x 50000 is about 3 MB).
pub fn write_zero_png(path: &Path, width: u32, height: u32) {
    use std::io::Write;
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(file, width, height);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row = vec![0u8; width as usize];
    for _ in 0..height {
        stream.write_all(&row).unwrap();
    }
    stream.finish().unwrap();
}

/// Runs a command and returns its output with the child's peak resident set in MB (`wait4`'s
/// `ru_maxrss`: that child's own peak, whatever other tests run meanwhile).
#[expect(clippy::zombie_processes, reason = "reaped by `wait4` below, which also reports its peak memory")]
pub fn run_peak_mb(cmd: &mut Command) -> (Run, u64) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("bcss runs");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        out.read_to_end(&mut s).unwrap();
        s
    });
    let mut stderr = Vec::new();
    err.read_to_end(&mut stderr).unwrap();
    let stdout = reader.join().unwrap();
    // SAFETY: `rusage` is plain integers, for which all zeros is a valid value.
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: the pid is our child, not yet waited for (std waits only when asked); the
    // pointers are valid for the call.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4");
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
    let run = Run {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    (run, usage.ru_maxrss as u64 / 1024)
}
