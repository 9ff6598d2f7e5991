//! The GDC as a source: which GDC file holds each ROI's slide, the ROI pixels read from those
//! files by byte ranges ([`GdcPixels`]), and whole slide files ([`download_wsis`]).
//!
//! **Reading a ROI by ranges.** Each slide gets a sparse local copy under the dataset root
//! (`.cache/gdc/<file id>.svs`, holes where nothing was fetched, see
//! [`SparseSlide`](crate::source::sparse::SparseSlide)). Opening it fetches the TIFF header,
//! every directory with its tag arrays (parsed once into memory and kept as JSON) and tile (0, 0)
//! of each level (OpenSlide and large_image probe them); then OpenSlide opens the copy and
//! bcss plans the region exactly as for a local file. The OpenSlide reads that plan makes
//! ([`LocalSlide::region_footprint`]) name the tiles needed at the read level, which are fetched;
//! then the copy is read like any local slide, so the pixels are those of `bcss extract` on the
//! complete file. A tile read that was not fetched is a hole of zeros, which no JPEG or JPEG 2000
//! decoder accepts: it fails loudly (other compressions are refused before anything is read).
//! The cache persists, so a rerun or another resolution fetches nothing twice.
//!
//! **The right slide.** A GDC manifest is read with a 16 MiB budget and may list a file id or
//! name only once (one file under two slide names would give a ROI another slide's pixels).
//! When a file's Aperio `ImageDescription` names a TCGA barcode as its `Filename`, its first
//! 12 characters must be the ROI's slide, checked before any tile is fetched; other
//! `Filename`s (a scanner's running number, which many TCGA slides carry) say nothing and are
//! not checked.
//!
//! **Budgets.** What opening and each ROI may fetch is bounded by the TIFF layout's limits
//! (`bcss_tiff::MAX_METADATA`, `read_budget`) and by `SparseSlide::ensure`'s budget (`source::sparse`); over either, the
//! ROI fails naming the limit, and nothing of the claimed size is fetched.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::contract::{Pixels, RowSink, SlideHandle};
use super::errors::{GdcSlideError, RoiError, WrongSlide};
use super::run::{RunError, Summary};
use super::BaseMasks;
use crate::catalog::{Roi, RoiTable, SlideTable};
use crate::dataset::manifest::RegionEncoding;
use crate::dataset::manifest::{Manifest, SlideFile};
use crate::dataset::{names, DatasetLock, Layout};
use crate::model::{Rect, SlideGeometry};
use crate::report::Reporter;
use crate::source::gdc::{parse_manifest, Gdc, GdcError, GdcFile, ManifestParseError};
use crate::source::http::Secrets;
use crate::source::local::{LevelRect, LocalSlide, SlideDir};
use crate::source::sparse::SparseSlide;
use crate::transform::{Mode, RegionPlan, Resolution};
use bcss_tiff::Layout as TiffLayout;

/// The largest GDC manifest read: a row is about 130 bytes, so room for 100 000 files.
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// The GDC files of the slides of a ROI table.
#[derive(Debug, Clone, Default)]
pub struct GdcSlides {
    /// By slide short name (`TCGA-A1-A0SK`).
    pub files: BTreeMap<String, GdcFile>,
    /// Slides not found, each with why (not on the GDC, several files, not in the manifest).
    pub missing: BTreeMap<String, String>,
}

/// Why the GDC files of the slides could not be looked up at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GdcSlidesError {
    /// The GDC search failed.
    #[error(transparent)]
    Gdc(#[from] GdcError),
    /// The manifest file cannot be read.
    #[error("cannot read GDC manifest `{path}`")]
    ManifestFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest file is not in the GDC's format.
    #[error("GDC manifest `{path}`")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: ManifestParseError,
    },
}

/// Finds the GDC file of every slide of `rois`: in `manifest` when one is given (by full name
/// from the built-in table, else by the 12-character short name as a prefix, as `extract`
/// finds files in `--slides-dir`), else by searching the GDC for the slide's exact file name
/// (the built-in table has it for every BCSS slide).
pub fn find_gdc_slides(gdc: &Gdc, rois: &RoiTable, manifest: Option<&Path>) -> Result<GdcSlides, GdcSlidesError> {
    let builtin = SlideTable::builtin();
    let shorts: BTreeSet<String> = rois.rois().iter().map(|r| r.short_name().to_string()).collect();
    let mut out = GdcSlides::default();
    if let Some(path) = manifest {
        // Never a FIFO waited on, never more than MAX_MANIFEST_BYTES read.
        let text = crate::files::read_to_string(path, MAX_MANIFEST_BYTES)
            .map_err(|source| GdcSlidesError::ManifestFile { path: path.to_path_buf(), source })?;
        let files =
            parse_manifest(&text).map_err(|source| GdcSlidesError::Manifest { path: path.to_path_buf(), source })?;
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        let listing = SlideDir::from_names(path.parent().unwrap_or(Path::new(".")), &names);
        for short in shorts {
            let full = builtin.get(&short).map(|s| s.name.as_str());
            match listing.find(&short, full) {
                Ok(found) => {
                    let name = found.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    if let Some(f) = files.iter().find(|f| f.name == name) {
                        out.files.insert(short, f.clone());
                    }
                }
                Err(e) => {
                    let why = match e {
                        crate::source::local::LocalError::Ambiguous { candidates, .. } => format!(
                            "several files of GDC manifest `{}` match slide `{short}`: {}",
                            path.display(),
                            candidates.join(", ")
                        ),
                        _ => format!("slide `{short}` is not in GDC manifest `{}`", path.display()),
                    };
                    out.missing.insert(short, why);
                }
            }
        }
        return Ok(out);
    }
    let mut names = Vec::new();
    for short in &shorts {
        match builtin.get(short) {
            Some(s) => names.push(s.name.clone()),
            None => {
                out.missing.insert(
                    short.clone(),
                    format!("slide `{short}` is not in the built-in slide table, so its GDC file name is unknown; give `--gdc-manifest FILE`"),
                );
            }
        }
    }
    let found = gdc.find_by_names(&names)?;
    for (name, file) in found.found {
        out.files.insert(name.get(..12).unwrap_or(&name).to_string(), file);
    }
    for name in found.missing {
        let short = name.get(..12).unwrap_or(&name).to_string();
        out.missing.insert(short, format!("the GDC has no file named `{name}`"));
    }
    for (name, files) in found.duplicated {
        let short = name.get(..12).unwrap_or(&name).to_string();
        let ids: Vec<&str> = files.iter().map(|f| f.id.as_str()).collect();
        out.missing.insert(
            short,
            format!(
                "the GDC has {} files named `{name}` ({}); give `--gdc-manifest` to choose",
                ids.len(),
                ids.join(", ")
            ),
        );
    }
    Ok(out)
}

/// Pixels read from the slide files on the GDC by byte ranges (see the module docs).
pub struct GdcPixels<'a> {
    /// The client.
    pub gdc: &'a Gdc,
    /// The slides' files.
    pub slides: GdcSlides,
    /// Where the sparse copies live (`<root>/.cache/gdc`).
    pub cache: PathBuf,
    /// Files touched by this run, for [`Pixels::slide_bytes`].
    pub touched: Mutex<BTreeMap<String, u64>>,
}

impl<'a> GdcPixels<'a> {
    /// Pixels from `slides` through `gdc`, byte ranges cached in `cache` (see [`cache_dir`]).
    pub fn new(gdc: &'a Gdc, slides: GdcSlides, cache: PathBuf) -> GdcPixels<'a> {
        GdcPixels { gdc, slides, cache, touched: Mutex::new(BTreeMap::new()) }
    }
}

/// The default byte-range cache of a dataset root (removable at any time; it only saves
/// refetching).
pub fn cache_dir(root: &Path) -> PathBuf {
    root.join(".cache").join("gdc")
}

impl Pixels for GdcPixels<'_> {
    fn source_name(&self) -> String {
        format!("gdc:{}", crate::source::http::redact_url(self.gdc.base()))
    }

    fn slides_from(&self) -> String {
        "gdc".to_string()
    }

    fn encoding(&self) -> RegionEncoding {
        RegionEncoding::Gdc
    }

    fn slide_bytes(&self) -> Option<u64> {
        // Sizes the server claims: added without overflow.
        Some(self.touched.lock().expect("touched lock").values().fold(0, |a, &b| a.saturating_add(b)))
    }

    fn fingerprint(&self, resolution: Resolution, _mode: Mode, masks: &dyn BaseMasks, roi: &Roi) -> String {
        super::pixels::slide_file_fingerprint("gdc", resolution, masks, roi)
    }

    fn open(&self, roi: &Roi) -> Result<Box<dyn SlideHandle + '_>, RoiError> {
        let short = roi.short_name();
        let Some(file) = self.slides.files.get(short) else {
            let why = self.slides.missing.get(short).cloned();
            return Err(RoiError::NoSlide(why.unwrap_or_else(|| format!("no GDC file for slide `{short}`"))));
        };
        self.touched.lock().expect("touched lock").insert(file.id.clone(), file.size);
        Ok(Box::new(GdcSlide {
            pixels: self,
            file: file.clone(),
            slide: short.to_string(),
            opened: std::cell::OnceCell::new(),
        }))
    }
}

fn gdc_err(e: impl Into<GdcSlideError>) -> RoiError {
    RoiError::Gdc(Box::new(e.into()))
}

struct Opened {
    sparse: SparseSlide,
    layout: TiffLayout,
    slide: LocalSlide,
}

struct GdcSlide<'a> {
    pixels: &'a GdcPixels<'a>,
    file: GdcFile,
    /// The slide's short name (`TCGA-A1-A0SK`), which the file must be.
    slide: String,
    opened: std::cell::OnceCell<Opened>,
}

/// The Aperio `Filename` of a layout (`|Filename = X|` in an `ImageDescription` starting with
/// `Aperio`), when there is one.
fn aperio_filename(layout: &TiffLayout) -> Option<&str> {
    let desc = layout.ifds.iter().filter_map(|i| i.description.as_deref()).find(|d| d.starts_with("Aperio"))?;
    desc.split('|').find_map(|kv| kv.split_once('=').filter(|(k, _)| k.trim() == "Filename").map(|(_, v)| v.trim()))
}

/// Checks that a slide file is the slide expected where it can tell: when its Aperio
/// `Filename` is a TCGA barcode (`TCGA-XX-XXXX...`), its first 12 characters must be
/// `slide`. Other names (a scanner's running number, as many slides carry) say nothing and
/// pass; so does a file without an Aperio description.
fn check_slide(layout: &TiffLayout, file: &str, slide: &str, secrets: &Secrets) -> Result<(), WrongSlide> {
    match aperio_filename(layout) {
        Some(name) if name.len() >= 12 && name.starts_with("TCGA-") => {
            let barcode = name.get(..12).unwrap_or(name);
            if barcode.eq_ignore_ascii_case(slide) {
                Ok(())
            } else {
                Err(WrongSlide { file: file.to_string(), filename: secrets.scrub(name), slide: slide.to_string() })
            }
        }
        _ => Ok(()),
    }
}

impl GdcSlide<'_> {
    /// Fetches what `ranges` needs that the copy lacks, at most `budget` bytes.
    fn ensure(
        &self,
        sparse: &SparseSlide,
        ranges: &[Range<u64>],
        budget: u64,
        on_bytes: &dyn Fn(u64),
    ) -> Result<u64, RoiError> {
        let gdc = self.pixels.gdc;
        sparse.ensure(ranges, budget, &|r: Range<u64>| gdc.read_range(&self.file, r, on_bytes)).map_err(gdc_err)
    }

    /// The sparse copy with what opening needs, its TIFF layout, and OpenSlide on it.
    fn open(&self, on_bytes: &dyn Fn(u64)) -> Result<&Opened, RoiError> {
        if let Some(o) = self.opened.get() {
            return Ok(o);
        }
        let sparse = SparseSlide::open(&self.pixels.cache, &self.file).map_err(gdc_err)?;
        let gdc = self.pixels.gdc;
        // The parser's reads are kept in memory, so the directories it read are not fetched a
        // second time when they are written to the copy just below.
        let seen = Mutex::new(Vec::new());
        let layout = sparse
            .layout(&|r: Range<u64>| {
                let bytes = gdc.read_range(&self.file, r.clone(), on_bytes)?;
                seen.lock().expect("seen lock").push((r.start, bytes.clone()));
                Ok::<_, GdcError>(bytes)
            })
            .map_err(gdc_err)?;
        let seen = seen.into_inner().expect("seen lock");
        // A manifest that maps the ROI's slide to another slide's file: refused before a tile
        // is fetched.
        check_slide(&layout, &self.file.name, &self.slide, gdc.http().secrets()).map_err(gdc_err)?;
        // What OpenSlide reads on opening: the directories with their tag arrays, and tile (0, 0)
        // of each level (probed with a 1x1 read). Not the smallest level: OpenSlide only hashes
        // it (`openslide.quickhash-1`, which bcss does not use) and never decodes it.
        let mut open = bcss_tiff::metadata_ranges(&layout);
        open.extend(bcss_tiff::probe_ranges(&layout));
        sparse
            .ensure(&open, bcss_tiff::open_budget(&layout), &|r: Range<u64>| {
                fill_from(&seen, r, &|gap| gdc.read_range(&self.file, gap, on_bytes))
            })
            .map_err(gdc_err)?;
        let slide = LocalSlide::open(sparse.path())?;
        Ok(self.opened.get_or_init(|| Opened { sparse, layout, slide }))
    }
}

/// The bytes of `want`, from the `chunks` already in memory (`(offset, bytes)`) where they cover
/// it, the rest through `fetch`.
fn fill_from(
    chunks: &[(u64, Vec<u8>)],
    want: Range<u64>,
    fetch: &dyn Fn(Range<u64>) -> Result<Vec<u8>, GdcError>,
) -> Result<Vec<u8>, GdcError> {
    let mut out = vec![0u8; (want.end - want.start) as usize];
    let mut covered: Vec<Range<u64>> = Vec::new();
    for (start, bytes) in chunks {
        let (a, b) = ((*start).max(want.start), (start + bytes.len() as u64).min(want.end));
        if a < b {
            out[(a - want.start) as usize..(b - want.start) as usize]
                .copy_from_slice(&bytes[(a - start) as usize..(b - start) as usize]);
            covered.push(a..b);
        }
    }
    covered = bcss_tiff::merge(covered);
    let mut at = want.start;
    for gap in covered.iter().map(|c| (c.start, c.end)).chain([(want.end, want.end)]) {
        if gap.0 > at {
            let bytes = fetch(at..gap.0)?;
            if bytes.len() as u64 != gap.0 - at {
                return Err(GdcError::Unexpected {
                    url: String::new(),
                    reason: format!("asked for {} bytes, got {}", gap.0 - at, bytes.len()),
                });
            }
            out[(at - want.start) as usize..(gap.0 - want.start) as usize].copy_from_slice(&bytes);
        }
        at = at.max(gap.1);
    }
    Ok(out)
}

/// The TIFF directory OpenSlide reads its level `level` (of `size`) from: OpenSlide's levels of
/// an Aperio (or generic tiled) TIFF are its tiled directories in file order, so the `level`-th
/// one, which must have that size; else the one tiled directory of that size. Several of that
/// size (z-stacks, copies) and none in that place: `None`, refused.
fn level_ifd(layout: &TiffLayout, level: u32, size: (u64, u64)) -> Option<usize> {
    let tiled: Vec<usize> = (0..layout.ifds.len()).filter(|&i| layout.ifds[i].tile.is_some()).collect();
    let of_size = |i: usize| (layout.ifds[i].width, layout.ifds[i].height) == size;
    if let Some(&i) = tiled.get(level as usize).filter(|&&i| of_size(i)) {
        return Some(i);
    }
    match tiled.iter().copied().filter(|&i| of_size(i)).collect::<Vec<_>>().as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

impl SlideHandle for GdcSlide<'_> {
    fn name(&self) -> String {
        self.file.name.clone()
    }

    fn item_id(&self) -> Option<String> {
        Some(self.file.id.clone())
    }

    fn geometry(&self, on_bytes: &dyn Fn(u64)) -> Result<SlideGeometry, RoiError> {
        Ok(self.open(on_bytes)?.slide.geometry().clone())
    }

    /// Rows as `extract` makes them, from the sparse copy once the region's tiles are in it.
    fn read_rows(&self, plan: &RegionPlan, on_bytes: &dyn Fn(u64), sink: &mut RowSink) -> Result<(), RoiError> {
        let slide = self.fetched(plan, on_bytes)?;
        slide.read_rows(plan.region, plan.read_level, plan.out_width, plan.out_height, None, sink)
    }
}

impl GdcSlide<'_> {
    /// The sparse copy with every tile `plan` reads fetched, opened afresh.
    fn fetched(&self, plan: &RegionPlan, on_bytes: &dyn Fn(u64)) -> Result<LocalSlide, RoiError> {
        let o = self.open(on_bytes)?;
        let footprint = o.slide.region_footprint(plan.region, plan.read_level, plan.out_width, plan.out_height)?;
        let sizes = o.slide.level_sizes();
        let mut ranges = Vec::new();
        // What the read plan allows to fetch (`bcss_tiff::read_budget`: twice the raw pixels of its
        // tiles), whatever byte counts the file claims.
        let mut budget = 0u64;
        for LevelRect { level, rect } in footprint {
            let (w, h) = sizes.get(level as usize).copied().unwrap_or((0, 0));
            let ifd = level_ifd(&o.layout, level, (w, h)).ok_or_else(|| {
                gdc_err(GdcSlideError::NotOneDirectory { level, width: w, height: h, file: self.file.name.clone() })
            })?;
            let rect = Rect { right: rect.right.min(w), bottom: rect.bottom.min(h), ..rect };
            ranges.extend(bcss_tiff::tiles_for(&o.layout, ifd, rect).map_err(gdc_err)?);
            budget = budget.saturating_add(bcss_tiff::read_budget(&o.layout, ifd, rect));
        }
        self.ensure(&o.sparse, &ranges, budget, on_bytes)?;
        // A fresh handle: nothing OpenSlide may have cached from before the tiles arrived.
        Ok(LocalSlide::open(o.sparse.path())?)
    }
}

/// The folder of whole slide files in a dataset root.
pub fn wsis_dir(root: &Path) -> PathBuf {
    root.join("wsis")
}

/// Downloads the whole slide file of every slide of `rois` into `<root>/wsis/` (for
/// `bcss extract --slides-dir <root>/wsis`), `jobs` at a time: resumed from the bytes already
/// in `<name>.part` (a `Range` from its length), checked against the GDC's size and MD5, renamed
/// into place only when they match (the `.part` files are this run's alone: the caller holds the
/// root's lock), and recorded in the manifest's `slides`. A file recorded
/// with the GDC's MD5 and present at its size is skipped. Progress is in bytes.
pub fn download_wsis(
    gdc: &Gdc,
    slides: &GdcSlides,
    rois: &RoiTable,
    root: &DatasetLock,
    jobs: usize,
    reporter: &dyn Reporter,
) -> Result<Summary, RunError> {
    let start = std::time::Instant::now();
    let root = root.root();
    let dir = wsis_dir(root);
    let layout = Layout::new(root);
    layout.create(false).map_err(|source| RunError::Output { path: root.to_path_buf(), source })?;
    // `wsis/` is written into by name: a planted link to a folder elsewhere is refused.
    crate::files::check_own_dir(&dir).map_err(|source| RunError::Output { path: dir.clone(), source })?;
    std::fs::create_dir_all(&dir).map_err(|source| RunError::Output { path: dir.clone(), source })?;
    let manifest = match Manifest::load(&layout.manifest())? {
        Some(m) => m,
        None => Manifest::new(format!("gdc:{}", crate::source::http::redact_url(gdc.base()))),
    };
    let shorts: BTreeSet<String> = rois.rois().iter().map(|r| r.short_name().to_string()).collect();
    let units: Vec<(String, Option<GdcFile>)> =
        shorts.into_iter().map(|s| (s.clone(), slides.files.get(&s).cloned())).collect();
    let remaining: u64 = units
        .iter()
        .filter_map(|(_, f)| f.as_ref())
        .map(|f| {
            let part = crate::source::gdc::part_path(&dir.join(&f.name));
            f.size.saturating_sub(std::fs::metadata(part).map(|m| m.len()).unwrap_or(0))
        })
        .fold(0, u64::saturating_add);
    let manifest = Mutex::new(manifest);
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let on_bytes = |n: u64| {
        bytes.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        reporter.on_bytes(n);
    };
    reporter.on_plan(units.len());
    reporter.on_plan_bytes(remaining);
    let reporter = &UnitsPlanned(reporter);
    let outcomes = super::super::workers::for_each(
        &units,
        |(s, _)| s.as_str(),
        "whole slide",
        jobs,
        reporter,
        |(short, file)| {
            let Some(file) = file else {
                let why = slides.missing.get(short).cloned();
                return Err(RoiError::NoSlide(why.unwrap_or_else(|| format!("no GDC file for slide `{short}`"))));
            };
            let name = names::safe_component(&file.name)?;
            let dest = dir.join(name);
            let recorded = manifest.lock().expect("manifest lock").slides.get(&file.name).cloned();
            let complete = recorded.is_some_and(|r| {
                r.md5.eq_ignore_ascii_case(&file.md5)
                    && r.bytes == file.size
                    && std::fs::metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == file.size)
            });
            if complete {
                return Ok(false);
            }
            // Complete on disk but not recorded (a run killed between the rename and the
            // manifest): checked by its MD5 instead of downloaded again.
            let unrecorded = std::fs::metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == file.size)
                && crate::source::gdc::md5_of_file(&dest).is_ok_and(|m| m.eq_ignore_ascii_case(&file.md5));
            if unrecorded {
                tracing::info!(file = %file.name, "whole slide already complete; recorded");
            } else {
                let outcome = gdc.download(file, &dest, &on_bytes).map_err(gdc_err)?;
                if outcome.resumed_from > 0 {
                    tracing::info!(file = %file.name, resumed_from = outcome.resumed_from, "whole slide resumed");
                }
            }
            let mut m = manifest.lock().expect("manifest lock");
            m.slides.insert(
                file.name.clone(),
                SlideFile {
                    path: layout.relative(&dest),
                    bytes: file.size,
                    md5: file.md5.to_ascii_lowercase(),
                    gdc_id: file.id.clone(),
                },
            );
            m.save(&layout.manifest())?;
            Ok(true)
        },
    );
    let mut outcomes = outcomes;
    // Every unit here is a whole-slide download, whatever part of it failed.
    for f in &mut outcomes.failed {
        f.step = Some(crate::report::Step::Download);
    }
    let bytes = bytes.load(std::sync::atomic::Ordering::Relaxed);
    Ok(Summary::of_units(outcomes, bytes, start.elapsed().as_secs_f64(), "gdc".to_string()))
}

/// A reporter whose plan was already announced (in bytes): passes everything on but the plan.
struct UnitsPlanned<'a>(&'a dyn Reporter);

impl Reporter for UnitsPlanned<'_> {
    fn on_start(&self, unit: &str) {
        self.0.on_start(unit);
    }
    fn on_bytes(&self, n: u64) {
        self.0.on_bytes(n);
    }
    fn on_done(&self, unit: &str, outcome: &crate::report::Outcome) {
        self.0.on_done(unit, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_memory_are_not_fetched_again() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let chunks =
            vec![(100, data[100..300].to_vec()), (250, data[250..400].to_vec()), (700, data[700..800].to_vec())];
        let asked = Mutex::new(Vec::new());
        let fetch = |r: Range<u64>| -> Result<Vec<u8>, GdcError> {
            asked.lock().unwrap().push(r.clone());
            Ok(data[r.start as usize..r.end as usize].to_vec())
        };
        assert_eq!(fill_from(&chunks, 120..380, &fetch).unwrap(), &data[120..380]);
        assert!(asked.lock().unwrap().is_empty(), "covered by two chunks");
        assert_eq!(fill_from(&chunks, 50..900, &fetch).unwrap(), &data[50..900]);
        assert_eq!(*asked.lock().unwrap(), [50..100, 400..700, 800..900], "only the gaps");
        let short = |_: Range<u64>| -> Result<Vec<u8>, GdcError> { Ok(vec![0; 3]) };
        assert!(fill_from(&chunks, 0..50, &short).is_err(), "a wrong length is an error, not a panic");
    }

    #[test]
    fn a_file_whose_aperio_filename_is_another_tcga_slide_is_refused() {
        let with = |desc: Option<&str>| TiffLayout {
            file_size: 0,
            bigtiff: false,
            little_endian: true,
            ifds: vec![bcss_tiff::Ifd {
                offset: 0,
                width: 1,
                height: 1,
                compression: 7,
                tile: Some((256, 256)),
                rows_per_strip: None,
                offsets: Vec::new(),
                byte_counts: Vec::new(),
                description: desc.map(str::to_string),
            }],
            metadata: Vec::new(),
        };
        let aperio = |name: &str| {
            format!("Aperio Image Library v12.0.15 \r\n6000x5000 (256x256) JPEG/RGB Q=90|AppMag = 40|Filename = {name}|MPP = 0.25")
        };
        let ours = with(Some(&aperio("TCGA-A1-A0SK-01Z-00-DX1")));
        assert_eq!(aperio_filename(&ours), Some("TCGA-A1-A0SK-01Z-00-DX1"));
        check_slide(&ours, "a.svs", "TCGA-A1-A0SK", &Secrets::default()).unwrap();
        let err = check_slide(&ours, "a.svs", "TCGA-A2-A04P", &Secrets::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`a.svs` is slide `TCGA-A1-A0SK-01Z-00-DX1` (its Aperio `Filename`), not `TCGA-A2-A04P`; check the GDC manifest"
        );
        // A scanner's number, no Filename, no Aperio description: nothing to check.
        check_slide(&with(Some(&aperio("12345"))), "a.svs", "TCGA-A2-A04P", &Secrets::default()).unwrap();
        check_slide(&with(Some("Aperio Image Library|AppMag = 40")), "a.svs", "TCGA-A2-A04P", &Secrets::default())
            .unwrap();
        check_slide(&with(Some("Filename = TCGA-A1-A0SK")), "a.svs", "TCGA-A2-A04P", &Secrets::default()).unwrap();
        check_slide(&with(None), "a.svs", "TCGA-A2-A04P", &Secrets::default()).unwrap();
    }

    #[test]
    fn levels_map_to_tiled_directories_in_file_order() {
        let ifd = |w: u64, h: u64, tiled: bool| bcss_tiff::Ifd {
            offset: 0,
            width: w,
            height: h,
            compression: 7,
            tile: tiled.then_some((256, 256)),
            rows_per_strip: None,
            offsets: Vec::new(),
            byte_counts: Vec::new(),
            description: None,
        };
        let layout = TiffLayout {
            file_size: 0,
            bigtiff: false,
            little_endian: true,
            ifds: vec![ifd(4000, 3000, true), ifd(400, 300, false), ifd(1000, 750, true), ifd(1000, 750, true)],
            metadata: Vec::new(),
        };
        assert_eq!(level_ifd(&layout, 0, (4000, 3000)), Some(0));
        assert_eq!(level_ifd(&layout, 1, (1000, 750)), Some(2), "the level-th tiled directory");
        assert_eq!(level_ifd(&layout, 2, (1000, 750)), Some(3));
        assert_eq!(level_ifd(&layout, 5, (1000, 750)), None, "two candidates elsewhere: refused");
        assert_eq!(level_ifd(&layout, 5, (4000, 3000)), Some(0), "one candidate elsewhere");
    }
}
