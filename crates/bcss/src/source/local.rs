//! Whole-slide images on the local disk, read through OpenSlide the way a DSA reads them.
//!
//! A DSA serves `.svs` slides through large_image's OpenSlide tile source. To give the same
//! pixels from the same file, this module repeats what that source and `getRegion` do:
//!
//! - **Geometry** ([`LocalSlide::geometry`], spec 2.1): the usable OpenSlide levels (each probed
//!   with a 1x1 read, sorted by area, kept only when nearly a power of two smaller than the
//!   largest), base size from the largest, tile size from `openslide.level[0].tile-width/height`
//!   (256 when missing, below 4, or of aspect 4 or more), `levels = ceil(log2(max(size/tile))) + 1`,
//!   `mm_x = openslide.mpp-x * 0.001`, magnification from `openslide.objective-power` (else
//!   `0.01 / mm_x`), and the `openslide.bounds-*` rectangle when it is a strict sub-rectangle.
//! - **Level** ([`LocalSlide::preferred_level`]): large_image's power-of-two level `z` maps to
//!   the lowest-resolution OpenSlide level with at least as many pixels; where none matches
//!   exactly it *synthesises* the level by reading a larger area of a higher-resolution level and
//!   resizing each tile with LANCZOS. The region endpoint never uses those synthetic levels: the
//!   OpenSlide source's `getPreferredLevel` moves up to the next level with real data (scale 1),
//!   so a region is always read from a real OpenSlide level. bcss does the same; the synthetic
//!   tiles (used by large_image only for `tiles/zxy`) are not needed.
//! - **Tiles**: the region is read tile by tile exactly as `getTile` addresses them: tile
//!   `(x, y)` of level `z` starts at base `x * tileWidth * 2^(L - z)` (+ bounds origin), and when
//!   OpenSlide's downsample of that level is not the exact power of two (e.g. 16.0085 for a
//!   937-pixel level of a 15000-pixel slide) the address and size are multiplied by
//!   `downsample / 2^(L - z)` and rounded, as large_image does to undo OpenSlide's own rounding.
//!   When the downsample is exact, a whole row of tiles is read in one call: same pixels, fewer
//!   calls.
//! - **Colour**: OpenSlide gives premultiplied ARGB (bytes B, G, R, A on little-endian). Opaque
//!   pixels are copied; others are un-premultiplied with openslide-python's integer rule
//!   `255 * c / a`; fully transparent pixels take `openslide.background-color` when the slide has
//!   one (as large_image does), else stay black. Alpha is then dropped (a JPEG region is RGB).
//! - **Resize**: when the output size differs from the region at the read level, the rows are fed
//!   to [`Resampler`] (Pillow's BICUBIC when enlarging,
//!   LANCZOS otherwise) strip by strip, and output rows are handed on as soon as they are made
//!   ([`LocalSlide::read_rows`]), so a 12000 x 11000 ROI never exists whole, neither at full
//!   resolution nor at the output's: memory is a few tile strips and the resampler's rolling
//!   window. Strips are read and resampled on several rayon threads at once, so one large ROI
//!   uses every core; the pixels do not depend on how many.
//!
//! Invariant: reads slide files, writes nothing.

use std::path::{Path, PathBuf};

use openslide_rs::{Address, OpenSlide, Region, Size};

use crate::model::{Rect, RgbImage, SlideGeometry};
use crate::transform::pillow::{filter_for, rows_needed, Resampler};
use crate::transform::region::region_at_level;

/// File extensions tried when looking for a slide (lower case, compared case-insensitively).
pub const SLIDE_EXTENSIONS: &[&str] = &["svs", "tif", "tiff", "ndpi", "mrxs", "vms", "vmu", "scn", "bif", "svslide"];

/// Why a local slide could not be found, opened or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// The slides directory cannot be listed.
    #[error("cannot list slides directory `{path}`")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// No file matches the slide.
    #[error("no slide file for `{name}` in `{dir}` (looked for `{name}*` with extension {})", SLIDE_EXTENSIONS.join(", "))]
    NotFound {
        /// The slide name looked for.
        name: String,
        /// The directory.
        dir: PathBuf,
    },
    /// Several files match the slide.
    #[error("several slide files match `{name}`: {}; keep one or rename the others", candidates.join(", "))]
    Ambiguous {
        /// The slide name looked for.
        name: String,
        /// The matching file names.
        candidates: Vec<String>,
    },
    /// The slide file cannot be opened, or is not a regular file (a FIFO would block OpenSlide).
    #[error("cannot open slide file `{path}`")]
    File {
        /// The slide file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// OpenSlide refused the file or a read failed.
    #[error("OpenSlide cannot read `{path}`")]
    OpenSlide {
        /// The slide file.
        path: PathBuf,
        /// OpenSlide's error.
        #[source]
        source: openslide_rs::errors::OpenSlideError,
    },
    /// What OpenSlide gave is unusable: a geometry, a level's downsample, a region's buffer.
    #[error("OpenSlide cannot read `{path}`: {reason}")]
    Unusable {
        /// The slide file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The slide has no readable level.
    #[error("`{path}` has no readable pyramid level")]
    NoLevels {
        /// The slide file.
        path: PathBuf,
    },
    /// The region does not fit the slide or the level.
    #[error("region {region:?} cannot be read from `{path}`: {reason}")]
    BadRegion {
        /// The slide file.
        path: PathBuf,
        /// The region in base pixels.
        region: Rect,
        /// Why.
        reason: String,
    },
}

/// The slide files of a directory, listed once.
#[derive(Debug, Clone)]
pub struct SlideDir {
    dir: PathBuf,
    /// File names with a slide extension, sorted.
    files: Vec<String>,
}

fn has_slide_extension(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && SLIDE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)))
}

fn stem(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

impl SlideDir {
    /// Lists the slide files (by extension) directly inside `dir`.
    pub fn scan(dir: &Path) -> Result<SlideDir, LocalError> {
        let err = |source| LocalError::Dir { path: dir.to_path_buf(), source };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(err)? {
            let entry = entry.map_err(err)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if has_slide_extension(&name) && entry.path().is_file() {
                files.push(name);
            }
        }
        files.sort();
        Ok(SlideDir { dir: dir.to_path_buf(), files })
    }

    /// Builds a listing from names (tests).
    pub fn from_names(dir: &Path, names: &[&str]) -> SlideDir {
        let mut files: Vec<String> = names.iter().filter(|n| has_slide_extension(n)).map(|n| n.to_string()).collect();
        files.sort();
        SlideDir { dir: dir.to_path_buf(), files }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Finds the file of a slide. `full_name` is the DSA item name when known
    /// (`TCGA-A1-A0SK-01Z-00-DX1.<UUID>.svs`): a file with that name, or that stem and any slide
    /// extension, wins. Otherwise every file whose name starts with the 12-character
    /// `short_name` is a candidate; exactly one must exist.
    pub fn find(&self, short_name: &str, full_name: Option<&str>) -> Result<PathBuf, LocalError> {
        if let Some(full) = full_name {
            let full_stem = if has_slide_extension(full) { stem(full) } else { full };
            let exact: Vec<&String> =
                self.files.iter().filter(|f| f.as_str() == full || stem(f) == full_stem).collect();
            match exact.as_slice() {
                [one] => return Ok(self.dir.join(one)),
                [] => {}
                many => {
                    return Err(LocalError::Ambiguous {
                        name: full.to_string(),
                        candidates: many.iter().map(|s| s.to_string()).collect(),
                    })
                }
            }
        }
        let prefix: Vec<&String> = self.files.iter().filter(|f| f.starts_with(short_name)).collect();
        match prefix.as_slice() {
            [one] => Ok(self.dir.join(one)),
            [] => Err(LocalError::NotFound { name: short_name.to_string(), dir: self.dir.clone() }),
            many => Err(LocalError::Ambiguous {
                name: short_name.to_string(),
                candidates: many.iter().map(|s| s.to_string()).collect(),
            }),
        }
    }
}

/// How large_image reads one of its power-of-two levels from OpenSlide.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LevelSource {
    /// The OpenSlide level.
    svs_level: u32,
    /// Integer ratio between the OpenSlide level and the wanted level (1 = real data).
    scale: u64,
    /// Correction of addresses for OpenSlide's inexact downsample, times `scale`.
    svs_scale: f64,
}

/// A rectangle of one OpenSlide level, in that level's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelRect {
    /// The OpenSlide level.
    pub level: u32,
    /// The pixels (right and bottom exclusive).
    pub rect: Rect,
}

/// One OpenSlide `read_region` call of a region read, and where its pixels go.
#[derive(Debug, Clone, Copy)]
struct ReadOp {
    /// Level-0 address (OpenSlide's convention).
    x: u64,
    y: u64,
    /// Size in level pixels.
    w: u64,
    h: u64,
    /// The part of the read copied into the strip.
    src_x: usize,
    src_y: usize,
    copy_w: usize,
    copy_h: usize,
    /// Column of the strip it goes to.
    dst_x: usize,
}

/// One row of tiles of a region read.
#[derive(Debug)]
struct Strip {
    /// First row of the strip in the level region.
    y0: usize,
    height: usize,
    reads: Vec<ReadOp>,
}

/// Every read of a region, before anything is read.
#[derive(Debug)]
struct ReadPlan {
    svs_level: u32,
    /// The region at the read level.
    width: usize,
    height: usize,
    filter: crate::transform::pillow::Filter,
    strips: Vec<Strip>,
}

/// An OpenSlide level that can be read.
#[derive(Debug, Clone, Copy)]
struct Available {
    level: u32,
    width: u64,
    height: u64,
    downsample: f64,
}

/// A slide file opened with OpenSlide, with large_image's view of its geometry.
#[derive(Debug)]
pub struct LocalSlide {
    path: PathBuf,
    slide: OpenSlide,
    geometry: SlideGeometry,
    levels: Vec<LevelSource>,
    bounds_origin: (u64, u64),
    background: Option<[u8; 3]>,
}

/// RGB bytes of tile strips (at the read level) one region read holds at once, beyond the strip
/// each thread is working on: 32 MiB is 3 strips of the widest BCSS ROI at 256-pixel tiles.
pub const STRIPS_IN_FLIGHT_BYTES: usize = 32 << 20;

/// `f` on `pool`, or where it is called (rayon's global pool for its parallel parts).
fn on_pool<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// Python's `round()` on a float: ties to even.
fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    }
}

/// large_image's `nearPowerOfTwo(v1, v2, tolerance=0.02)`.
fn near_power_of_two(v1: f64, v2: f64) -> bool {
    if v1 * v2 <= 0.0 {
        return false;
    }
    let r = (v1 / v2).ln() / std::f64::consts::LN_2;
    (r - round_half_even(r)).abs() < 0.02
}

fn levels_for(size_x: u64, size_y: u64, tile_w: u64, tile_h: u64) -> i64 {
    let a = (size_x as f64 / tile_w as f64).ln();
    let b = (size_y as f64 / tile_h as f64).ln();
    (a.max(b) / std::f64::consts::LN_2).ceil() as i64 + 1
}

impl LocalSlide {
    /// Opens a slide file and derives its geometry as large_image's OpenSlide source does.
    pub fn open(path: &Path) -> Result<LocalSlide, LocalError> {
        let os_err = |source| LocalError::OpenSlide { path: path.to_path_buf(), source };
        // OpenSlide opens by path and would wait forever on a FIFO: the file is checked first
        // (a FIFO put in its place between the two is the user's own doing, not a file's).
        crate::files::open_read(path).map_err(|source| LocalError::File { path: path.to_path_buf(), source })?;
        let slide = OpenSlide::new(path).map_err(os_err)?;
        let prop = |name: &str| slide.property_value(name).ok();

        // _getAvailableLevels: probe each level, sort by area (ties: lower index first), keep
        // levels nearly a power of two smaller than the largest.
        let mut avail: Vec<Available> = Vec::new();
        for level in 0..slide.level_count() {
            let Ok(size) = slide.level_dimensions(level) else { continue };
            let probe =
                slide.read_region(&Region { address: Address { x: 0, y: 0 }, level, size: Size { w: 1, h: 1 } });
            if probe.is_err() || size.w == 0 || size.h == 0 {
                continue;
            }
            let downsample = slide.level_downsample(level).unwrap_or(0.0);
            avail.push(Available { level, width: u64::from(size.w), height: u64::from(size.h), downsample });
        }
        avail.sort_by(|a, b| (b.width * b.height).cmp(&(a.width * a.height)).then(a.level.cmp(&b.level)));
        let Some(first) = avail.first().copied() else { return Err(LocalError::NoLevels { path: path.to_path_buf() }) };
        avail.retain(|l| {
            near_power_of_two(first.width as f64, l.width as f64)
                && near_power_of_two(first.height as f64, l.height as f64)
        });
        let (mut size_x, mut size_y) = (first.width, first.height);

        // _getTileSize.
        let parse_tile = |name: &str| prop(name).and_then(|v| v.trim().parse::<i64>().ok());
        let mut tw = parse_tile("openslide.level[0].tile-width").unwrap_or(256);
        let mut th = parse_tile("openslide.level[0].tile-height").unwrap_or(256);
        if tw < 4 {
            tw = 256;
        }
        if th < 4 {
            th = 256;
        }
        if tw.max(th) as f64 / tw.min(th) as f64 >= 4.0 {
            tw = 256;
            th = 256;
        }
        let tile_w = (tw as u64).min(size_x);
        let tile_h = (th as u64).min(size_y);

        let mut n_levels = levels_for(size_x, size_y, tile_w, tile_h);
        if n_levels < 1 {
            return Err(LocalError::NoLevels { path: path.to_path_buf() });
        }
        let mut levels = Vec::new();
        for level in 0..n_levels {
            let levelpow = 2f64.powi((n_levels - 1 - level) as i32);
            let level_w = (size_x as f64 / levelpow).max(1.0);
            let level_h = (size_y as f64 / levelpow).max(1.0);
            let mut best = avail[0].level;
            let mut scale = 1u64;
            let mut svsscale = 0.0;
            for a in &avail {
                if (a.width as f64) < level_w - 1.0 || (a.height as f64) < level_h - 1.0 {
                    break;
                }
                best = a.level;
                scale = round_half_even(a.width as f64 / level_w) as u64;
                svsscale = a.downsample;
            }
            let svs_scale = if svsscale != 0.0 { svsscale / levelpow } else { 1.0 } * scale as f64;
            levels.push(LevelSource { svs_level: best, scale, svs_scale });
        }

        let mut bounds_origin = (0, 0);
        let bound = |k: &str| prop(k).and_then(|v| v.trim().parse::<i64>().ok());
        if let (Some(bx), Some(by), Some(bw), Some(bh)) = (
            bound("openslide.bounds-x"),
            bound("openslide.bounds-y"),
            bound("openslide.bounds-width"),
            bound("openslide.bounds-height"),
        ) {
            let (sx, sy) = (size_x as i64, size_y as i64);
            if bx >= 0 && bw > 0 && bx + bw <= sx && by >= 0 && bh > 0 && by + bh <= sy && (bw < sx || bh < sy) {
                bounds_origin = (bx as u64, by as u64);
                size_x = bw as u64;
                size_y = bh as u64;
                let prev = n_levels;
                n_levels = levels_for(size_x, size_y, tile_w, tile_h);
                levels.drain(..(prev - n_levels) as usize);
            }
        }

        let background = prop("openslide.background-color").and_then(|hex| {
            let hex = hex.trim();
            let c = |i: usize| hex.get(i..i + 2).and_then(|s| u8::from_str_radix(s, 16).ok());
            Some([c(0)?, c(2)?, c(4)?])
        });

        // getNativeMagnification.
        let mag = prop("openslide.objective-power").and_then(|v| v.trim().parse::<f64>().ok());
        let (mm_x, mm_y) = match (
            prop("openslide.mpp-x").and_then(|v| v.trim().parse::<f64>().ok()),
            prop("openslide.mpp-y").and_then(|v| v.trim().parse::<f64>().ok()),
        ) {
            (Some(x), Some(y)) => (Some(x * 0.001), Some(y * 0.001)),
            _ => (None, None),
        };
        let magnification = mag.or(mm_x.map(|mm| 0.01 / mm));

        let geometry = SlideGeometry {
            size_x,
            size_y,
            tile_width: tile_w,
            tile_height: tile_h,
            levels: n_levels as u32,
            magnification,
            mm_x,
            mm_y,
        };
        geometry.check().map_err(|reason| LocalError::Unusable { path: path.to_path_buf(), reason })?;
        Ok(LocalSlide { path: path.to_path_buf(), slide, geometry, levels, bounds_origin, background })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The slide's geometry, as `GET item/{id}/tiles` would report it.
    pub fn geometry(&self) -> &SlideGeometry {
        &self.geometry
    }

    /// The OpenSlide source's `getPreferredLevel`: clamp to the pyramid, then move towards full
    /// resolution until the level has real data (no synthesis).
    pub fn preferred_level(&self, level: u32) -> u32 {
        let mut level = level.min(self.geometry.levels - 1);
        let mut scale = self.levels[level as usize].scale;
        while scale > 1 {
            level += 1;
            scale /= 2;
        }
        level
    }

    /// The OpenSlide level and downsample large_image reads its level `level` from (for logs
    /// and tests).
    pub fn level_source(&self, level: u32) -> (u32, u64, f64) {
        let s = self.levels[level as usize];
        (s.svs_level, s.scale, s.svs_scale)
    }

    /// The OpenSlide reads [`LocalSlide::read_region`] makes for this region, strip by strip,
    /// without reading anything: what a reader of a partial copy of the file must have.
    fn plan_reads(&self, region: Rect, wanted_level: u32, out_w: u64, out_h: u64) -> Result<ReadPlan, LocalError> {
        let g = &self.geometry;
        let bad = |reason: String| LocalError::BadRegion { path: self.path.clone(), region, reason };
        if region.right > g.size_x
            || region.bottom > g.size_y
            || region.width() == 0
            || region.height() == 0
            || out_w == 0
            || out_h == 0
        {
            return Err(bad(format!("the slide is {}x{} and the output {out_w}x{out_h}", g.size_x, g.size_y)));
        }
        let l = g.levels - 1;
        let level =
            if (out_w, out_h) == (region.width(), region.height()) { l } else { self.preferred_level(wanted_level) };
        let lr = region_at_level(region, g.levels, level);
        let (lw, lh) = (lr.width() as usize, lr.height() as usize);
        let source = self.levels[level as usize];
        debug_assert_eq!(source.scale, 1, "preferred levels hold real data");
        let filter = filter_for(lw, out_w as usize);
        let rows = rows_needed(lh, out_h as usize, filter);
        let (tw, th) = (g.tile_width, g.tile_height);
        let level_pow = 1u64 << (l - level);
        let first_tile_row = (lr.top + rows.start as u64) / th;
        let last_tile_row = (lr.top + rows.end as u64).div_ceil(th);
        let first_tile_col = lr.left / tw;
        let last_tile_col = lr.right.div_ceil(tw);
        let mut strips = Vec::new();
        for ty in first_tile_row..last_tile_row {
            // Rows of this tile row inside the level region.
            let y0 = (ty * th).max(lr.top);
            let y1 = ((ty + 1) * th).min(lr.bottom);
            let strip_h = (y1 - y0) as usize;
            let mut reads = Vec::new();
            if source.svs_scale == 1.0 {
                // Exact downsample: one read for the whole row of tiles.
                reads.push(ReadOp {
                    x: lr.left * level_pow + self.bounds_origin.0,
                    y: y0 * level_pow + self.bounds_origin.1,
                    w: lw as u64,
                    h: strip_h as u64,
                    src_x: 0,
                    src_y: 0,
                    copy_w: lw,
                    copy_h: strip_h,
                    dst_x: 0,
                });
            } else {
                for tx in first_tile_col..last_tile_col {
                    let tile_w = tw as f64 * source.svs_scale;
                    let tile_h = th as f64 * source.svs_scale;
                    let ox =
                        round_half_even((tx * tw * level_pow + self.bounds_origin.0) as f64 * source.svs_scale) as u64;
                    let oy =
                        round_half_even((ty * th * level_pow + self.bounds_origin.1) as f64 * source.svs_scale) as u64;
                    let (rw, rh) = (round_half_even(tile_w) as u64, round_half_even(tile_h) as u64);
                    // The part of this tile inside the region and the strip.
                    let x0 = (tx * tw).max(lr.left);
                    let x1 = ((tx + 1) * tw).min(lr.right).min(tx * tw + rw);
                    let sy0 = y0 - ty * th;
                    let copy_h = (strip_h as u64).min(rh.saturating_sub(sy0)) as usize;
                    if x1 <= x0 {
                        continue;
                    }
                    reads.push(ReadOp {
                        x: ox,
                        y: oy,
                        w: rw,
                        h: rh,
                        src_x: (x0 - tx * tw) as usize,
                        src_y: sy0 as usize,
                        copy_w: (x1 - x0) as usize,
                        copy_h,
                        dst_x: (x0 - lr.left) as usize,
                    });
                }
            }
            strips.push(Strip { y0: (y0 - lr.top) as usize, height: strip_h, reads });
        }
        Ok(ReadPlan { svs_level: source.svs_level, width: lw, height: lh, filter, strips })
    }

    /// The rectangles of OpenSlide level pixels that reading `region` at `out_w x out_h`
    /// touches, with margin for OpenSlide's own rounding of level coordinates (one pixel before,
    /// two after: the end it computes in floating point can round up past the integer one).
    pub fn region_footprint(
        &self,
        region: Rect,
        wanted_level: u32,
        out_w: u64,
        out_h: u64,
    ) -> Result<Vec<LevelRect>, LocalError> {
        let plan = self.plan_reads(region, wanted_level, out_w, out_h)?;
        let downsample = self
            .slide
            .level_downsample(plan.svs_level)
            .map_err(|source| LocalError::OpenSlide { path: self.path.clone(), source })?;
        if !(downsample.is_finite() && downsample > 0.0) {
            return Err(LocalError::Unusable {
                path: self.path.clone(),
                reason: format!("level {} has downsample {downsample}", plan.svs_level),
            });
        }
        Ok(plan
            .strips
            .iter()
            .flat_map(|s| &s.reads)
            .map(|r| {
                let left = (r.x as f64 / downsample).floor() as u64;
                let top = (r.y as f64 / downsample).floor() as u64;
                LevelRect {
                    level: plan.svs_level,
                    rect: Rect {
                        left: left.saturating_sub(1),
                        top: top.saturating_sub(1),
                        // OpenSlide computes `x / downsample + w` in floating point: one more
                        // pixel than the integer sum when the quotient rounds up.
                        right: left + r.w + 2,
                        bottom: top + r.h + 2,
                    },
                }
            })
            .collect())
    }

    /// The size of each OpenSlide level, in level pixels.
    pub fn level_sizes(&self) -> Vec<(u64, u64)> {
        (0..self.slide.level_count())
            .map(|l| self.slide.level_dimensions(l).map_or((0, 0), |s| (u64::from(s.w), u64::from(s.h))))
            .collect()
    }

    /// Reads `region` (base pixels, inside the slide) at output size `out_w x out_h`, as
    /// large_image's `getRegion` does: `wanted_level` is step D's level before
    /// `getPreferredLevel` ([`RegionPlan::read_level`](crate::transform::RegionPlan)). The whole
    /// image at once: [`LocalSlide::read_rows`] collected.
    pub fn read_region(&self, region: Rect, wanted_level: u32, out_w: u64, out_h: u64) -> Result<RgbImage, LocalError> {
        let mut data = Vec::with_capacity((out_w * out_h * 3) as usize);
        self.read_rows(region, wanted_level, out_w, out_h, None, &mut |rows: &[u8]| {
            data.extend_from_slice(rows);
            Ok::<(), LocalError>(())
        })?;
        Ok(RgbImage { width: out_w as usize, height: out_h as usize, data })
    }

    /// [`LocalSlide::read_region`] handed to `sink` top to bottom, a band of whole output rows at
    /// a time, as they are made: the region never exists whole. A few tile strips are read at
    /// once (one per thread, at most `STRIPS_IN_FLIGHT_BYTES` of them), each read, converted
    /// and resampled across on its own rayon thread; the output rows are then made in parallel
    /// from the rolling window (`Resampler`). Parallel work runs on `pool` (rayon's global pool
    /// when `None`); `sink` is called on the caller's thread.
    pub fn read_rows<E: From<LocalError>>(
        &self,
        region: Rect,
        wanted_level: u32,
        out_w: u64,
        out_h: u64,
        pool: Option<&rayon::ThreadPool>,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        use rayon::prelude::*;
        let plan = self.plan_reads(region, wanted_level, out_w, out_h)?;
        let mut resampler = Resampler::new(plan.width, plan.height, out_w as usize, out_h as usize, plan.filter);
        let threads = pool.map_or_else(rayon::current_num_threads, |p| p.current_num_threads()).max(1);
        let strip_bytes = plan.width * plan.strips.first().map_or(1, |s| s.height) * 3;
        let batch = (STRIPS_IN_FLIGHT_BYTES / strip_bytes.max(1)).clamp(1, threads);
        let mut band = Vec::new();
        for group in plan.strips.chunks(batch) {
            let r = &resampler;
            let strips: Vec<Result<Vec<u8>, LocalError>> = on_pool(pool, || {
                group
                    .par_iter()
                    .map(|s| {
                        let rgb = self.read_strip(&plan, s)?;
                        let across = r.horizontal(s.y0, &rgb);
                        // Unchanged width and every row used: the strip itself, not a copy.
                        let whole = matches!(&across, std::borrow::Cow::Borrowed(b) if b.len() == rgb.len());
                        Ok(if whole {
                            drop(across);
                            rgb
                        } else {
                            across.into_owned()
                        })
                    })
                    .collect()
            });
            for (s, rows) in group.iter().zip(strips) {
                resampler.push_horizontal(s.y0, rows?);
                while on_pool(pool, || resampler.take_ready(&mut band)) > 0 {
                    sink(&band)?;
                }
            }
        }
        if !resampler.is_done() {
            let reason = "the tile strips read do not cover every output row".to_string();
            return Err(LocalError::BadRegion { path: self.path.clone(), region, reason }.into());
        }
        Ok(())
    }

    /// One strip of the plan: its reads, converted to RGB (`plan.width x strip.height`).
    fn read_strip(&self, plan: &ReadPlan, s: &Strip) -> Result<Vec<u8>, LocalError> {
        let lw = plan.width;
        let mut strip = vec![0u8; lw * s.height * 3];
        for r in &s.reads {
            let argb = self.read(r.x, r.y, plan.svs_level, r.w, r.h)?;
            if (r.src_x, r.src_y, r.copy_w, r.copy_h) == (0, 0, r.w as usize, r.h as usize) {
                self.convert_into(&argb, r.copy_w, r.copy_h, r.dst_x, 0, &mut strip, lw);
                continue;
            }
            let row_px = r.w as usize;
            let sub: Vec<u8> = (0..r.copy_h)
                .flat_map(|row| {
                    let start = ((r.src_y + row) * row_px + r.src_x) * 4;
                    argb[start..start + r.copy_w * 4].iter().copied()
                })
                .collect();
            self.convert_into(&sub, r.copy_w, r.copy_h, r.dst_x, 0, &mut strip, lw);
        }
        Ok(strip)
    }

    fn read(&self, x: u64, y: u64, level: u32, w: u64, h: u64) -> Result<Vec<u8>, LocalError> {
        let to32 = |v: u64| {
            u32::try_from(v).map_err(|_| LocalError::Unusable {
                path: self.path.clone(),
                reason: format!("coordinate {v} exceeds 32 bits"),
            })
        };
        let region =
            Region { address: Address { x: to32(x)?, y: to32(y)? }, level, size: Size { w: to32(w)?, h: to32(h)? } };
        let buf = self
            .slide
            .read_region(&region)
            .map_err(|source| LocalError::OpenSlide { path: self.path.clone(), source })?;
        if buf.len() != (w * h * 4) as usize {
            return Err(LocalError::Unusable {
                path: self.path.clone(),
                reason: format!("read_region returned {} bytes for {w}x{h}", buf.len()),
            });
        }
        Ok(buf)
    }

    /// Converts premultiplied BGRA (`w x h`) to RGB into `dst` (row stride `dst_w` pixels) at
    /// `(dx, dy)`.
    #[expect(clippy::too_many_arguments, reason = "a blit: source, size, position, destination")]
    fn convert_into(&self, bgra: &[u8], w: usize, h: usize, dx: usize, dy: usize, dst: &mut [u8], dst_w: usize) {
        for r in 0..h {
            let src = &bgra[r * w * 4..(r + 1) * w * 4];
            let d = &mut dst[((dy + r) * dst_w + dx) * 3..((dy + r) * dst_w + dx + w) * 3];
            for (p, o) in src.chunks_exact(4).zip(d.chunks_exact_mut(3)) {
                let [b, g, red, a] = [p[0], p[1], p[2], p[3]];
                let rgb = unpremultiply([red, g, b], a, self.background);
                o.copy_from_slice(&rgb);
            }
        }
    }
}

/// openslide-python's `argb2rgba` plus large_image's background fill, alpha dropped.
fn unpremultiply(rgb: [u8; 3], a: u8, background: Option<[u8; 3]>) -> [u8; 3] {
    match a {
        255 => rgb,
        0 => background.unwrap_or(rgb),
        a => rgb.map(|c| (255 * u32::from(c) / u32::from(a)) as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_slides_by_full_or_short_name() {
        let d = SlideDir::from_names(
            Path::new("/slides"),
            &[
                "TCGA-A1-A0SK-01Z-00-DX1.A44D.svs",
                "TCGA-A2-A0CM-01Z-00-DX1.tif",
                "TCGA-A2-A0CM-01Z-00-DX2.ndpi",
                "TCGA-AR-A1AQ.notes.txt",
                "README",
            ],
        );
        assert_eq!(d.find("TCGA-A1-A0SK", None).unwrap(), Path::new("/slides/TCGA-A1-A0SK-01Z-00-DX1.A44D.svs"));
        assert_eq!(
            d.find("TCGA-A1-A0SK", Some("TCGA-A1-A0SK-01Z-00-DX1.A44D.svs")).unwrap(),
            Path::new("/slides/TCGA-A1-A0SK-01Z-00-DX1.A44D.svs")
        );
        assert_eq!(
            d.find("TCGA-A2-A0CM", Some("TCGA-A2-A0CM-01Z-00-DX2.svs")).unwrap(),
            Path::new("/slides/TCGA-A2-A0CM-01Z-00-DX2.ndpi"),
            "same stem, other extension"
        );
        let err = d.find("TCGA-A2-A0CM", None).unwrap_err().to_string();
        assert!(err.contains("TCGA-A2-A0CM-01Z-00-DX1.tif") && err.contains("TCGA-A2-A0CM-01Z-00-DX2.ndpi"), "{err}");
        let err = d.find("TCGA-AR-A1AQ", None).unwrap_err().to_string();
        assert!(err.contains("no slide file for `TCGA-AR-A1AQ`"), "{err}");
    }

    #[test]
    fn a_file_openslide_refuses_keeps_its_error_as_the_cause() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("notes.svs");
        std::fs::write(&path, "not a slide").unwrap();
        let err = LocalSlide::open(&path).err().unwrap();
        assert!(matches!(err, LocalError::OpenSlide { .. }), "{err:?}");
        let chain = crate::report::error_chain(&err);
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert_eq!(chain, format!("OpenSlide cannot read `{}`: {cause}", path.display()));
    }

    #[test]
    fn a_fifo_named_like_a_slide_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("TCGA-A1-A0SK-01Z-00-DX1.svs");
        assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
        let err = LocalSlide::open(&path).err().unwrap();
        assert!(matches!(err, LocalError::File { .. }), "{err:?}");
        assert!(crate::report::error_chain(&err).ends_with("it is a FIFO, not a regular file"), "{err}");
    }

    #[test]
    fn python_rounding_and_powers_of_two() {
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        assert_eq!(round_half_even(-0.5), -0.0);
        assert_eq!(round_half_even(256.07), 256.0);
        assert!(near_power_of_two(20000.0, 5000.0));
        assert!(near_power_of_two(15000.0, 937.0));
        assert!(!near_power_of_two(20000.0, 6000.0));
    }

    #[test]
    fn unpremultiplies_like_openslide_python() {
        assert_eq!(unpremultiply([10, 20, 30], 255, None), [10, 20, 30]);
        assert_eq!(unpremultiply([50, 100, 127], 128, None), [99, 199, 253]);
        assert_eq!(unpremultiply([0, 0, 0], 0, Some([255, 250, 240])), [255, 250, 240]);
        assert_eq!(unpremultiply([0, 0, 0], 0, None), [0, 0, 0]);
    }

    fn fixture_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slide")
    }

    #[test]
    fn geometry_matches_large_image() {
        // tests/fixtures/slide/cases.txt records large_image's getMetadata() of the fixture.
        let slide = LocalSlide::open(&fixture_dir().join("TCGA-SY-TEST-01Z-00-DX1.FIXTURE.svs")).unwrap();
        let g = slide.geometry();
        assert_eq!((g.size_x, g.size_y, g.tile_width, g.tile_height, g.levels), (3000, 2000, 256, 256, 5));
        assert_eq!((g.magnification, g.mm_x, g.mm_y), (Some(40.0), Some(0.00025), Some(0.00025)));
        // Level 3 (downsample 2) has no data: large_image would synthesise it from level 4.
        assert_eq!(slide.level_source(3).1, 2);
        assert_eq!(slide.preferred_level(3), 4);
        assert_eq!(slide.level_source(2), (1, 1, 1.0), "downsample 4 is OpenSlide level 1, exact");
        let (svs, scale, corr) = slide.level_source(0);
        assert_eq!((svs, scale), (2, 1));
        assert!(corr != 1.0 && (corr - 1.0).abs() < 0.01, "188-pixel level: inexact downsample, {corr}");
    }

    /// Per-channel max and mean absolute difference.
    pub(crate) fn diff(a: &[u8], b: &[u8]) -> (u8, f64) {
        assert_eq!(a.len(), b.len());
        let max = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        let sum: u64 = a.iter().zip(b).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
        (max, sum as f64 / a.len().max(1) as f64)
    }

    #[test]
    fn regions_match_large_image_get_region() {
        use crate::transform::{plan_region, ScaleRequest};
        let dir = fixture_dir();
        let slide = LocalSlide::open(&dir.join("TCGA-SY-TEST-01Z-00-DX1.FIXTURE.svs")).unwrap();
        let cases = std::fs::read_to_string(dir.join("cases.txt")).unwrap();
        let mut n = 0;
        for line in cases.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let num = |i: usize| f[i].parse::<u64>().unwrap();
            let rect = Rect { left: num(1), top: num(2), right: num(3), bottom: num(4) };
            let v: f64 = f[6].parse().unwrap();
            let request = match f[5] {
                "mpp" => ScaleRequest::Mm { mm_x: v * 0.001, mm_y: v * 0.001 },
                "mag" => ScaleRequest::Magnification(v),
                _ => ScaleRequest::Base,
            };
            let plan = plan_region(slide.geometry(), rect, request);
            assert_eq!((plan.out_width, plan.out_height), (num(7), num(8)), "{}: planned size", f[0]);
            let got = slide.read_region(plan.region, plan.read_level, plan.out_width, plan.out_height).unwrap();
            let want = crate::codec::png::decode_rgb(&std::fs::read(dir.join("expected").join(f[0])).unwrap()).unwrap();
            assert_eq!((got.width, got.height), (want.width, want.height));
            let (max, mean) = diff(&got.data, &want.data);
            // Same file, same addressing, same Pillow arithmetic: measured bit-identical
            // (Debian's OpenSlide 3.4.1 here, openslide-bin 4.0.1 in the venv that made them).
            assert_eq!((max, mean), (0, 0.0), "{}: differs from large_image", f[0]);
            n += 1;
        }
        assert_eq!(n, 7);
    }
}
