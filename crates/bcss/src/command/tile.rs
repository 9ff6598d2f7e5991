//! `bcss tile`: cut every ROI into image/mask tile pairs for training, per part of the split.
//!
//! Per ROI: the tile grid is `TileGrid` (every `stride` pixels, last row and column moved back
//! to the ROI's edge, so the whole ROI is covered). The image and mask are streamed in bands of
//! `size` rows: a worker holds one band of the image and of the remapped mask, never the whole
//! ROI, so memory is about `jobs x size x width x 4` bytes (23 MB per worker for the widest BCSS
//! ROI at 512 px). ROIs run in parallel on rayon; within a ROI tiles go in grid order.
//!
//! Each tile's mask is remapped through the class map (0 don't care, 1..=K classes). Its
//! labelled fraction is the share of its `size x size` pixels that hold a class; a tile below
//! `min_labelled` is dropped. A ROI narrower or shorter than a tile gives one tile padded with
//! don't care (mask) and black (image); padding counts as unlabelled.
//!
//! Output under `out/`: `<part>/images/<roi>_x<X>_y<Y>.png` and `<part>/masks/` with the same
//! name (X, Y: the tile's offset in the ROI image), `<part>/index.csv` (sorted by ROI, y, x)
//! and `tiles.json` (the [`TileSummary`]: bcss version, source resolution, class names and
//! colours, split, counts). Output is deterministic: the same files and bytes whatever the number of
//! threads. Files appear under their final name only once complete (temporary name, rename).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::input::{self, InputError, InputProblem, RoiInput};
use crate::catalog::classmap::ClassMap;
use crate::catalog::csv_text;
use crate::catalog::split::{Part, SplitSpec};
use crate::codec::png::{write_raw, Compression};
use crate::dataset::atomic::{write_atomic, write_atomic_with, Durability};
use crate::dataset::lock::{DatasetLock, LockError, LOCK_FILE};
use crate::dataset::names::parse_roi_file_name;
use crate::report::Reporter;
use crate::transform::remap::remap_into;
pub use crate::transform::tile::GridError;
use crate::transform::tile::{labelled_fraction, tile_counts, TileGrid};

/// A validated tiling request.
///
/// Made by [`TilePlan::new`] from the class map and the output root, every other setting at
/// the default its setter names (512-pixel tiles without overlap, at least half labelled,
/// the official split), and changed by chainable setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TilePlan {
    pub(crate) size: usize,
    pub(crate) stride: usize,
    pub(crate) min_labelled: f64,
    pub(crate) map: ClassMap,
    pub(crate) out: PathBuf,
    pub(crate) compression: Compression,
    pub(crate) wait_lock: bool,
    pub(crate) split: SplitSpec,
}

impl TilePlan {
    /// A plan to tile masks remapped by `map` into the output root `out` (which must not hold
    /// files yet), with every other setting at its default.
    pub fn new(map: ClassMap, out: impl Into<PathBuf>) -> Self {
        TilePlan {
            size: 512,
            stride: 512,
            min_labelled: 0.5,
            map,
            out: out.into(),
            compression: Compression::Fast,
            wait_lock: false,
            split: SplitSpec::default(),
        }
    }
    /// Tile side in pixels (default: 512). The stride is not changed with it.
    pub fn size(mut self, size: usize) -> Self {
        self.size = size;
        self
    }
    /// Step between tile origins, 1..=`size` (default: 512, tiles side by side).
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }
    /// Drop tiles whose labelled fraction is below this, 0..=1 (default: 0.5).
    pub fn min_labelled(mut self, fraction: f64) -> Self {
        self.min_labelled = fraction;
        self
    }
    /// PNG compression of tiles, lossless either way (default: [`Compression::Fast`]).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }
    /// When another run holds `out`'s lock: wait for it instead of failing with
    /// [`LockError::Held`] (default: false).
    pub fn wait_lock(mut self, wait: bool) -> Self {
        self.wait_lock = wait;
        self
    }
    /// The split the parts come from, as given (`official`, `official-val`, a split file), for
    /// `tiles.json` (default: `official`).
    pub fn split(mut self, split: SplitSpec) -> Self {
        self.split = split;
        self
    }
}

/// One tile written.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TileRecord {
    /// Part of the split.
    pub part: Part,
    /// ROI id.
    pub roi: String,
    /// Left edge in the ROI image.
    pub x: usize,
    /// Top edge in the ROI image.
    pub y: usize,
    /// Labelled pixels over `size x size`.
    pub labelled_fraction: f64,
    /// `[don't care, class 1, ..., class K]` pixel counts.
    pub counts: Vec<u64>,
}

impl TileRecord {
    /// The tile's file name (same under `images/` and `masks/`).
    pub fn file_name(&self) -> String {
        format!("{}_x{}_y{}.png", self.roi, self.x, self.y)
    }
}

/// What a tiling run did; also `tiles.json`, so the tiles say what they hold: the bcss version,
/// the source resolution, the class map with its classes' names and colours, and the split.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TileSummary {
    /// The bcss version that wrote the tiles.
    pub bcss_version: String,
    /// The resolution of the source ROIs, from their file names' suffix (`MPP-0.2500`,
    /// `MAG-20.0`, `MAG-0` for base): one entry unless the dataset mixes them; sorted.
    pub resolution: Vec<String>,
    /// Class map name.
    pub class_map: String,
    /// The map's classes: value in the mask tiles (1..=K; 0 is don't care), name, colour, and
    /// the BCSS codes each holds.
    pub classes: Vec<crate::catalog::classmap::Class>,
    /// The split the parts come from, as given (`official`, `official-val`, a split file).
    pub split: String,
    /// Tile side.
    pub size: usize,
    /// Stride.
    pub stride: usize,
    /// Threshold.
    pub min_labelled: f64,
    /// ROIs tiled.
    pub rois: usize,
    /// Tiles in the grids.
    pub tiles_total: usize,
    /// Tiles written.
    pub tiles_written: usize,
    /// Tiles dropped for too few labelled pixels.
    pub tiles_dropped: usize,
    /// Megapixels of the ROIs read.
    pub megapixels: f64,
    /// Tiles written per part.
    pub per_part: BTreeMap<Part, usize>,
    /// Every tile written, sorted by part, ROI, y, x.
    #[serde(skip)]
    pub tiles: Vec<TileRecord>,
}

/// Why tiling failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// Another run holds the output folder, or it cannot be locked.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Bad grid parameters.
    #[error(transparent)]
    Grid(#[from] GridError),
    /// The output root already holds files.
    #[error("`{0}` already exists and is not empty; tile into a new directory")]
    NotEmpty(PathBuf),
    /// A ROI has no image.
    #[error("ROI `{0}` has no image; tiling needs images and masks")]
    NoImage(String),
    /// An input file is unreadable or inconsistent.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Writing failed.
    #[error("failed to write `{path}`")]
    Output {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl crate::report::Blamed for TileError {
    fn blame(&self) -> crate::report::Blame {
        use crate::report::Blame;
        match self {
            TileError::Lock(e) => e.blame(),
            TileError::Grid(_) | TileError::NotEmpty { .. } | TileError::NoImage { .. } | TileError::Input { .. } => {
                Blame::Input
            }
            TileError::Output { .. } => Blame::Output,
        }
    }
}

fn out_err(path: &Path) -> impl FnOnce(std::io::Error) -> TileError {
    let path = path.to_path_buf();
    move |source| TileError::Output { path, source }
}

/// Checks a tile size and stride before any input is read: a size of at least 1, a stride of
/// 1..=`size` (what [`tile`] refuses with [`TileError::Grid`]).
pub fn check_grid(size: usize, stride: usize) -> Result<(), GridError> {
    crate::transform::tile::origins(1, size, stride).map(drop)
}

/// Tiles every ROI (see the module docs).
pub fn tile(plan: &TilePlan, rois: &[RoiInput], reporter: &dyn Reporter) -> Result<TileSummary, TileError> {
    TileGrid::new(1, 1, plan.size, plan.stride)?;
    if let Some(r) = rois.iter().find(|r| r.files.image.is_none()) {
        return Err(TileError::NoImage(r.files.roi_id.clone()));
    }
    // Checked before the lock (no lock file is left in a folder that is refused anyway) and again
    // under it: two runs into one new folder would both have found it empty.
    check_empty(&plan.out)?;
    let _lock = DatasetLock::acquire(&plan.out, "tile", plan.wait_lock)?;
    check_empty(&plan.out)?;
    let mut parts: Vec<Part> = rois.iter().map(|r| r.part).collect();
    parts.sort();
    parts.dedup();
    for p in &parts {
        for sub in ["images", "masks"] {
            let d = plan.out.join(p.as_str()).join(sub);
            std::fs::create_dir_all(&d).map_err(out_err(&d))?;
        }
    }

    let results = input::for_each_reported(rois, true, reporter, |r| tile_roi(plan, r));
    let mut tiles = Vec::new();
    let (mut total, mut pixels) = (0usize, 0u64);
    for r in results {
        let r = r?;
        total += r.grid_tiles;
        pixels += r.pixels;
        tiles.extend(r.tiles);
    }
    tiles.sort_by(|a, b| (a.part, &a.roi, a.y, a.x).cmp(&(b.part, &b.roi, b.y, b.x)));
    let per_part: BTreeMap<Part, usize> =
        parts.iter().map(|&p| (p, tiles.iter().filter(|t| t.part == p).count())).collect();
    let mut resolution: Vec<String> = rois
        .iter()
        .filter_map(|r| r.files.mask.file_name()?.to_str().and_then(parse_roi_file_name).map(|n| n.suffix))
        .collect();
    resolution.sort();
    resolution.dedup();
    let summary = TileSummary {
        bcss_version: env!("CARGO_PKG_VERSION").to_string(),
        resolution,
        class_map: plan.map.name().to_string(),
        classes: plan.map.classes().to_vec(),
        split: plan.split.to_string(),
        size: plan.size,
        stride: plan.stride,
        min_labelled: plan.min_labelled,
        rois: rois.len(),
        tiles_total: total,
        tiles_written: tiles.len(),
        tiles_dropped: total - tiles.len(),
        megapixels: pixels as f64 / 1e6,
        per_part,
        tiles,
    };
    write_indexes(plan, &parts, &summary)?;
    Ok(summary)
}

/// `out` is absent, or holds nothing but the lock file.
fn check_empty(out: &Path) -> Result<(), TileError> {
    if !out.exists() {
        return Ok(());
    }
    let mut entries = std::fs::read_dir(out).map_err(out_err(out))?;
    if entries.any(|e| e.map_or(true, |e| e.file_name() != LOCK_FILE)) {
        return Err(TileError::NotEmpty(out.to_path_buf()));
    }
    Ok(())
}

fn write_indexes(plan: &TilePlan, parts: &[Part], summary: &TileSummary) -> Result<(), TileError> {
    let mut header = vec!["roi", "x", "y", "labelled_fraction", "image", "mask", "dont_care"];
    header.extend(plan.map.classes().iter().map(|c| c.name.as_str()));
    for &p in parts {
        let rows = summary.tiles.iter().filter(|t| t.part == p).map(|t| {
            let name = t.file_name();
            let mut row = vec![
                t.roi.clone(),
                t.x.to_string(),
                t.y.to_string(),
                format!("{:.6}", t.labelled_fraction),
                format!("images/{name}"),
                format!("masks/{name}"),
            ];
            row.extend(t.counts.iter().map(u64::to_string));
            row
        });
        let s = csv_text(&header, rows);
        let path = plan.out.join(p.as_str()).join("index.csv");
        write_atomic(&path, |w: &mut dyn Write| w.write_all(s.as_bytes())).map_err(out_err(&path))?;
    }
    let mut json = serde_json::to_string_pretty(summary).expect("summary serialises");
    json.push('\n');
    let path = plan.out.join("tiles.json");
    write_atomic(&path, |w: &mut dyn Write| w.write_all(json.as_bytes())).map_err(out_err(&path))?;
    Ok(())
}

struct RoiTiles {
    tiles: Vec<TileRecord>,
    grid_tiles: usize,
    pixels: u64,
}

/// Rows `[top, top + filled)` of the image and of the remapped mask.
struct Band {
    top: usize,
    filled: usize,
    image: Vec<u8>,
    mask: Vec<u8>,
}

fn tile_roi(plan: &TilePlan, r: &RoiInput) -> Result<RoiTiles, TileError> {
    let mask_path = &r.files.mask;
    let image_path = r.files.image.as_deref().expect("checked before");
    let mut mrows = input::open_mask(mask_path)?;
    let mut irows = input::open_image_of(image_path, &mrows)?;
    let (w, h) = (mrows.width(), mrows.height());
    let size = plan.size;
    let grid = TileGrid::new(w, h, size, plan.stride)?;
    let band_rows = size.min(h);
    let mut band = Band { top: 0, filled: 0, image: vec![0; band_rows * w * 3], mask: vec![0; band_rows * w] };
    let mut raw = vec![0u8; w];
    let lut = plan.map.lut();
    let k = plan.map.num_classes();
    let dir = plan.out.join(r.part.as_str());
    let mut tiles = Vec::new();
    let mut tile_mask = vec![0u8; size * size];
    let mut tile_image = vec![0u8; size * size * 3];

    for &y in &grid.ys {
        // Drop rows above y, then read until the band reaches min(y + size, h).
        let drop = y - band.top;
        if drop > 0 {
            let keep = band.filled.saturating_sub(drop);
            band.mask.copy_within(drop.min(band.filled) * w..band.filled * w, 0);
            band.image.copy_within(drop.min(band.filled) * w * 3..band.filled * w * 3, 0);
            band.top = y;
            band.filled = keep;
        }
        let bottom = (y + size).min(h);
        while band.top + band.filled < bottom {
            let row_y = band.top + band.filled;
            input::read_row(&mut mrows, &mut raw, mask_path)?;
            let dst = &mut band.mask[band.filled * w..(band.filled + 1) * w];
            remap_into(&raw, dst, lut).map_err(|b| {
                InputError::new(
                    mask_path,
                    InputProblem::BadValue {
                        value: b.value,
                        x: b.index,
                        y: row_y,
                        expected: "a BCSS code (0..=21)".into(),
                    },
                )
            })?;
            input::read_row(&mut irows, &mut band.image[band.filled * w * 3..(band.filled + 1) * w * 3], image_path)?;
            band.filled += 1;
        }
        let th = bottom - y;
        for &x in &grid.xs {
            let tw = (x + size).min(w) - x;
            // Padding (ROI smaller than a tile) is don't care.
            let counts = tile_counts(&band.mask, w, x, th, size, k);
            let labelled_fraction = labelled_fraction(&counts, size);
            if labelled_fraction < plan.min_labelled {
                continue;
            }
            tile_mask.fill(0);
            for row in 0..th {
                let src = &band.mask[row * w + x..row * w + x + tw];
                tile_mask[row * size..row * size + tw].copy_from_slice(src);
            }
            tile_image.fill(0);
            for row in 0..th {
                let src = &band.image[(row * w + x) * 3..(row * w + x + tw) * 3];
                tile_image[row * size * 3..(row * size + tw) * 3].copy_from_slice(src);
            }
            let rec = TileRecord { part: r.part, roi: r.files.roi_id.clone(), x, y, labelled_fraction, counts };
            let name = rec.file_name();
            write_png(&dir.join("images").join(&name), size, 3, &tile_image, plan.compression)?;
            write_png(&dir.join("masks").join(&name), size, 1, &tile_mask, plan.compression)?;
            tiles.push(rec);
        }
    }
    // Read what is left below the last band so a truncated file is still caught.
    while band.top + band.filled < h {
        input::read_row(&mut mrows, &mut raw, mask_path)?;
        input::read_row(&mut irows, &mut band.image[..w * 3], image_path)?;
        band.filled += 1;
    }
    input::finish(mrows, mask_path)?;
    input::finish(irows, image_path)?;
    Ok(RoiTiles { tiles, grid_tiles: grid.len(), pixels: (w * h) as u64 })
}

/// Writes a tile through the one atomic writer, without the fsync ([`Durability::Rename`]):
/// tiles are derived data that a rerun regenerates, and 30 000 fsyncs would cost more than the
/// encoding; a killed run still never leaves a partial tile under a final name.
fn write_png(
    path: &Path,
    size: usize,
    channels: usize,
    data: &[u8],
    compression: Compression,
) -> Result<(), TileError> {
    write_atomic_with(path, Durability::Rename, |w| {
        write_raw(w, size, size, channels, data, compression).map_err(std::io::Error::from)
    })
    .map(drop)
    .map_err(out_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::png::decode_gray;
    use crate::dataset::pairs::RoiFiles;
    use crate::report::Silent;

    fn write_roi(dir: &Path, id: &str, w: usize, h: usize, mask: impl Fn(usize, usize) -> u8) -> RoiFiles {
        let name = format!("{id}_xmin0_ymin0_MPP-0.2500.png");
        std::fs::create_dir_all(dir.join("images")).unwrap();
        std::fs::create_dir_all(dir.join("masks")).unwrap();
        let m: Vec<u8> = (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| mask(x, y)).collect();
        // Image pixel = (x % 256, y % 256, 7), so a tile's origin can be read back from it.
        let img: Vec<u8> =
            (0..h).flat_map(|y| (0..w).flat_map(move |x| [(x % 256) as u8, (y % 256) as u8, 7])).collect();
        let mut b = Vec::new();
        write_raw(&mut b, w, h, 1, &m, Compression::Fast).unwrap();
        std::fs::write(dir.join("masks").join(&name), b).unwrap();
        let mut b = Vec::new();
        write_raw(&mut b, w, h, 3, &img, Compression::Fast).unwrap();
        std::fs::write(dir.join("images").join(&name), b).unwrap();
        RoiFiles {
            roi_id: id.into(),
            xmin: 0,
            ymin: 0,
            image: Some(dir.join("images").join(&name)),
            mask: dir.join("masks").join(&name),
        }
    }

    #[test]
    fn coverage_of_a_roi_not_a_multiple_of_the_stride() {
        // 25 x 18 ROI, tiles of 8 every 8: xs = [0, 8, 16, 17], ys = [0, 8, 10].
        let d = tempfile::tempdir().unwrap();
        let files = write_roi(d.path(), "R", 25, 18, |x, y| {
            if x < 20 {
                1
            } else if y < 4 {
                2
            } else {
                0
            }
        });
        let map = ClassMap::preset("raw").unwrap();
        let plan = TilePlan {
            size: 8,
            stride: 8,
            min_labelled: 0.0,
            map,
            out: d.path().join("t"),
            compression: Compression::Fast,
            wait_lock: false,
            split: SplitSpec::default(),
        };
        let s = tile(&plan, &[RoiInput { files, part: Part::Train }], &Silent).unwrap();
        let origins: Vec<(usize, usize)> = s.tiles.iter().map(|t| (t.x, t.y)).collect();
        let mut want = Vec::new();
        for y in [0, 8, 10] {
            for x in [0, 8, 16, 17] {
                want.push((x, y));
            }
        }
        assert_eq!(origins, want);
        // Every pixel of the ROI is in some tile.
        let mut covered = vec![false; 25 * 18];
        for t in &s.tiles {
            for yy in t.y..t.y + 8 {
                for xx in t.x..t.x + 8 {
                    covered[yy * 25 + xx] = true;
                }
            }
        }
        assert!(covered.iter().all(|&c| c));
        // The last tile (17, 10): x 17..25, y 10..18: x < 20 -> 3 columns of class 1, rest 0.
        let last = s.tiles.last().unwrap();
        assert_eq!(last.counts[..3], [40, 24, 0]);
        assert!((last.labelled_fraction - 24.0 / 64.0).abs() < 1e-12);
        let m = decode_gray(&std::fs::read(d.path().join("t/train/masks/R_x17_y10.png")).unwrap()).unwrap();
        assert_eq!(&m.data[..8], &[1, 1, 1, 0, 0, 0, 0, 0]);
        let img = crate::codec::png::decode_rgb(&std::fs::read(d.path().join("t/train/images/R_x17_y10.png")).unwrap())
            .unwrap();
        assert_eq!(&img.data[..3], &[17, 10, 7]);
        // Tile (16, 0): x 16..24, y 0..8: columns 16..20 class 1; columns 20..24 code 2 on rows 0..4.
        let t = s.tiles.iter().find(|t| (t.x, t.y) == (16, 0)).unwrap();
        assert_eq!(t.counts[..3], [16, 32, 16]);
        let index = std::fs::read_to_string(d.path().join("t/train/index.csv")).unwrap();
        assert_eq!(index.lines().count(), 13);
        assert!(index.contains("\nR,17,10,0.375000,images/R_x17_y10.png,masks/R_x17_y10.png,40,24,0,"), "{index}");
    }

    #[test]
    fn threshold_padding_and_remap() {
        // 6 x 5 ROI, tile 8: one padded tile; main5 maps 19 -> 1 and 7 -> don't care.
        let d = tempfile::tempdir().unwrap();
        let files = write_roi(d.path(), "S", 6, 5, |x, _| if x < 3 { 19 } else { 7 });
        let map = ClassMap::preset("main5").unwrap();
        let mut plan = TilePlan {
            size: 8,
            stride: 4,
            min_labelled: 0.5,
            map,
            out: d.path().join("t"),
            compression: Compression::Fast,
            wait_lock: false,
            split: SplitSpec::default(),
        };
        let rois = [RoiInput { files, part: Part::Test }];
        let s = tile(&plan, &rois, &Silent).unwrap();
        // 15 labelled of 64: dropped.
        assert_eq!((s.tiles_total, s.tiles_written, s.tiles_dropped), (1, 0, 1));
        plan.min_labelled = 0.2;
        plan.out = d.path().join("u");
        let s = tile(&plan, &rois, &Silent).unwrap();
        assert_eq!(s.tiles[0].counts, vec![49, 15, 0, 0, 0, 0]);
        let m = decode_gray(&std::fs::read(d.path().join("u/test/masks/S_x0_y0.png")).unwrap()).unwrap();
        assert_eq!((m.width, m.height), (8, 8));
        assert_eq!(&m.data[..8], &[1, 1, 1, 0, 0, 0, 0, 0]);
        assert!(m.data[5 * 8..].iter().all(|&v| v == 0));
        assert!(matches!(tile(&plan, &rois, &Silent), Err(TileError::NotEmpty(_))));
    }
}
