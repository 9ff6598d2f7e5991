//! `bcss-testserver`: run the stand-in DSA for manual poking and benchmarks.
//!
//! ```text
//! bcss-testserver [--port N] [--slides N] [--roi WxH] [--latency-ms MS] [--bandwidth BYTES_PER_S]
//!                 [--api-key KEY] [--faults NAME|RULES] [--roi-csv PATH] [--public]
//! ```
//! Prints `BCSS_API_URL=...`, `BCSS_FOLDER_ID=...` and `ROI_CSV=...` lines on stdout (shell
//! `KEY=VALUE`), then serves until killed. `--faults list` prints the named scenarios.
//!
//! ```text
//! bcss-testserver gdc --dir DIR [--port N] [--token TOKEN] [--manifest PATH] [--bytes-per-sec N]
//!                     [--ignore-range] [--cut-short-after N] [--wrong-md5] [--status-5xx N] [--files-5xx N]
//! ```
//! Serves every regular file of DIR as a GDC (`bcss_testserver::gdc`): file names are the
//! `file_name`s, ids derive from them. Prints `BCSS_GDC_URL=...` (and `MANIFEST=...` with
//! `--manifest`, a GDC manifest of the files) on stdout, then serves until killed.
//!
//! ```text
//! bcss-testserver write-svs FILE WxH [--tile N] [--levels 1,4,16,32] [--tissue L,T,R,B]...
//! ```
//! Writes an Aperio-style SVS (`bcss_testserver::svs`, JPEG tiles, 0.25 um/px, 40x): the test
//! pattern everywhere, or, with `--tissue`, white but for those base rectangles (blank tiles
//! shared, so a 100 000 x 80 000 slide stays small). Prints the file size.

use std::time::Duration;

use bcss_testserver::svs::{Content, SvsSpec};

use bcss_testserver::gdc::{GdcConfig, GdcFaults, GdcFile, GdcServer};
use bcss_testserver::{faults, Config, Faults, TestServer};

fn main() {
    if let Err(e) = run() {
        eprintln!("bcss-testserver: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut port = 0u16;
    let mut n = 3usize;
    let (mut roi_w, mut roi_h) = (2000u64, 1500u64);
    let mut latency = Duration::ZERO;
    let mut bandwidth = None;
    let mut api_key = "bcss-test-key".to_string();
    let mut faults = Faults::none();
    let mut csv_path = None;
    let mut public = false;
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("gdc") {
        args.next();
        return run_gdc(args);
    }
    if args.peek().map(String::as_str) == Some("write-svs") {
        args.next();
        return write_svs(args);
    }
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--port" => port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--slides" => n = value()?.parse().map_err(|e| format!("--slides: {e}"))?,
            "--roi" => {
                let v = value()?;
                let (w, h) = v.split_once('x').ok_or("--roi takes WxH")?;
                roi_w = w.parse().map_err(|e| format!("--roi: {e}"))?;
                roi_h = h.parse().map_err(|e| format!("--roi: {e}"))?;
            }
            "--latency-ms" => {
                latency = Duration::from_millis(value()?.parse().map_err(|e| format!("--latency-ms: {e}"))?)
            }
            "--bandwidth" => bandwidth = Some(value()?.parse().map_err(|e| format!("--bandwidth: {e}"))?),
            "--api-key" => api_key = value()?,
            "--faults" => {
                let v = value()?;
                if v == "list" {
                    for (name, what) in faults::SCENARIOS {
                        println!("{name:24} {what}");
                    }
                    return Ok(());
                }
                faults = Faults::parse(&v)?;
            }
            "--roi-csv" => csv_path = Some(value()?),
            "--public" => public = true,
            "--help" | "-h" => {
                println!("usage: bcss-testserver [--port N] [--slides N] [--roi WxH] [--latency-ms MS] [--bandwidth BYTES_PER_S] [--api-key KEY] [--faults NAME|RULES|list] [--roi-csv PATH] [--public]");
                println!("   or: bcss-testserver gdc --dir DIR ... (see gdc --help)");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    let mut config = Config::synthetic(n, roi_w, roi_h);
    config.api_key = Some(api_key);
    config.latency = latency;
    config.bandwidth = bandwidth;
    config.faults = faults;
    config.folder_public = public;
    let server = TestServer::start_on(config, port).map_err(|e| format!("cannot bind 127.0.0.1:{port}: {e}"))?;
    if let Some(p) = &csv_path {
        std::fs::write(p, server.roi_bounds_csv()).map_err(|e| format!("cannot write {p}: {e}"))?;
    }
    println!("BCSS_API_URL={}", server.api_url());
    println!("BCSS_FOLDER_ID={}", server.folder_id());
    println!("BCSS_EMPTY_FOLDER_ID={}", server.empty_folder_id());
    if let Some(p) = &csv_path {
        println!("ROI_CSV={p}");
    }
    use std::io::Write;
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    loop {
        std::thread::park();
    }
}

const GDC_USAGE: &str = "usage: bcss-testserver gdc --dir DIR [--port N] [--token TOKEN] [--manifest PATH] [--bytes-per-sec N] [--ignore-range] [--cut-short-after N] [--wrong-md5] [--status-5xx N] [--files-5xx N]";

/// `bcss-testserver gdc ...`: serve a directory of files as a GDC.
fn run_gdc(mut args: impl Iterator<Item = String>) -> Result<(), String> {
    let mut dir = None;
    let mut port = 0u16;
    let mut token = None;
    let mut manifest = None;
    let mut faults = GdcFaults::default();
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--dir" => dir = Some(std::path::PathBuf::from(value()?)),
            "--port" => port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--token" => token = Some(value()?),
            "--manifest" => manifest = Some(value()?),
            "--bytes-per-sec" => {
                faults.bytes_per_sec = Some(value()?.parse().map_err(|e| format!("--bytes-per-sec: {e}"))?)
            }
            "--ignore-range" => faults.ignore_range = true,
            "--cut-short-after" => {
                faults.cut_short_after = Some(value()?.parse().map_err(|e| format!("--cut-short-after: {e}"))?)
            }
            "--wrong-md5" => faults.wrong_md5 = true,
            "--status-5xx" => faults.status_5xx = value()?.parse().map_err(|e| format!("--status-5xx: {e}"))?,
            "--files-5xx" => faults.files_5xx = value()?.parse().map_err(|e| format!("--files-5xx: {e}"))?,
            "--help" | "-h" => {
                println!("{GDC_USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}` (see gdc --help)")),
        }
    }
    let dir = dir.ok_or("gdc needs --dir DIR")?;
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?.path();
        if path.is_file() {
            files.push(GdcFile::from_path(&path));
        }
    }
    eprintln!("bcss-testserver: hashing {} file(s) in {}", files.len(), dir.display());
    let server = GdcServer::start_on(GdcConfig { files, token, faults }, port)
        .map_err(|e| format!("cannot start on 127.0.0.1:{port}: {e}"))?;
    if let Some(p) = &manifest {
        std::fs::write(p, server.manifest()).map_err(|e| format!("cannot write {p}: {e}"))?;
    }
    println!("BCSS_GDC_URL={}", server.url());
    if let Some(p) = &manifest {
        println!("MANIFEST={p}");
    }
    use std::io::Write;
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    loop {
        std::thread::park();
    }
}

fn write_svs(mut args: impl Iterator<Item = String>) -> Result<(), String> {
    let path = args.next().ok_or("write-svs needs FILE")?;
    let size = args.next().ok_or("write-svs needs WxH")?;
    let (w, h) = size.split_once('x').ok_or("write-svs takes WxH")?;
    let mut spec =
        SvsSpec::new(w.parse().map_err(|e| format!("width: {e}"))?, h.parse().map_err(|e| format!("height: {e}"))?);
    let mut tissue = Vec::new();
    while let Some(a) = args.next() {
        let value = args.next().ok_or_else(|| format!("{a} needs a value"))?;
        let numbers = |v: &str| -> Result<Vec<u64>, String> {
            v.split(',').map(|x| x.trim().parse::<u64>().map_err(|e| format!("{a}: {e}"))).collect()
        };
        match a.as_str() {
            "--tile" => spec.tile = value.parse().map_err(|e| format!("--tile: {e}"))?,
            "--levels" => spec.levels = numbers(&value)?.into_iter().map(|d| d as u32).collect(),
            "--tissue" => match numbers(&value)?.as_slice() {
                &[l, t, r, b] => tissue.push((l, t, r, b)),
                _ => return Err("--tissue takes L,T,R,B".into()),
            },
            other => return Err(format!("unknown option {other}")),
        }
    }
    if !tissue.is_empty() {
        spec.content = Content::MostlyBlank { textured: tissue };
    }
    let info =
        bcss_testserver::svs::write_svs(std::path::Path::new(&path), &spec).map_err(|e| format!("{path}: {e}"))?;
    println!("{} {}", path, info.file_size);
    Ok(())
}
