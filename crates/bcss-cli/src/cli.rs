//! Command-line definitions (clap). Only shapes and help text live here; validation is in
//! `config.rs` and the commands.

use std::path::PathBuf;

use bcss::catalog::split::{Scheme, SplitSpec};
use bcss::codec::png::Compression;
use bcss::command::download::{Encoding, MaskSource, PipelinePart, Source};
use clap::{Args, Parser, Subcommand};

/// bcss: the BCSS breast-cancer semantic segmentation dataset, rebuilt correctly and prepared
/// for training.
#[derive(Debug, Parser)]
#[command(name = "bcss", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Print nothing but errors (no progress bar, no summary).
    #[arg(long, short, global = true, help_heading = GLOBAL_HEADING)]
    pub quiet: bool,
    /// Print a machine-readable JSON summary on stdout.
    #[arg(long, global = true, help_heading = GLOBAL_HEADING)]
    pub json: bool,
    /// Hide progress bars (they are hidden anyway when stderr is not a terminal).
    #[arg(long, global = true, help_heading = GLOBAL_HEADING)]
    pub no_progress: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The heading of the options every command takes (`--quiet`, `--json`, `--no-progress`), so a
/// command's help lists its own options first and these apart.
pub const GLOBAL_HEADING: &str = "Global options";

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the BCSS dataset (RGB images + label masks) from a Digital Slide Archive server.
    ///
    /// With no arguments: all 151 ROIs at 0.25 microns per pixel from the public DSA into
    /// ./BCSS. Resumable: a rerun skips every ROI whose files are complete and match
    /// manifest.json. Exit status 1 if any ROI failed.
    Download(Box<DownloadArgs>),
    /// Check a dataset directory against its manifest and the dataset's invariants.
    ///
    /// Every expected ROI present, files as the manifest records them (size and SHA-256), image
    /// and mask of each ROI the same size, masks holding only the 22 known codes. Works without a manifest too (then only the invariants are checked).
    /// Exit status 1 if any problem is found.
    Verify(VerifyArgs),
    /// List the ROIs of the catalogue with their sites and official splits.
    ///
    /// Slide, bounds, size, scan magnification, tissue source site and official split, of the
    /// built-in 151 ROIs or of --roi-bounds.
    Rois(RoisArgs),
    /// The catalogue's whole-slide image files on the NCI GDC.
    ///
    /// `bcss slides manifest` writes the GDC manifest of the slides (id, filename, md5, size,
    /// state; the format the GDC Data Transfer Tool and portal use), resolved by exact file name
    /// on the GDC. A slide the GDC does not know is listed as an error (exit 1); the others are
    /// still written.
    #[cfg(feature = "openslide")]
    Slides(SlidesArgs),
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
    /// Show the 22 label codes with their colours and where each class map puts them.
    ///
    /// With --class-map, show one map (a preset or a TOML file, which is validated); with
    /// --toml, print it in the custom-map format, ready to copy and edit.
    ///
    /// Custom map format (TOML): `name = "..."`, `dont_care = [codes]`, then one `[[class]]`
    /// table per class with `name`, `codes = [...]` and optional `color = [r, g, b]` and
    /// `value`. Classes take values 1..=K in file order. Every code 1..=21 must be in exactly one
    /// class or in dont_care; code 0 is always don't care and can never be a class.
    Classes(ClassesArgs),
    /// Write the train/test split by institution (TCGA tissue source site), as in the paper.
    ///
    /// official: every ROI from sites OL, LL, E2, EW, GM and S3 is test (45 ROIs), the rest
    /// train (106). official-val: also sites BH, C8, A8, A1 and E9 as val. CSV, or JSON when
    /// FILE ends in .json. With --check FILE, verify a split file instead: exit 1 if a site or a
    /// patient appears in two parts.
    Split(SplitArgs),
    /// Class distribution per ROI and per split: pixels per class, don't-care fraction,
    /// presence counts and class weights.
    ///
    /// Writes rois.csv, parts.csv, classes.csv, stats.json and charts into --out:
    /// distribution.svg and .png (each class's share of the labelled pixels, per split) and
    /// distribution-pixels.svg (pixels per class and split, log scale). Fractions are of labelled pixels: don't care
    /// is never in a denominator. Weights: 1 - fraction (the authors' training code) and median
    /// frequency balancing (0 for a class absent from the split).
    Stats(StatsArgs),
    /// Cut ROIs into image/mask tile pairs per split, with masks remapped and an index.
    ///
    /// The last row and column of tiles are moved back to the ROI's edge so every pixel is
    /// covered; a ROI smaller than a tile gives one tile padded with don't care. Tiles whose
    /// labelled fraction is below --min-labelled are dropped. Output: OUT/<split>/images/,
    /// OUT/<split>/masks/ (<roi>_x<X>_y<Y>.png), OUT/<split>/index.csv and OUT/tiles.json.
    /// Deterministic; memory per worker is one band of tile rows, not a whole ROI.
    Tile(TileArgs),
    /// Draw each ROI's mask over its image in the class colours, and a contact sheet.
    ///
    /// Each ROI with a legend of the classes it holds, and one contact sheet of all ROIs
    /// labelled with their id and split.
    ///
    /// Writes OUT/<roi>_overlay.png and OUT/contact_sheet.png. Classes are tinted (--style
    /// fill) or outlined (--style outline); don't-care pixels are dimmed so the ROI's shape
    /// shows.
    Overlay(OverlayArgs),
    /// Reinhard colour normalisation exactly as HistomicsTK 1.4.0 computes it: one PNG, or a
    /// dataset into the layout of the authors' Google Drive copy.
    ///
    /// `bcss normalize DATASET --out OUT` writes
    /// OUT/0_Public-data-Amgad2019_0.25MPP/rgbs_colorNormalized/<name>.png (normalised) and
    /// masks/<name>.png (unchanged; a hard link where possible), records sizes and SHA-256 in
    /// OUT/normalize.json, and skips ROIs already complete on a rerun. `bcss normalize --image
    /// PNG --out PNG` normalises one file. The target is the BCSS standard (the lab statistics
    /// of ROI TCGA-A2-A3XS-DX1) unless --target-mu/--target-sigma or --target-image name
    /// another. Lab values are l, alpha, beta, comma-separated. Memory stays flat: the rows are
    /// read three times (means, standard deviations, transform).
    Normalize(NormalizeArgs),
    /// Score predicted label PNGs against the ground truth (Dice, IoU, precision, recall).
    ///
    /// Confusion matrix, per-class Dice, IoU, precision, recall and pixel accuracy, pooled over
    /// all pixels and averaged per image.
    ///
    /// Predictions are named like the masks (<roi>_xmin<X>_ymin<Y>_<suffix>.png, any suffix)
    /// and hold class values of the map: 1..=K, or 0 for no prediction (counted as a miss).
    /// Pixels whose truth is don't care are excluded everywhere. A metric with a zero
    /// denominator (class neither present nor predicted) is shown as - and left out of means.
    /// `--split official --part test` scores the paper's test set: only the truth masks of that
    /// part, and predictions for ROIs of other parts are left out. A warning names the likely
    /// cause when predictions hold values of another class map (raw codes, 0-based classes).
    /// Exit status 1 when any prediction is missing, has the wrong size or holds a value above
    /// K (each named); 2 on bad arguments.
    Eval(EvalArgs),
    /// Write one self-contained HTML page to look at a dataset: distribution, ROIs, gallery.
    ///
    /// A header (dataset root, layout, resolution, ROI count, pixels and bytes, verify without
    /// hashes, bcss version, the dataset's citation), the class distribution per split (share
    /// of labelled pixels, pixels, log scale; the numbers of `bcss stats`), a table of the ROIs
    /// sortable by any column, and a gallery of thumbnails (at most 256 pixels) whose mask
    /// overlay the buttons switch between outline, fill and off. With --pred, Dice and IoU per
    /// class and split (the numbers of `bcss eval`) and every ROI's scores, worst first, with
    /// the prediction beside the truth.
    ///
    /// One file: styles, charts (SVG), pictures (data: URIs) and its few lines of script are
    /// inside it, so it opens from disk with no network. Only the links to full-size pictures
    /// point outside it: relative paths from the page to the dataset's images (or to the
    /// overlays of `bcss overlay` given with --overlays), which work while the page and the
    /// dataset keep their places. Exit status 1 when a prediction is missing or cannot be
    /// scored (the page lists it); 2 on bad input.
    Report(ReportArgs),
}

/// Options of `bcss rois`.
#[derive(Debug, Args)]
pub struct RoisArgs {
    /// A roiBounds.csv to list instead of the built-in one.
    #[arg(long, value_name = "CSV")]
    pub roi_bounds: Option<PathBuf>,
    /// Only these slides (TCGA-A1-A0SK) or ROI ids.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub slides: Option<Vec<String>>,
}

/// `bcss slides` subcommands.
#[cfg(feature = "openslide")]
#[derive(Debug, Args)]
pub struct SlidesArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SlidesCommand,
}

/// `bcss slides` subcommands.
#[cfg(feature = "openslide")]
#[derive(Debug, Subcommand)]
pub enum SlidesCommand {
    /// Write the GDC manifest of the catalogue's slides (or of --slides / --roi-bounds).
    ///
    /// Tab-separated `id filename md5 size state` with a header line, sorted by file name, as
    /// `gdc-client download -m FILE` reads it. Without --out it goes to stdout.
    Manifest(SlidesManifestArgs),
}

/// Options of `bcss slides manifest`.
#[cfg(feature = "openslide")]
#[derive(Debug, Args)]
pub struct SlidesManifestArgs {
    /// Write the manifest here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only these slides: 12-character names (TCGA-A1-A0SK) or ROI ids.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub slides: Option<Vec<String>>,
    /// The slides of this roiBounds.csv instead of the built-in 151 (their names must be in the
    /// built-in slide table).
    #[arg(long, value_name = "CSV")]
    pub roi_bounds: Option<PathBuf>,
    /// GDC API base URL. Also BCSS_GDC_URL. [default: https://api.gdc.cancer.gov]
    #[arg(long, value_name = "URL")]
    pub gdc_url: Option<String>,
    /// File holding a GDC token (sent as X-Auth-Token); open-access slides need none.
    #[arg(long, value_name = "FILE")]
    pub gdc_token_file: Option<PathBuf>,
    #[command(flatten)]
    pub net: NetArgs,
}

/// Options of `bcss verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The dataset root (the `--out` of download).
    #[arg(value_name = "DATASET")]
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
    /// Annotation JSON of a slide (the array `GET annotation/item/{id}` returns), or a folder
    /// of them (every `*.json` in it, one file per slide, as `bcss download` saves them); several
    /// may be given. With several slides, each is named after its file, one that cannot be read
    /// is reported and the others are written, and `--json` prints `{"slides": [...], "failed":
    /// [...]}`; with one file, the summary of that slide.
    #[arg(long, value_name = "FILE.json|DIR", num_args = 1.., required = true)]
    pub annotations: Vec<PathBuf>,
    /// Ground-truth codes table (CSV with HistomicsTK's columns group, overlay_order, GT_code,
    /// is_roi, is_background_class, color, comments). [default: the built-in BCSS table]
    #[arg(long, value_name = "TABLE.csv")]
    pub codes: Option<PathBuf>,
    /// Prefix of the mask names, with one annotation file. [default: the annotation file name
    /// without its extension]
    #[arg(long, value_name = "NAME")]
    pub slide_name: Option<String>,
    /// Output directory (created).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// When another bcss run is writing into --out (it holds `.bcss.lock` there),
    /// wait for it to finish instead of exiting with code 4.
    #[arg(long)]
    pub wait_lock: bool,
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
    /// PNG compression (pixels are the same). [default: balanced]
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub png_compression: Option<Compression>,
}

/// Help shared by every `--class-map` option.
pub const CLASS_MAP_HELP: &str = "Class map: raw (21 classes, one per code), main5 (tumour = tumor + angioinvasion + dcis; stroma; inflammatory = lymphocytic_infiltrate + plasma_cells + other_immune_infiltrate; necrosis = necrosis_or_debris; other = every other tissue code), wsss4 (tumour, stroma, lymphocytic, necrosis; the rest don't care), or a TOML file (see `bcss classes --help`). In main5, exclude (7) and undetermined (15) are don't care: the paper does not say where they go. Code 0 (outside the ROI) is always don't care; remapped masks hold 0 for don't care and 1..=K for the classes";

/// Help shared by every `--split` option.
pub const SPLIT_HELP: &str = "Split: official, official-val, or a split file written by `bcss split` (CSV or JSON; a file that puts a site or patient in two parts is refused). [default: official]";

/// Which ROIs of a dataset a command reads, and the split it reports them by: one definition
/// for `stats`, `tile`, `overlay` and `eval`, resolved by `commands::inputs::selection`.
#[derive(Debug, Args, Default, Clone)]
pub struct SplitSelect {
    #[arg(long, value_name = "SPLIT", help = SPLIT_HELP)]
    pub split: Option<SplitSpec>,
    /// Only the ROIs in these parts of the split (train, val, test; e.g. `--part test` for the
    /// paper's test set). [default: every ROI]
    #[arg(long, value_name = "PART", value_delimiter = ',', value_parser = ["train", "val", "test"])]
    pub part: Option<Vec<String>>,
}

/// Options of `bcss classes`.
#[derive(Debug, Args)]
pub struct ClassesArgs {
    /// Show only this class map: raw, main5, wsss4, mutils, mutils-main or a TOML file (validated).
    #[arg(long, value_name = "MAP")]
    pub class_map: Option<String>,
    /// Print the map (--class-map, default main5) as TOML in the custom-map format.
    #[arg(long)]
    pub toml: bool,
}

/// Options of `bcss split`.
#[derive(Debug, Args)]
pub struct SplitArgs {
    /// official (train/test) or official-val (train/val/test).
    #[arg(long, value_enum, value_name = "SCHEME", default_value = "official")]
    pub scheme: Scheme,
    /// Where to write the split: JSON if it ends in .json, CSV otherwise.
    #[arg(long, value_name = "FILE", required_unless_present = "check")]
    pub out: Option<PathBuf>,
    /// A roiBounds.csv whose ROIs to split instead of the built-in 151.
    #[arg(long, value_name = "CSV")]
    pub roi_bounds: Option<PathBuf>,
    /// Check a split file for leakage (a site or a patient in two parts) instead of writing one.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["out", "roi_bounds"])]
    pub check: Option<PathBuf>,
}

/// Options of `bcss stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Dataset directory: images/ + masks/ (bcss download) or rgbs_colorNormalized/ + masks/
    /// (the Drive copy). Only masks are read.
    #[arg(value_name = "DATASET")]
    pub dir: PathBuf,
    #[arg(long, value_name = "MAP", default_value = "main5", help = CLASS_MAP_HELP)]
    pub class_map: String,
    #[command(flatten)]
    pub select: SplitSelect,
    /// Output directory (created).
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// When another bcss run is writing into --out (it holds `.bcss.lock` there),
    /// wait for it to finish instead of exiting with code 4.
    #[arg(long)]
    pub wait_lock: bool,
    /// Worker threads. [default: all cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Options of `bcss tile`.
#[derive(Debug, Args)]
pub struct TileArgs {
    /// Dataset directory (either layout).
    #[arg(value_name = "DATASET")]
    pub dir: PathBuf,
    /// Tile side in pixels.
    #[arg(long, value_name = "PX", default_value_t = 512)]
    pub size: usize,
    /// Step between tiles in pixels, 1..=size. [default: the tile size]
    #[arg(long, value_name = "PX")]
    pub stride: Option<usize>,
    #[arg(long, value_name = "MAP", default_value = "main5", help = CLASS_MAP_HELP)]
    pub class_map: String,
    #[command(flatten)]
    pub select: SplitSelect,
    /// Drop tiles whose labelled fraction (pixels of a class over the tile's area) is below this.
    #[arg(long, value_name = "F", default_value_t = 0.5)]
    pub min_labelled: f64,
    /// Output directory: created; must be empty if it exists.
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// When another bcss run is writing into --out (it holds `.bcss.lock` there),
    /// wait for it to finish instead of exiting with code 4.
    #[arg(long)]
    pub wait_lock: bool,
    /// Worker threads. [default: all cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// PNG compression of tiles (pixels are the same).
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = Compression::Fast)]
    pub png_compression: Compression,
}

/// Options of `bcss overlay`.
#[derive(Debug, Args)]
pub struct OverlayArgs {
    /// Dataset directory (either layout).
    #[arg(value_name = "DATASET")]
    pub dir: PathBuf,
    /// Output directory (created).
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// Opacity of the class colours, 0..=1.
    #[arg(long, value_name = "A", default_value_t = 0.4)]
    pub alpha: f64,
    /// The same default as stats, tile and eval (main5), so an overlay shows the classes a model
    /// is trained on; `--class-map raw` draws all 21 codes.
    #[arg(long, value_name = "MAP", default_value = "main5", help = CLASS_MAP_HELP)]
    pub class_map: String,
    #[command(flatten)]
    pub select: SplitSelect,
    /// Shrink overlays by this integer factor (box filter); 1 keeps full size.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub downsample: usize,
    /// Longest side of a contact-sheet thumbnail in pixels.
    #[arg(long, value_name = "PX", default_value_t = 192)]
    pub thumb: usize,
    /// Draw class regions tinted (fill, with --alpha) or as their borders only (outline, the
    /// tissue inside left as it is). Don't care is dimmed in both.
    #[arg(long, value_enum, value_name = "STYLE", default_value_t = OverlayStyleArg::Fill)]
    pub style: OverlayStyleArg,
    /// Leave out the legend (by default it lists the classes present in each ROI).
    #[arg(long)]
    pub no_legend: bool,
    /// Worker threads. [default: all cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// When another bcss run is writing into --out (it holds `.bcss.lock` there),
    /// wait for it to finish instead of exiting with code 4.
    #[arg(long)]
    pub wait_lock: bool,
}

/// Options of `bcss normalize`.
#[derive(Debug, Args)]
pub struct NormalizeArgs {
    /// Dataset directory (either layout); or use --image for one file.
    #[arg(value_name = "DATASET", required_unless_present = "image", conflicts_with = "image")]
    pub dir: Option<PathBuf>,
    /// One RGB PNG to normalise instead of a dataset.
    #[arg(long, value_name = "PNG")]
    pub image: Option<PathBuf>,
    /// With --image: a PNG of its size, nonzero where pixels are left out of the statistics
    /// and kept unchanged (HistomicsTK's mask_out).
    #[arg(long, value_name = "PNG", requires = "image")]
    pub mask: Option<PathBuf>,
    /// Output: the normalised PNG (--image), or the root of the Drive layout (DATASET).
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// With --image: the source's lab means, instead of the image's own (as for the tiles of
    /// one slide). Needs --src-sigma.
    #[arg(long, value_name = "L,A,B", value_delimiter = ',', allow_negative_numbers = true, requires_all = ["image", "src_sigma"])]
    pub src_mu: Option<Vec<f64>>,
    /// With --image: the source's lab standard deviations. Needs --src-mu.
    #[arg(long, value_name = "L,A,B", value_delimiter = ',', allow_negative_numbers = true, requires = "src_mu")]
    pub src_sigma: Option<Vec<f64>>,
    /// Target lab means. [default: 8.74108109,-0.12440419,0.0444982]
    #[arg(long, value_name = "L,A,B", value_delimiter = ',', allow_negative_numbers = true, requires = "target_sigma")]
    pub target_mu: Option<Vec<f64>>,
    /// Target lab standard deviations. [default: 0.6135447,0.10989545,0.0286032]
    #[arg(long, value_name = "L,A,B", value_delimiter = ',', allow_negative_numbers = true, requires = "target_mu")]
    pub target_sigma: Option<Vec<f64>>,
    /// Take the target statistics from this RGB PNG (HistomicsTK's lab_mean_std).
    #[arg(long, value_name = "PNG", conflicts_with_all = ["target_mu", "target_sigma"])]
    pub target_image: Option<PathBuf>,
    /// Compare what is written with another copy, pixel by pixel, and print per ROI the share
    /// of identical pixels and the mean absolute difference (and the share of equal mask
    /// values), then a summary. With DATASET: a Drive copy you hold (its
    /// 0_Public-data-Amgad2019_0.25MPP folder, the folder above it, or a folder of PNGs named
    /// as the Drive's). With --image: one PNG.
    #[arg(long, value_name = "PATH")]
    pub compare: Option<PathBuf>,
    /// With DATASET: leave each ROI's don't-care pixels (code 0 of its mask) out of its
    /// statistics; every pixel is still normalised. By default every pixel counts, as in
    /// HistomicsTK's plain call (how the Drive copy was made is not known).
    #[arg(long, conflicts_with = "image")]
    pub exclude_dont_care: bool,
    #[command(flatten)]
    pub select: SplitSelect,
    /// PNG compression of the normalised images (pixels are the same).
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = Compression::Fast)]
    pub png_compression: Compression,
    /// Worker threads. [default: all cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// When another bcss run is writing into --out (it holds `.bcss.lock` there),
    /// wait for it to finish instead of exiting with code 4.
    #[arg(long)]
    pub wait_lock: bool,
}

/// `--style` of `bcss overlay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OverlayStyleArg {
    /// Class regions tinted with their colour.
    Fill,
    /// The borders of class regions only.
    Outline,
}

/// Options of `bcss eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Folder of predicted label PNGs (or a dataset whose masks/ holds them).
    #[arg(long, value_name = "PRED")]
    pub pred: PathBuf,
    /// Ground truth: a dataset directory (its masks/) or a folder of masks.
    #[arg(long, value_name = "TRUTH")]
    pub truth: PathBuf,
    #[arg(long, value_name = "MAP", default_value = "main5", help = CLASS_MAP_HELP)]
    pub class_map: String,
    #[command(flatten)]
    pub select: SplitSelect,
    /// Worker threads. [default: all cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Options of `bcss report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Dataset directory (either layout; a masks-only folder shows masks in class colours).
    #[arg(value_name = "DATASET")]
    pub dir: PathBuf,
    #[arg(long, value_name = "MAP", default_value = "main5", help = CLASS_MAP_HELP)]
    pub class_map: String,
    #[command(flatten)]
    pub select: SplitSelect,
    /// Folder of predicted label PNGs (as `bcss eval --pred`): adds Dice and IoU per class and
    /// split, and the ROIs' scores worst first.
    #[arg(long, value_name = "PRED")]
    pub pred: Option<PathBuf>,
    /// Folder written by `bcss overlay`: the gallery links to its full-size overlays (by
    /// default it links to the dataset's images).
    #[arg(long, value_name = "DIR")]
    pub overlays: Option<PathBuf>,
    /// Longest side of a thumbnail in pixels, at most 256.
    #[arg(long, value_name = "PX", default_value_t = 256)]
    pub thumb: usize,
    /// The HTML file to write (its folder is created).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Worker threads. [default: all cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Options shared by the commands that build a dataset (`download`, `extract`).
#[derive(Debug, Args, Default)]
pub struct BuildArgs {
    /// A roiBounds.csv in the original format (with mask_link) instead of the built-in one.
    #[arg(long, value_name = "CSV")]
    pub roi_bounds: Option<PathBuf>,
    /// Only these slides: 12-character names (TCGA-A1-A0SK) or ROI ids. Unknown names are an error.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub slides: Option<Vec<String>>,
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
    /// What to write: any of images, masks, annotations (from a DSA), wsis (the whole slide
    /// files from the GDC into wsis/, `download` only). [default: images,masks]
    #[arg(long, value_enum, value_name = "LIST", value_delimiter = ',', hide_possible_values = true)]
    pub pipeline: Option<Vec<PipelinePart>>,
    /// PNG compression of written images (pixels are the same). [default: balanced]
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub png_compression: Option<Compression>,
    /// When another bcss run is writing into --out (it holds `.bcss.lock` there),
    /// wait for it to finish instead of exiting with code 4.
    #[arg(long)]
    pub wait_lock: bool,
}

/// HTTP options shared by every command that talks to a server.
#[derive(Debug, Args, Default)]
pub struct NetArgs {
    /// Retries per request on connection errors, timeouts, 429 and 5xx. [default: 5]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Timeout per request in seconds (connect, response, and each read of the body). [default: 120]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Extra root certificate (PEM) to trust, for networks behind an inspecting proxy.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

/// Options of the GDC (NCI Genomic Data Commons), where the TCGA slide files are.
#[derive(Debug, Args, Default)]
pub struct GdcArgs {
    /// GDC API base URL. Also BCSS_GDC_URL. [default: https://api.gdc.cancer.gov]
    #[arg(long, value_name = "URL")]
    pub gdc_url: Option<String>,
    /// File holding a GDC token (sent as X-Auth-Token; never written anywhere). Open-access
    /// slides, such as TCGA's diagnostic slides, need none.
    #[arg(long, value_name = "FILE")]
    pub gdc_token_file: Option<PathBuf>,
    /// A GDC manifest (id, filename, md5, size, state; as `bcss slides manifest` or the GDC
    /// portal write it): slides are looked up in it by name instead of searched on the GDC.
    /// Needed for a --roi-bounds whose slides are not in the built-in table.
    #[arg(long, value_name = "FILE")]
    pub gdc_manifest: Option<PathBuf>,
    /// Where `--source gdc` keeps the byte ranges it fetched (sparse copies of the slides;
    /// removable at any time). Point datasets of other resolutions at the same cache and the
    /// tiles they share are fetched once. [default: OUT/.cache/gdc]
    #[arg(long, value_name = "DIR")]
    pub gdc_cache: Option<PathBuf>,
}

/// Options of `bcss download`. Every option can also come from `--config FILE.toml` (same
/// names, `-` or `_`); flags win over the environment, which wins over the file.
#[derive(Debug, Args, Default)]
pub struct DownloadArgs {
    /// TOML file with any of these options (keys as the long flag names).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub build: BuildArgs,
    /// Where the pixels come from: dsa (a Digital Slide Archive's region endpoint) or gdc (the
    /// slide files on the NCI GDC, read by byte ranges: only the bytes of each ROI's tiles are
    /// fetched, and the pixels are those of `bcss extract` on the complete file). Masks come
    /// from their links either way. [default: dsa]
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub source: Option<Source>,
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
    /// ROIs processed concurrently. The public server is shared: be polite. [default: 4]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Reproduce the original downloader's requests exactly, including its %.4f mm rounding
    /// (MPP 0.25 really asks for 0.3 um/px) and base-resolution masks when images are off.
    #[arg(long)]
    pub compat: bool,
    /// Region encoding asked of the server. [default: jpeg]
    #[arg(long, value_enum, ignore_case = true, value_name = "ENCODING")]
    pub encoding: Option<Encoding>,
    /// Ask the server not to apply the slides' ICC colour profiles (sends style={"icc":false}).
    /// large_image 1.20 (2023) and later convert to sRGB by default; the 2019 dataset was made
    /// without that, so this gets closer to the published pixels on slides with a profile.
    #[arg(long)]
    pub no_icc: bool,
    /// Where masks come from: `links` downloads the published mask PNGs; `annotations` fetches
    /// each slide's annotations and rasterises the ROI's mask locally with HistomicsTK's rules
    /// (see `bcss masks --help`). [default: links]
    #[arg(long, value_name = "SOURCE", value_parser = download_mask_sources())]
    pub mask_source: Option<MaskSource>,
    #[command(flatten)]
    pub gdc: GdcArgs,
    #[command(flatten)]
    pub net: NetArgs,
}

/// Options of `bcss extract`.
#[cfg(feature = "openslide")]
#[derive(Debug, Args, Default)]
pub struct ExtractArgs {
    /// TOML file with any of these options (keys as the long flag names; the same file as
    /// `download`'s: its server keys are left to `download`). Flags win over the environment
    /// (`BCSS_OUT`), which wins over the file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory holding the slide files (searched by name, not recursively). Required, here or
    /// as `slides-dir` in the config file.
    #[arg(long, value_name = "DIR")]
    pub slides_dir: Option<PathBuf>,
    #[command(flatten)]
    pub build: BuildArgs,
    /// ROIs processed at once, and the threads their pixels are read, resampled and
    /// compressed on (a large ROI alone uses all N). Memory per ROI is a few tile strips,
    /// whatever its size. [default: 2]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Where masks come from: links (the ROI table's mask_link), dir (PNGs in --masks-dir) or
    /// annotations (JSON in --annotations-dir). [default: dir with --masks-dir, annotations
    /// with --annotations-dir, else links]
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub mask_source: Option<MaskSource>,
    /// Directory of base-resolution mask PNGs named like the dataset's masks
    /// (<roi>_xmin<X>_ymin<Y>_<suffix>.png) or <roi>.png.
    #[arg(long, value_name = "DIR")]
    pub masks_dir: Option<PathBuf>,
    /// Directory of annotation JSON files (one per slide, as `bcss download --pipeline
    /// annotations` writes them), rasterised into masks.
    #[arg(long, value_name = "DIR")]
    pub annotations_dir: Option<PathBuf>,
    #[command(flatten)]
    pub net: NetArgs,
}

/// The mask sources `download` takes: the library's [`MaskSource`] without `dir` (a folder of
/// masks is `extract`'s), so `--help` and the error for a wrong value offer only these two.
fn download_mask_sources() -> impl clap::builder::TypedValueParser<Value = MaskSource> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("links").help("The published mask PNGs behind each ROI's `mask_link` (the original's way)"),
        PossibleValue::new("annotations")
            .help("Rasterised locally from the slide's annotations with HistomicsTK's rules"),
    ])
    .map(|s| if s == "annotations" { MaskSource::Annotations } else { MaskSource::Links })
}
