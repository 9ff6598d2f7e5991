//! Where a ROI's base-resolution mask comes from: the [`BaseMasks`] interface and its sources.
//! Every source returns a mask checked against the ROI (base size, known codes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::contract::{BaseMasks, RowSink, SlideHandle};
use super::errors::{AnnotationMaskError, RoiError};
use crate::catalog::{codes, Roi};
use crate::codec::rows::RowReader;
use crate::dataset::manifest::MaskSource;
use crate::dataset::names;
use crate::model::Rect;
use crate::source::girder::MAX_ANNOTATIONS_BODY;
use crate::source::http::Http;
use crate::source::masklink::{self, MaskError};
use crate::transform::raster::{self, raster_for_rect, Geometry, RoiRaster};
use crate::transform::remap::count_into;

/// Decodes the mask PNG `bytes` of `roi` a band of rows at a time into `sink`, with the checks of
/// [`masklink::decode_mask`]: the header's size must be the ROI's base size (before any row is
/// decoded) and every value a known code (a bad value ends it with the same error, listing every
/// bad value of the file).
pub(crate) fn stream_mask(bytes: &[u8], roi: &Roi, origin: &str, sink: &mut RowSink) -> Result<(), RoiError> {
    const BAND: usize = 64;
    let decode = |source| RoiError::Mask(MaskError::Decode { origin: origin.to_string(), source });
    // The size from the header alone first, as `decode_mask` does: a wrong size (a PNG bomb
    // included) is named as such before the decoder is set up.
    let (w, h) = crate::codec::png::dimensions(bytes).map_err(decode)?;
    if (w as u64, h as u64) != (roi.width(), roi.height()) {
        return Err(RoiError::Mask(MaskError::WrongSize {
            origin: origin.to_string(),
            got_w: w,
            got_h: h,
            want_w: roi.width(),
            want_h: roi.height(),
        }));
    }
    let mut rows = RowReader::gray(std::io::Cursor::new(bytes)).map_err(decode)?;
    let mut band = vec![0u8; w * BAND];
    let mut seen = [false; 256];
    let mut bad = false;
    let mut y = 0;
    while y < h {
        let n = BAND.min(h - y);
        for row in band[..n * w].chunks_exact_mut(w) {
            rows.read_row(row).map_err(decode)?;
            for &v in row.iter() {
                seen[usize::from(v)] = true;
            }
        }
        bad = bad || (0..=255u8).any(|v| seen[usize::from(v)] && !codes::is_known(v));
        if !bad {
            sink(&band[..n * w])?;
        }
        y += n;
    }
    rows.finish().map_err(decode)?;
    if bad {
        let values: Vec<u8> = (0..=255u8).filter(|&v| seen[usize::from(v)] && !codes::is_known(v)).take(10).collect();
        return Err(RoiError::Mask(MaskError::UnknownCodes { origin: origin.to_string(), values }));
    }
    Ok(())
}

/// The ground-truth mask of a catalogue ROI from a slide's annotation JSON: HistomicsTK rules,
/// base resolution, exactly `roi.width() x roi.height()` pixels ([`mask_for_rect`]), with the
/// BCSS codes table (group names and the short labels of `gtruth_codes.tsv` both accepted).
/// The pipeline streams the same pixels ([`stream_raster`]); this whole mask is what its tests
/// compare them with.
#[cfg(test)]
pub(crate) fn mask_from_annotations(json: &[u8], roi: &Roi) -> Result<crate::model::GrayImage, AnnotationMaskError> {
    let parsed = crate::model::parse_annotations(json)?;
    Ok(crate::transform::raster::mask_for_rect(
        &parsed,
        &roi.id,
        roi.rect(),
        &crate::catalog::bcss_with_labels(),
        Geometry::Htk,
    )?)
}

/// [`mask_from_annotations`] planned, not painted ([`raster_for_rect`]): [`stream_raster`]
/// paints it a band of rows at a time.
fn raster_from_annotations(json: &[u8], roi: &Roi) -> Result<RoiRaster, AnnotationMaskError> {
    let parsed = crate::model::parse_annotations(json)?;
    Ok(raster_for_rect(&parsed, &roi.id, roi.rect(), &crate::catalog::bcss_with_labels(), Geometry::Htk)?)
}

/// Paints the rows of `roi`'s rectangle from `raster` ([`raster_from_annotations`]) a band at
/// a time into `sink`, the pixels [`mask_from_annotations`] makes whole: the ROI's base size by
/// construction, and every value checked to be a known code (as [`masklink::check_mask`]
/// checks a whole mask) before its band is handed on. Memory is one band
/// ([`raster::band_rows`]), whatever the ROI's size.
fn stream_raster(raster: &RoiRaster, roi: &Roi, origin: &str, sink: &mut RowSink) -> Result<(), RoiError> {
    // `raster_for_rect` refused a rectangle over MAX_PIXELS: the sizes fit `usize` and `i64`.
    let (w, h) = (roi.width() as usize, roi.height() as usize);
    if w == 0 || h == 0 {
        return Ok(());
    }
    let target: Rect<i64> = roi.rect().map(|v| v as i64);
    let rows = raster::band_rows(w).min(h);
    let mut band = vec![0u8; rows * w];
    let mut top = 0;
    while top < h {
        let n = rows.min(h - top);
        let band = &mut band[..n * w];
        let t = target.top + top as i64;
        raster.paint_window(Rect { top: t, bottom: t + n as i64, ..target }, band);
        let mut hist = [0u64; 256];
        count_into(band, &mut hist);
        let values: Vec<u8> =
            (0..=255u8).filter(|&v| hist[usize::from(v)] > 0 && !codes::is_known(v)).take(10).collect();
        if !values.is_empty() {
            return Err(RoiError::Mask(MaskError::UnknownCodes { origin: origin.to_string(), values }));
        }
        sink(band)?;
        top += n;
    }
    Ok(())
}

/// Why a mask source could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaskSetupError {
    /// A masks directory cannot be listed.
    #[error("cannot list masks directory `{path}`")]
    MasksDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The annotations directory cannot be read.
    #[error("cannot read annotations directory `{path}`")]
    AnnotationsDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The published mask PNGs behind each ROI's `mask_link` (the original's way).
pub struct LinkMasks {
    /// The client (carries no DSA credentials).
    pub http: Http,
}

impl BaseMasks for LinkMasks {
    fn kind(&self) -> MaskSource {
        MaskSource::Links
    }

    fn origin(&self, roi: &Roi) -> String {
        roi.mask_link.clone().unwrap_or_default()
    }

    fn base_mask_rows(
        &self,
        roi: &Roi,
        _slide: &dyn SlideHandle,
        on_bytes: &dyn Fn(u64),
        sink: &mut RowSink,
    ) -> Result<(), RoiError> {
        let link = roi.mask_link.as_deref().ok_or(MaskError::NoLink)?;
        let bytes =
            masklink::fetch_bytes(&self.http, link, masklink::mask_body_limit(roi.width(), roi.height()), on_bytes)?;
        stream_mask(&bytes, roi, &crate::source::http::redact_url(link), sink)
    }

    fn refetch_bad_content(&self) -> bool {
        true
    }
}

/// Masks rasterised from the slide's own annotations on the server, with HistomicsTK's rules.
pub struct SlideAnnotationMasks;

impl BaseMasks for SlideAnnotationMasks {
    fn kind(&self) -> MaskSource {
        MaskSource::Annotations
    }

    fn origin(&self, roi: &Roi) -> String {
        roi.mask_link.clone().unwrap_or_default()
    }

    fn base_mask_rows(
        &self,
        roi: &Roi,
        slide: &dyn SlideHandle,
        on_bytes: &dyn Fn(u64),
        sink: &mut RowSink,
    ) -> Result<(), RoiError> {
        let body = slide.annotations(on_bytes)?;
        let raster = raster_from_annotations(&body, roi)?;
        drop(body);
        stream_raster(&raster, roi, &format!("the annotations of `{}`", slide.name()), sink)
    }
}

/// PNG files in a directory, named like the dataset's masks (`<roi>_xmin<X>_ymin<Y>[_<suffix>].png`)
/// or `<roi>.png`, at base resolution.
#[derive(Debug, Default)]
pub struct DirMasks {
    dir: PathBuf,
    /// `(roi, xmin, ymin)` -> file names with that key.
    by_key: BTreeMap<(String, u64, u64), Vec<String>>,
    /// `<roi>.png` files, by ROI id.
    by_roi: BTreeMap<String, String>,
}

#[cfg_attr(
    not(feature = "openslide"),
    expect(dead_code, reason = "used by extract and the GDC road, which need OpenSlide")
)]
impl DirMasks {
    /// Lists the directory once.
    pub fn scan(dir: &Path) -> Result<DirMasks, MaskSetupError> {
        let err = |source| MaskSetupError::MasksDir { path: dir.to_path_buf(), source };
        let mut m = DirMasks { dir: dir.to_path_buf(), ..Default::default() };
        for entry in std::fs::read_dir(dir).map_err(err)? {
            let name = entry.map_err(err)?.file_name().to_string_lossy().into_owned();
            if let Some(parsed) = names::parse_roi_file_name(&name) {
                m.by_key.entry(parsed.key()).or_default().push(name);
            } else if let Some(stem) = name.strip_suffix(".png") {
                m.by_roi.insert(stem.to_string(), name);
            }
        }
        for v in m.by_key.values_mut() {
            v.sort();
        }
        Ok(m)
    }

    fn find(&self, roi: &Roi) -> Result<PathBuf, RoiError> {
        let mut candidates: Vec<String> =
            self.by_key.get(&(roi.id.clone(), roi.xmin, roi.ymin)).cloned().unwrap_or_default();
        if let Some(n) = self.by_roi.get(&roi.id) {
            candidates.push(n.clone());
        }
        match candidates.as_slice() {
            [one] => Ok(self.dir.join(one)),
            [] => {
                Err(RoiError::NoMaskFile { roi: roi.id.clone(), xmin: roi.xmin, ymin: roi.ymin, dir: self.dir.clone() })
            }
            _ => Err(RoiError::Ambiguous { roi: roi.id.clone(), candidates }),
        }
    }
}

impl BaseMasks for DirMasks {
    fn kind(&self) -> MaskSource {
        MaskSource::Dir
    }

    fn origin(&self, _roi: &Roi) -> String {
        self.dir.display().to_string()
    }

    fn base_mask_rows(
        &self,
        roi: &Roi,
        _slide: &dyn SlideHandle,
        on_bytes: &dyn Fn(u64),
        sink: &mut RowSink,
    ) -> Result<(), RoiError> {
        let path = self.find(roi)?;
        let bytes = masklink::read_file(&path, masklink::mask_body_limit(roi.width(), roi.height()), on_bytes)?;
        stream_mask(&bytes, roi, &path.display().to_string(), sink)
    }
}

/// Annotation JSON files (`GET annotation/item/{id}` arrays) in a directory, rasterised per ROI.
#[derive(Debug)]
pub struct AnnotationFileMasks {
    dir: PathBuf,
}

#[cfg_attr(
    not(feature = "openslide"),
    expect(dead_code, reason = "used by extract and the GDC road, which need OpenSlide")
)]
impl AnnotationFileMasks {
    /// Masks from the annotation files in `dir` (which must be a directory).
    pub fn new(dir: &Path) -> Result<AnnotationFileMasks, MaskSetupError> {
        if !dir.is_dir() {
            let source = std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory");
            return Err(MaskSetupError::AnnotationsDir { path: dir.to_path_buf(), source });
        }
        Ok(AnnotationFileMasks { dir: dir.to_path_buf() })
    }

    /// The annotation JSON of a ROI's slide: `<slide file stem>.json` (what `bcss download
    /// --pipeline annotations` writes, the item name with `.svs` replaced), else the one
    /// `<short name>*.json`.
    fn file(&self, roi: &Roi, slide_stem: &str) -> Result<PathBuf, RoiError> {
        let exact = self.dir.join(format!("{slide_stem}.json"));
        // Anything but a folder by that name is the file (a FIFO or device is then refused by
        // the read, not skipped in favour of another file).
        if std::fs::metadata(&exact).is_ok_and(|m| !m.is_dir()) {
            return Ok(exact);
        }
        let mut candidates: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with(roi.short_name()) && n.ends_with(".json"))
            .collect();
        candidates.sort();
        match candidates.as_slice() {
            [one] => Ok(self.dir.join(one)),
            [] => Err(RoiError::NoAnnotationFile { slide: roi.short_name().to_string(), dir: self.dir.clone() }),
            _ => Err(RoiError::Ambiguous { roi: roi.id.clone(), candidates }),
        }
    }

    /// The annotation file of `roi`'s slide and its bytes: a regular file (a FIFO or device is
    /// refused without waiting) of at most the size the DSA route accepts for annotations.
    fn read(&self, roi: &Roi, slide: &dyn SlideHandle, on_bytes: &dyn Fn(u64)) -> Result<(PathBuf, Vec<u8>), RoiError> {
        let name = slide.name();
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
        let path = self.file(roi, stem)?;
        let bytes = crate::files::read(&path, MAX_ANNOTATIONS_BODY)
            .map_err(|source| MaskError::File { path: path.display().to_string(), source })?;
        on_bytes(bytes.len() as u64);
        Ok((path, bytes))
    }
}

impl BaseMasks for AnnotationFileMasks {
    fn kind(&self) -> MaskSource {
        MaskSource::Annotations
    }

    fn origin(&self, _roi: &Roi) -> String {
        self.dir.display().to_string()
    }

    fn base_mask_rows(
        &self,
        roi: &Roi,
        slide: &dyn SlideHandle,
        on_bytes: &dyn Fn(u64),
        sink: &mut RowSink,
    ) -> Result<(), RoiError> {
        let (path, bytes) = self.read(roi, slide, on_bytes)?;
        let raster = raster_from_annotations(&bytes, roi)
            .map_err(|source| RoiError::AnnotationFile { path: path.clone(), source })?;
        drop(bytes);
        stream_raster(&raster, roi, &path.display().to_string(), sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &[u8] = br#"[{"annotation": {"name": "t", "elements": [
        {"type": "rectangle", "id": "big", "group": "roi", "center": [50, 50, 0], "width": 100, "height": 100, "rotation": 0},
        {"type": "rectangle", "id": "t1", "group": "tumor", "center": [20, 20, 0], "width": 10, "height": 10, "rotation": 0}
    ]}}]"#;

    fn roi(xmin: u64, ymin: u64, xmax: u64, ymax: u64) -> Roi {
        Roi { id: "TCGA-ZZ-0000-DX1".into(), xmin, ymin, xmax, ymax, mask_link: None }
    }

    #[test]
    fn annotation_masks_fit_the_roi_or_say_why_not() {
        let m = mask_from_annotations(JSON, &roi(0, 0, 100, 100)).unwrap();
        assert_eq!((m.width, m.height), (100, 100));
        assert!(m.data.contains(&1), "the tumour rectangle is labelled tumor (1)");
        let err = mask_from_annotations(JSON, &roi(500, 500, 600, 600)).unwrap_err();
        assert!(err.to_string().contains("no ROI element of the annotations overlaps ROI `TCGA-ZZ-0000-DX1`"), "{err}");
        assert!(matches!(mask_from_annotations(b"{", &roi(0, 0, 1, 1)), Err(AnnotationMaskError::Annotations(_))));
    }

    /// A slide known by name only (the annotation sources need nothing else).
    struct Named(&'static str);

    impl SlideHandle for Named {
        fn name(&self) -> String {
            self.0.to_string()
        }
        fn geometry(&self, _on_bytes: &dyn Fn(u64)) -> Result<crate::model::SlideGeometry, RoiError> {
            Err(RoiError::Unsupported("no geometry in this test"))
        }
        fn read_rows(
            &self,
            _plan: &crate::transform::RegionPlan,
            _on_bytes: &dyn Fn(u64),
            _sink: &mut RowSink,
        ) -> Result<(), RoiError> {
            Err(RoiError::Unsupported("no pixels in this test"))
        }
    }

    const TALL_JSON: &[u8] = br#"[{"annotation": {"name": "t", "elements": [
        {"type": "polyline", "id": "tall", "group": "roi", "points": [[100, 50, 0], [400, 80, 0], [380, 1700, 0], [90, 1650, 0]]},
        {"type": "polyline", "group": "mostly_tumor", "points": [[150, 100, 0], [350, 400, 0], [200, 1500, 0]]},
        {"type": "rectangle", "group": "mostly_stroma", "center": [250, 900, 0], "width": 120, "height": 700, "rotation": 0.3}
    ]}}]"#;

    /// The rows streamed a band at a time are the mask made whole, for ROIs on the element's box,
    /// shifted from it and larger than it (padded with 0), across several bands.
    #[test]
    fn streamed_annotation_masks_are_the_whole_masks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("TCGA-ZZ-0000-01Z-00-DX1.X.json"), TALL_JSON).unwrap();
        let source = AnnotationFileMasks::new(dir.path()).unwrap();
        let slide = Named("TCGA-ZZ-0000-01Z-00-DX1.X.svs");
        for r in [roi(90, 50, 400, 1700), roi(60, 20, 430, 1800), roi(120, 400, 300, 1300)] {
            let whole = mask_from_annotations(TALL_JSON, &r).unwrap();
            let mut rows = Vec::new();
            let mut calls = 0;
            source
                .base_mask_rows(&r, &slide, &|_| {}, &mut |band| {
                    calls += 1;
                    rows.extend_from_slice(band);
                    Ok(())
                })
                .unwrap();
            assert!(rows == whole.data, "ROI {:?}", r.rect());
            assert!(calls >= 2 || r.height() as usize <= raster::band_rows(r.width() as usize), "{calls} bands");
            assert!(whole.data.contains(&1) && whole.data.contains(&2));
        }
    }

    /// A FIFO by the slide's annotation file name is refused at once (never waited on), as a
    /// failure of the ROI.
    #[test]
    fn a_fifo_for_an_annotation_file_is_refused_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("TCGA-ZZ-0000-01Z-00-DX1.X.json");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let source = AnnotationFileMasks::new(dir.path()).unwrap();
        let slide = Named("TCGA-ZZ-0000-01Z-00-DX1.X.svs");
        let err = source.base_mask_rows(&roi(0, 0, 100, 100), &slide, &|_| {}, &mut |_| Ok(())).unwrap_err();
        let chain = crate::report::error_chain(&err);
        assert!(chain.contains("it is a FIFO, not a regular file") && chain.contains("DX1.X.json"), "{chain}");
    }
}
