//! Command-line definitions (clap). Only shapes and help text live here; validation is in
//! `config.rs` and the commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// bcss: the BCSS breast-cancer semantic segmentation dataset, rebuilt correctly and prepared
/// for training.
#[derive(Debug, Parser)]
#[command(name = "bcss", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Print nothing but errors (no progress bar, no summary).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Print a machine-readable JSON summary on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Hide progress bars (they are hidden anyway when stderr is not a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the BCSS dataset (RGB images + label masks) from a Digital Slide Archive server.
    ///
    /// With no arguments: all 151 ROIs at 0.25 microns per pixel from the public DSA into
    /// ./BCSS. Resumable: a rerun skips every ROI whose files are complete and match
    /// manifest.json. Exit status 1 if any ROI failed.
    Download(Box<DownloadArgs>),
    /// Check a dataset directory: every expected ROI present, files as the manifest records them
    /// (size and SHA-256), image and mask of each ROI the same size, masks holding only the 22
    /// known codes. Works without a manifest too (then only the invariants are checked).
    /// Exit status 1 if any problem is found.
    Verify(VerifyArgs),
    /// Build the same dataset from slide files on your own disk (no server).
    ///
    /// Finds each ROI's slide in --slides-dir by its full TCGA file name or its 12-character
    /// short name (TCGA-A1-A0SK*.svs, .tif, .tiff, .ndpi, .mrxs, ...), reads the region with
    /// OpenSlide exactly as a DSA's tiles/region endpoint does (same level, same output size,
    /// Pillow's BICUBIC/LANCZOS resampling) and writes images/, masks/ and manifest.json with
    /// the names `bcss download` uses. Resumable like download. Exit status 1 if any ROI failed.
    #[cfg(feature = "openslide")]
    Extract(Box<ExtractArgs>),
    /// Make label masks from a slide's annotation JSON, one per ROI element.
    ///
    /// Reads the body of `GET annotation/item/{id}` (as `bcss download --pipeline annotations`
    /// saves it) and writes, for every ROI element (a polyline or rectangle whose group has
    /// is_roi in the codes table), `<slide>_left-X_top-Y_bottom-Y_right-X.png` (8-bit labels,
    /// 0 = outside the ROI) and a `.json` with its bounds, exactly as HistomicsTK 1.4.0
    /// `get_all_rois_from_slide` makes them, quirks included. `--strict` uses clean pixel-centre
    /// geometry instead. Exit status 2 for bad input, 1 if some ROI gave no mask.
    Masks(MasksArgs),
}


/// Options of `bcss verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The dataset root (the `--out` of download).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The ROIs expected when there is no manifest (default: the built-in 151).
    #[arg(long, value_name = "CSV")]
    pub roi_bounds: Option<PathBuf>,
    /// Only expect these slides or ROI ids (when there is no manifest).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub slides: Option<Vec<String>>,
    /// Check sizes but skip SHA-256 (faster on big datasets).
    #[arg(long)]
    pub no_hash: bool,
}

/// Options of `bcss masks`.
#[derive(Debug, Args, Default)]
pub struct MasksArgs {
    /// Annotation JSON of one slide: the array `GET annotation/item/{id}` returns.
    #[arg(long, value_name = "FILE.json")]
    pub annotations: PathBuf,
    /// Ground-truth codes table (CSV with HistomicsTK's columns group, overlay_order, GT_code,
    /// is_roi, is_background_class, color, comments). [default: the built-in BCSS table]
    #[arg(long, value_name = "TABLE.csv")]
    pub codes: Option<PathBuf>,
    /// Prefix of the mask names. [default: the annotation file name without its extension]
    #[arg(long, value_name = "NAME")]
    pub slide_name: Option<String>,
    /// Output directory (created).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Masks at the slide's own resolution (the default).
    #[arg(long, group = "masks_resolution")]
    pub base: bool,
    /// Masks at this many microns per pixel (needs --native-mpp).
    #[arg(long, value_name = "X", group = "masks_resolution", requires = "native_mpp")]
    pub mpp: Option<f64>,
    /// The slide's own microns per pixel (OpenSlide mpp-x; tiles metadata mm_x x 1000).
    #[arg(long, value_name = "Y")]
    pub native_mpp: Option<f64>,
    /// Masks at this objective magnification (needs --native-mag).
    #[arg(long, value_name = "X", group = "masks_resolution", requires = "native_mag")]
    pub mag: Option<f64>,
    /// The slide's own objective magnification.
    #[arg(long, value_name = "Y")]
    pub native_mag: Option<f64>,
    /// Clean geometry instead of HistomicsTK's: a pixel is in a polygon when its centre is
    /// (even-odd rule), coordinates are not truncated, and the mask is the exact box of the ROI.
    #[arg(long)]
    pub strict: bool,
    /// PNG compression: fast, balanced or high (pixels are the same). [default: balanced]
    #[arg(long, value_name = "LEVEL")]
    pub png_compression: Option<String>,
}

/// Options of `bcss download`. Every option can also come from `--config FILE.toml` (same
/// names, `-` or `_`); flags win over the environment, which wins over the file.
#[derive(Debug, Args, Default)]
pub struct DownloadArgs {
    /// TOML file with any of these options (keys as the long flag names).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// DSA API base URL (ends in /api/v1). [default: https://demo.kitware.com/histomicstk/api/v1/]
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// API key, exchanged for a token. Also BCSS_API_KEY. Never written anywhere.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Log in as USER; the password is asked without echo (or read from BCSS_PASSWORD).
    #[arg(long, value_name = "USER", conflicts_with = "api_key")]
    pub login: Option<String>,
    /// Folder whose items are the slides. [default: 5bbdeba3e629140048d017bb]
    #[arg(long, value_name = "ID")]
    pub folder_id: Option<String>,
    /// A roiBounds.csv in the original format (with mask_link) instead of the built-in one.
    #[arg(long, value_name = "CSV")]
    pub roi_bounds: Option<PathBuf>,
    /// Dataset root (created, parents too). [default: ./BCSS]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output resolution in microns per pixel. [default: 0.25]
    #[arg(long, value_name = "X", group = "resolution")]
    pub mpp: Option<f64>,
    /// Output resolution as objective magnification (e.g. 20).
    #[arg(long, value_name = "X", group = "resolution")]
    pub mag: Option<f64>,
    /// Output at the slides' own scan resolution (files named MAG-0).
    #[arg(long, group = "resolution")]
    pub base: bool,
    /// What to fetch: any of images, masks, annotations. [default: images,masks]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub pipeline: Option<Vec<String>>,
    /// Only these slides: 12-character names (TCGA-A1-A0SK) or ROI ids. Unknown names are an error.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub slides: Option<Vec<String>>,
    /// ROIs processed concurrently. The public server is shared: be polite. [default: 4]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Reproduce the original downloader's requests exactly, including its %.4f mm rounding
    /// (MPP 0.25 really asks for 0.3 um/px) and base-resolution masks when images are off.
    #[arg(long)]
    pub compat: bool,
    /// Region encoding asked of the server: jpeg (like the original) or png (lossless). [default: jpeg]
    #[arg(long, value_name = "jpeg|png")]
    pub encoding: Option<String>,
    /// Retries per request on connection errors, timeouts, 429 and 5xx. [default: 5]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Timeout per request in seconds (connect, response, and each read of the body). [default: 120]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Extra root certificate (PEM) to trust, for networks behind an inspecting proxy.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// PNG compression of written images: fast, balanced or high (pixels are the same). [default: balanced]
    #[arg(long, value_name = "LEVEL")]
    pub png_compression: Option<String>,
    /// Where masks come from: `links` downloads the published mask PNGs; `annotations` fetches
    /// each slide's annotations and rasterises the ROI's mask locally with HistomicsTK's rules
    /// (see `bcss masks --help`). [default: links]
    #[arg(long, value_name = "links|annotations")]
    pub mask_source: Option<String>,
}

/// Options of `bcss extract`.
#[cfg(feature = "openslide")]
#[derive(Debug, Args, Default)]
pub struct ExtractArgs {
    /// Directory holding the slide files (searched by name, not recursively).
    #[arg(long, value_name = "DIR")]
    pub slides_dir: PathBuf,
    /// A roiBounds.csv in the original format (with mask_link) instead of the built-in one.
    #[arg(long, value_name = "CSV")]
    pub roi_bounds: Option<PathBuf>,
    /// Dataset root (created, parents too). [default: ./BCSS]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output resolution in microns per pixel. [default: 0.25]
    #[arg(long, value_name = "X", group = "resolution")]
    pub mpp: Option<f64>,
    /// Output resolution as objective magnification (e.g. 20).
    #[arg(long, value_name = "X", group = "resolution")]
    pub mag: Option<f64>,
    /// Output at the slides' own scan resolution (files named MAG-0).
    #[arg(long, group = "resolution")]
    pub base: bool,
    /// What to write: any of images, masks. [default: images,masks]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub pipeline: Option<Vec<String>>,
    /// Only these slides: 12-character names (TCGA-A1-A0SK) or ROI ids. Unknown names are an error.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub slides: Option<Vec<String>>,
    /// ROIs processed concurrently; each holds one ROI's pixels (a large ROI needs about
    /// 1 GB at 0.25 um/px). [default: 2]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Where masks come from: links (the ROI table's mask_link), dir (PNGs in --masks-dir) or
    /// annotations (JSON in --annotations-dir). [default: dir with --masks-dir, annotations
    /// with --annotations-dir, else links]
    #[arg(long, value_name = "links|dir|annotations")]
    pub mask_source: Option<String>,
    /// Directory of base-resolution mask PNGs named like the dataset's masks
    /// (<roi>_xmin<X>_ymin<Y>_<suffix>.png) or <roi>.png.
    #[arg(long, value_name = "DIR")]
    pub masks_dir: Option<PathBuf>,
    /// Directory of annotation JSON files (one per slide, as `bcss download --pipeline
    /// annotations` writes them), rasterised into masks.
    #[arg(long, value_name = "DIR")]
    pub annotations_dir: Option<PathBuf>,
    /// Retries per mask-link request on connection errors, timeouts, 429 and 5xx. [default: 5]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Timeout per mask-link request in seconds. [default: 120]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// PNG compression of written images: fast, balanced or high (pixels are the same). [default: balanced]
    #[arg(long, value_name = "LEVEL")]
    pub png_compression: Option<String>,
}
