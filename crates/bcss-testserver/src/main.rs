//! `bcss-testserver`: run the stand-in DSA for manual poking and benchmarks.
//!
//! ```text
//! bcss-testserver [--port N] [--slides N] [--roi WxH] [--latency-ms MS] [--bandwidth BYTES_PER_S]
//!                 [--api-key KEY] [--faults NAME|RULES] [--roi-csv PATH] [--public]
//!                 [--picture pattern|tissue]
//! ```
//! Prints `BCSS_API_URL=...`, `BCSS_FOLDER_ID=...` and `ROI_CSV=...` lines on stdout (shell
//! `KEY=VALUE`), then serves until killed. `--faults list` prints the named scenarios.
//! `--picture tissue` paints regions with an H&E-like picture instead of the test pattern
//! (`bcss_testserver::tissue`), so that download benchmarks compress what real slides hold; the
//! geometry, encodings and masks are the same.
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
//! bcss-testserver write-svs FILE WxH [--tile N] [--levels 1,4,16,32] [--tissue L,T,R,B]... [--mpp UM]
//! ```
//! Writes an Aperio-style SVS (`bcss_testserver::svs`, JPEG tiles, 0.25 um/px unless `--mpp`, 40x): the test
//! pattern everywhere, or, with `--tissue`, white but for those base rectangles (blank tiles
//! shared, so a 100 000 x 80 000 slide stays small). Prints the file size.

#![forbid(unsafe_code)]

//! Arguments go through clap: `--help` on each subcommand, and a typo is an error naming the
//! flag. (The server itself stays std-only; clap is for this binary's command line.)

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use bcss_model::Rect;
use bcss_testserver::svs::{Content, SvsSpec};

use bcss_testserver::gdc::{GdcConfig, GdcFaults, GdcFile, GdcServer};
use bcss_testserver::{faults, Config, Faults, Picture, TestServer};

/// A stand-in Digital Slide Archive (Girder + large_image) on 127.0.0.1, with switchable faults;
/// also a stand-in GDC (`gdc`) and a writer of test slides (`write-svs`).
///
/// Without a subcommand, serves synthetic slides as a DSA and prints `BCSS_API_URL=...`,
/// `BCSS_FOLDER_ID=...` (and `ROI_CSV=...`) on stdout, then serves until killed.
#[derive(Debug, Parser)]
#[command(name = "bcss-testserver", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    dsa: DsaArgs,
    #[command(subcommand)]
    command: Option<Sub>,
}

/// Options of the DSA stand-in.
#[derive(Debug, Args)]
struct DsaArgs {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,
    /// Number of synthetic slides (one ROI each).
    #[arg(long, value_name = "N", default_value_t = 3)]
    slides: usize,
    /// ROI size in base pixels (sizes vary by up to 10%).
    #[arg(long, value_name = "WxH", default_value = "2000x1500", value_parser = size)]
    roi: (u64, u64),
    /// Delay before every answer, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Bytes per second per response body. [default: unlimited]
    #[arg(long, value_name = "BYTES_PER_S")]
    bandwidth: Option<u64>,
    /// The API key the server accepts.
    #[arg(long, value_name = "KEY", default_value = "bcss-test-key")]
    api_key: String,
    /// A named fault scenario or fault rules; `list` prints the named scenarios.
    #[arg(long, value_name = "NAME|RULES|list")]
    faults: Option<String>,
    /// Write the ROI table (roiBounds.csv format) of the served slides here.
    #[arg(long, value_name = "PATH")]
    roi_csv: Option<String>,
    /// The folder and its items can be read without a token.
    #[arg(long)]
    public: bool,
    /// What region pictures show. For download benchmarks use `tissue`: compressors shrink
    /// the test pattern's repeating gradients far more than real slides (a 2000 x 1500 PNG:
    /// 12 KB against 5.2 MB with Pillow). Geometry, encodings and masks are the same either way.
    #[arg(long, value_enum, value_name = "PICTURE", default_value_t = PictureArg::Pattern)]
    picture: PictureArg,
}

/// `--picture` (the library's [`Picture`], which stays free of clap).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum PictureArg {
    /// The test pattern the geometry tests read positions back from: R = x mod 256, G = y mod
    /// 256, B = block.
    Pattern,
    /// H&E-like tissue (pink stroma, purple nuclei, white glass, sensor noise), deterministic
    /// and never repeating: compresses like a real slide.
    Tissue,
}

impl From<PictureArg> for Picture {
    fn from(p: PictureArg) -> Picture {
        match p {
            PictureArg::Pattern => Picture::Pattern,
            PictureArg::Tissue => Picture::Tissue,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Serve every regular file of a directory as a GDC: file names are the `file_name`s, ids
    /// derive from them. Prints `BCSS_GDC_URL=...` (and `MANIFEST=...`), then serves until killed.
    Gdc(GdcArgs),
    /// Write an Aperio-style SVS (JPEG tiles, 0.25 um/px, 40x): the test pattern everywhere, or,
    /// with --tissue, white but for those base rectangles. Prints the file size.
    WriteSvs(SvsArgs),
}

/// Options of `gdc`.
#[derive(Debug, Args)]
struct GdcArgs {
    /// The directory of files to serve.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,
    /// A token the server requires (X-Auth-Token).
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Write a GDC manifest of the files here.
    #[arg(long, value_name = "PATH")]
    manifest: Option<String>,
    /// Bytes per second per response body.
    #[arg(long, value_name = "N")]
    bytes_per_sec: Option<u64>,
    /// Answer ranged requests with the whole file (200).
    #[arg(long)]
    ignore_range: bool,
    /// Cut every body short after N bytes.
    #[arg(long, value_name = "N")]
    cut_short_after: Option<u64>,
    /// Report wrong MD5 sums.
    #[arg(long)]
    wrong_md5: bool,
    /// Answer the first N API requests with a 5xx.
    #[arg(long, value_name = "N", default_value_t = 0)]
    status_5xx: u32,
    /// Answer the first N file requests with a 5xx.
    #[arg(long, value_name = "N", default_value_t = 0)]
    files_5xx: u32,
}

/// Options of `write-svs`.
#[derive(Debug, Args)]
struct SvsArgs {
    /// The slide file to write.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Base size in pixels.
    #[arg(value_name = "WxH", value_parser = size)]
    size: (u64, u64),
    /// Tile side in pixels.
    #[arg(long, value_name = "N")]
    tile: Option<u32>,
    /// Downsamples of the pyramid levels.
    #[arg(long, value_name = "1,4,16,32", value_delimiter = ',')]
    levels: Option<Vec<u32>>,
    /// A base rectangle of tissue, L,T,R,B (repeatable); the rest is white.
    #[arg(long, value_name = "L,T,R,B", value_parser = rect)]
    tissue: Vec<Rect>,
    /// Microns per base pixel (many BCSS slides are 0.252). [default: 0.25]
    #[arg(long, value_name = "UM")]
    mpp: Option<f64>,
}

/// `WxH`.
fn size(v: &str) -> Result<(u64, u64), String> {
    let (w, h) = v.split_once('x').ok_or_else(|| format!("`{v}` is not WxH"))?;
    Ok((w.parse().map_err(|e| format!("width: {e}"))?, h.parse().map_err(|e| format!("height: {e}"))?))
}

/// `L,T,R,B`.
fn rect(v: &str) -> Result<Rect, String> {
    let n: Vec<u64> =
        v.split(',').map(|x| x.trim().parse::<u64>().map_err(|e| e.to_string())).collect::<Result<_, _>>()?;
    match n.as_slice() {
        &[left, top, right, bottom] => Ok(Rect { left, top, right, bottom }),
        _ => Err(format!("`{v}` is not L,T,R,B")),
    }
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Sub::Gdc(a)) => run_gdc(a),
        Some(Sub::WriteSvs(a)) => write_svs(a),
        None => run(cli.dsa),
    };
    if let Err(e) = result {
        eprintln!("bcss-testserver: {e}");
        std::process::exit(2);
    }
}

fn run(a: DsaArgs) -> Result<(), String> {
    let faults = match a.faults.as_deref() {
        Some("list") => {
            for (name, what) in faults::SCENARIOS {
                println!("{name:24} {what}");
            }
            return Ok(());
        }
        Some(v) => Faults::parse(v)?,
        None => Faults::none(),
    };
    let port = a.port;
    let csv_path = a.roi_csv;
    let mut config = Config::synthetic(a.slides, a.roi.0, a.roi.1);
    config.api_key = Some(a.api_key);
    config.latency = Duration::from_millis(a.latency_ms);
    config.bandwidth = a.bandwidth;
    config.faults = faults;
    config.folder_public = a.public;
    config.picture = a.picture.into();
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

/// `bcss-testserver gdc ...`: serve a directory of files as a GDC.
fn run_gdc(a: GdcArgs) -> Result<(), String> {
    let faults = GdcFaults {
        bytes_per_sec: a.bytes_per_sec,
        ignore_range: a.ignore_range,
        cut_short_after: a.cut_short_after,
        wrong_md5: a.wrong_md5,
        status_5xx: a.status_5xx,
        files_5xx: a.files_5xx,
        ..GdcFaults::default()
    };
    let (dir, port, token, manifest) = (a.dir, a.port, a.token, a.manifest);
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

fn write_svs(a: SvsArgs) -> Result<(), String> {
    let mut spec = SvsSpec::new(a.size.0, a.size.1);
    if let Some(t) = a.tile {
        spec.tile = t;
    }
    if let Some(levels) = a.levels {
        spec.levels = levels;
    }
    if !a.tissue.is_empty() {
        spec.content = Content::MostlyBlank { textured: a.tissue };
    }
    if let Some(mpp) = a.mpp {
        if !(mpp.is_finite() && mpp > 0.0) {
            return Err(format!("--mpp {mpp} must be a positive number of microns"));
        }
        spec.mpp = mpp;
    }
    let info = bcss_testserver::svs::write_svs(&a.file, &spec).map_err(|e| format!("{}: {e}", a.file.display()))?;
    println!("{} {}", a.file.display(), info.file_size);
    Ok(())
}
