//! `bcss verify`: check a dataset directory against its manifest and the dataset's invariants.
//!
//! With a `manifest.json`: every planned ROI has an entry; every recorded file exists with the
//! recorded size and SHA-256; image and mask have the recorded output size. Always (with or
//! without a manifest): every expected ROI has its files, image and mask of a ROI have the same
//! size, and masks hold only known label codes. Without a manifest the expected ROIs are the
//! catalogue's (or the table given), and files are found by name, in `images/` or, for the
//! Google Drive copy, `rgbs_colorNormalized/` (an image pairs with its mask whatever its
//! `MPP-...` suffix says when it is the ROI's only image).
//!
//! Always, too: no ROI has two images (or two masks) of different suffixes in one folder, which
//! would make its pair ambiguous.
//!
//! Invariant: reads only; never modifies the dataset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::manifest::{Manifest, ManifestError};
use super::names::parse_roi_file_name;
use super::{DatasetLock, Layout};
use bcss_catalog::{codes, RoiTable};
use bcss_codec as codec;

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The ROI, when the problem belongs to one.
    pub roi: Option<String>,
    /// The file, relative to the root, when the problem belongs to one.
    pub path: Option<String>,
    /// What is wrong, as a sentence fragment.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.roi, &self.path) {
            (Some(r), Some(p)) => write!(f, "{r}: `{p}`: {}", self.what),
            (Some(r), None) => write!(f, "{r}: {}", self.what),
            (None, Some(p)) => write!(f, "`{p}`: {}", self.what),
            (None, None) => write!(f, "{}", self.what),
        }
    }
}

/// The result of a check.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    /// True when a manifest was found and used.
    pub with_manifest: bool,
    /// ROIs checked.
    pub rois_checked: usize,
    /// Files checked.
    pub files_checked: usize,
    /// Everything wrong, sorted by ROI then file.
    pub problems: Vec<Problem>,
    /// Without a manifest: the expected ROIs with no file at all (neither image nor mask),
    /// sorted. Each also has its "has no mask" (and "has no image") problem; a caller can say
    /// "146 of 151 ROIs absent" instead of listing both for each.
    pub absent: Vec<String>,
    /// The run that held the folder's lock while it was checked (`bcss download (pid ...)`, or
    /// `another run` when its record cannot be read): files it was writing may show as
    /// problems. `None` when no run was writing.
    pub writer: Option<String>,
}

/// Why a check could not run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The directory does not exist or is not a directory.
    #[error("`{0}` is not a dataset directory")]
    NotADirectory(PathBuf),
    /// The manifest is unreadable.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// No images/ and no masks/ folder.
    #[error("`{0}` has neither images/ nor masks/: not a BCSS dataset")]
    Empty(PathBuf),
}

impl bcss_model::report::Blamed for VerifyError {
    fn blame(&self) -> bcss_model::report::Blame {
        use bcss_model::report::Blame;
        // Every way verify fails to start is about the folder given.
        match self {
            VerifyError::NotADirectory { .. } | VerifyError::Manifest(_) | VerifyError::Empty { .. } => Blame::Input,
        }
    }
}

/// Options of a check: [`VerifyOptions::default`] (the built-in catalogue expected, hashes
/// checked) with chainable setters.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VerifyOptions {
    pub(crate) expected: Option<RoiTable>,
    pub(crate) skip_hashes: bool,
}

impl VerifyOptions {
    /// The ROIs expected when there is no manifest (default: `None`, the built-in catalogue).
    pub fn expected(mut self, expected: Option<RoiTable>) -> Self {
        self.expected = expected;
        self
    }
    /// Skip SHA-256 checks; sizes are still checked (default: false).
    pub fn skip_hashes(mut self, skip: bool) -> Self {
        self.skip_hashes = skip;
        self
    }
}

fn problem(roi: &str, path: Option<&str>, what: impl Into<String>) -> Problem {
    Problem { roi: Some(roi.to_string()), path: path.map(str::to_string), what: what.into() }
}

/// Reads a PNG's dimensions, or the problem. Only the file's first 4 KiB are read (the
/// signature and `IHDR` sit in its first 33 bytes), not a whole image of up to hundreds of MB.
fn png_size(root: &Path, rel: &str, roi: &str) -> Result<(usize, usize), Problem> {
    use std::io::Read;
    let cannot_read = |e: std::io::Error| problem(roi, Some(rel), format!("cannot read ({e})"));
    let mut head = Vec::with_capacity(4096);
    bcss_files::open_read(&root.join(rel)).and_then(|f| f.take(4096).read_to_end(&mut head)).map_err(cannot_read)?;
    codec::png::dimensions(&head)
        .map_err(|e| problem(roi, Some(rel), format!("does not decode ({})", bcss_model::report::error_chain(&e))))
}

/// Decodes a mask and checks its codes; returns its size. Row by row (one row in memory), or
/// whole when interlaced; either way a header over [`codec::MAX_PIXELS`] is refused before any
/// pixel is decoded.
fn check_mask_codes(root: &Path, rel: &str, roi: &str) -> Result<(usize, usize), Problem> {
    let path = root.join(rel);
    let cannot_read = |e: std::io::Error| problem(roi, Some(rel), format!("cannot read ({e})"));
    let not_a_mask = |e: codec::CodecError| {
        problem(roi, Some(rel), format!("does not decode as a label mask ({})", bcss_model::report::error_chain(&e)))
    };
    let mut seen = [false; 256];
    let file = bcss_files::open_read(&path).map_err(cannot_read)?;
    let (width, height) = match codec::rows::RowReader::gray(std::io::BufReader::with_capacity(1 << 16, file)) {
        Ok(mut rows) => {
            let mut row = vec![0u8; rows.row_len()];
            for _ in 0..rows.height() {
                rows.read_row(&mut row).map_err(not_a_mask)?;
                for &v in &row {
                    seen[v as usize] = true;
                }
            }
            let size = (rows.width(), rows.height());
            rows.finish().map_err(not_a_mask)?;
            size
        }
        Err(codec::CodecError::Interlaced) => {
            let mask =
                codec::png::decode_gray(&bcss_files::read(&path, bcss_files::IMAGE_FILE_LIMIT).map_err(cannot_read)?)
                    .map_err(not_a_mask)?;
            for &v in &mask.data {
                seen[v as usize] = true;
            }
            (mask.width, mask.height)
        }
        Err(e) => return Err(not_a_mask(e)),
    };
    let unknown: Vec<u8> = (0..=255u8).filter(|&v| seen[v as usize] && !codes::is_known(v)).collect();
    if !unknown.is_empty() {
        return Err(problem(roi, Some(rel), format!("holds values outside the label codes 0..=21: {unknown:?}")));
    }
    Ok((width, height))
}

/// Checks a dataset directory.
pub fn verify(root: &Path, options: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    if !root.is_dir() {
        return Err(VerifyError::NotADirectory(root.to_path_buf()));
    }
    let layout = Layout::new(root);
    if !layout.images().is_dir() && !layout.masks().is_dir() && !root.join("rgbs_colorNormalized").is_dir() {
        return Err(VerifyError::Empty(root.to_path_buf()));
    }
    let writer =
        DatasetLock::holder(root).map(|owner| owner.map_or_else(|| "another run".to_string(), |o| o.to_string()));
    let mut report = match Manifest::load(&layout.manifest())? {
        Some(m) => verify_with_manifest(root, &m, options),
        None => verify_by_names(root, options),
    };
    for dir in ["images", "rgbs_colorNormalized", "masks"] {
        report.problems.extend(several_resolutions(&layout, dir));
    }
    report.problems.sort_by(|a, b| (&a.roi, &a.path, &a.what).cmp(&(&b.roi, &b.path, &b.what)));
    report.writer = writer;
    Ok(report)
}

fn verify_with_manifest(root: &Path, manifest: &Manifest, options: &VerifyOptions) -> VerifyReport {
    let mut problems = Vec::new();
    for id in &manifest.planned {
        if !manifest.rois.contains_key(id) {
            problems.push(problem(id, None, "planned but absent from the manifest (its download failed or never ran)"));
        }
    }
    let results: Vec<(usize, Vec<Problem>)> = manifest
        .rois
        .par_iter()
        .map(|(id, entry)| {
            let mut probs = Vec::new();
            let mut files = 0;
            let mut sizes: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            for (role, rec) in &entry.files {
                files += 1;
                if !is_inside(&rec.path) {
                    probs.push(problem(
                        id,
                        Some(&rec.path),
                        "is not a path inside the dataset (absolute, or with `..`): not read",
                    ));
                    continue;
                }
                let path = root.join(&rec.path);
                let meta = match std::fs::metadata(&path) {
                    Ok(m) if m.is_file() => m,
                    _ => {
                        probs.push(problem(id, Some(&rec.path), "is missing"));
                        continue;
                    }
                };
                if meta.len() != rec.bytes {
                    probs.push(problem(
                        id,
                        Some(&rec.path),
                        format!("is {} bytes but the manifest records {}", meta.len(), rec.bytes),
                    ));
                    continue;
                }
                if !options.skip_hashes {
                    match super::atomic::hash_file(&path) {
                        Ok(w) if w.sha256 == rec.sha256 => {}
                        Ok(_) => {
                            probs.push(problem(
                                id,
                                Some(&rec.path),
                                "content differs from the manifest (SHA-256 mismatch)",
                            ));
                            continue;
                        }
                        Err(e) => {
                            probs.push(problem(id, Some(&rec.path), format!("cannot read ({e})")));
                            continue;
                        }
                    }
                }
                let size = match role.as_str() {
                    "mask" => check_mask_codes(root, &rec.path, id),
                    "image" => png_size(root, &rec.path, id),
                    _ => continue,
                };
                match size {
                    Ok(s) => {
                        sizes.insert(role.as_str(), s);
                    }
                    Err(p) => probs.push(p),
                }
            }
            if let (Some(i), Some(m)) = (sizes.get("image"), sizes.get("mask")) {
                if i != m {
                    probs.push(problem(id, None, format!("image is {}x{} but mask is {}x{}", i.0, i.1, m.0, m.1)));
                }
            }
            if let (Some(w), Some(h)) = (entry.width, entry.height) {
                for (role, s) in &sizes {
                    if *s != (w as usize, h as usize)
                        && !(*role == "mask" && entry.files.get("mask").is_some_and(|f| f.path.ends_with("MAG-0.png")))
                    {
                        probs.push(problem(
                            id,
                            entry.files.get(*role).map(|f| f.path.as_str()),
                            format!("is {}x{} but the manifest records {w}x{h}", s.0, s.1),
                        ));
                    }
                }
            }
            (files, probs)
        })
        .collect();
    let mut report = VerifyReport { with_manifest: true, rois_checked: manifest.rois.len(), ..Default::default() };
    for (files, probs) in results {
        report.files_checked += files;
        problems.extend(probs);
    }
    report.problems = problems;
    report
}

/// A manifest path is relative, `/`-separated, below the root: no `..`, no root, no prefix.
fn is_inside(rel: &str) -> bool {
    let path = Path::new(rel);
    !rel.is_empty()
        && !rel.contains('\\')
        && path.components().all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir))
}

/// ROIs with files of several suffixes in one folder (`..._MPP-0.2500.png` beside
/// `..._MAG-20.00.png`): their image/mask pairs are ambiguous, and `tile`, `stats` and `overlay`
/// refuse them.
fn several_resolutions(layout: &Layout, dir: &str) -> Vec<Problem> {
    let files = match layout.roi_files(dir) {
        Ok(f) => f,
        Err(e) => {
            return vec![Problem { roi: None, path: Some(dir.to_string()), what: format!("cannot be listed ({e})") }]
        }
    };
    let mut by_key: BTreeMap<(String, u64, u64), Vec<String>> = BTreeMap::new();
    for (path, name) in files {
        by_key.entry(name.key()).or_default().push(path);
    }
    let what = if dir == "masks" { "masks" } else { "images" };
    by_key
        .into_iter()
        .filter(|(_, paths)| paths.len() > 1)
        .map(|((roi, _, _), paths)| {
            let list = paths.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ");
            problem(
                &roi,
                None,
                format!(
                    "has {} {what} of different resolutions in {dir}/: {list}; its image/mask pair is ambiguous (keep one resolution per folder)",
                    paths.len()
                ),
            )
        })
        .collect()
}

fn list_pngs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".png") && !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// The ROIs a folder without a manifest is checked against: the built-in catalogue when every
/// file on disk is one of its ROIs (then a missing ROI is reported), else the ROIs the files
/// name (a dataset of other ROIs is checked for what it holds, not for the 151 it is not).
/// `true` with the table when it was made from the names (the ROIs' sizes are then unknown).
fn expected_from_files(images: &[String], masks: &[String]) -> (RoiTable, bool) {
    let builtin = RoiTable::builtin();
    let keys: std::collections::BTreeSet<(String, u64, u64)> =
        images.iter().chain(masks).filter_map(|n| parse_roi_file_name(n)).map(|p| p.key()).collect();
    let in_catalogue = |k: &(String, u64, u64)| builtin.get(&k.0).is_some_and(|r| (r.xmin, r.ymin) == (k.1, k.2));
    if keys.iter().all(in_catalogue) {
        return (builtin, false);
    }
    let rois = keys
        .into_iter()
        .map(|(id, xmin, ymin)| bcss_catalog::Roi { id, xmin, ymin, xmax: xmin + 1, ymax: ymin + 1, mask_link: None })
        .collect();
    (RoiTable::from_rois(rois), true)
}

fn verify_by_names(root: &Path, options: &VerifyOptions) -> VerifyReport {
    let layout = Layout::new(root);
    // The Google Drive copy keeps its images in rgbs_colorNormalized/.
    let images_dir = if layout.images().is_dir() { "images" } else { "rgbs_colorNormalized" };
    let images = list_pngs(&root.join(images_dir));
    let masks = list_pngs(&layout.masks());
    let (expected, derived) = match &options.expected {
        Some(t) => (t.clone(), false),
        None => expected_from_files(&images, &masks),
    };
    let have_images = !images.is_empty();
    let by_roi = |names: &[String], dir: &str| -> BTreeMap<(String, u64, u64), Vec<(String, String)>> {
        let mut map: BTreeMap<(String, u64, u64), Vec<(String, String)>> = BTreeMap::new();
        for n in names {
            if let Some(p) = parse_roi_file_name(n) {
                map.entry(p.key()).or_default().push((p.suffix.clone(), format!("{dir}/{n}")));
            }
        }
        map
    };
    let image_map = by_roi(&images, images_dir);
    let mask_map = by_roi(&masks, "masks");
    let results: Vec<(usize, Vec<Problem>, Option<String>)> = expected
        .rois()
        .par_iter()
        .map(|roi| {
            let key = (roi.id.clone(), roi.xmin, roi.ymin);
            let mut probs = Vec::new();
            let mut files = 0;
            let ims = image_map.get(&key).cloned().unwrap_or_default();
            let mks = mask_map.get(&key).cloned().unwrap_or_default();
            let absent = (mks.is_empty() && ims.is_empty()).then(|| roi.id.clone());
            if mks.is_empty() {
                probs.push(problem(&roi.id, None, "has no mask"));
            }
            if have_images && ims.is_empty() {
                probs.push(problem(&roi.id, None, "has no image"));
            }
            for (suffix, rel) in &mks {
                files += 1;
                // A mask with bad codes is reported, and the image beside it still checked.
                let msize = match check_mask_codes(root, rel, &roi.id) {
                    Ok(s) => s,
                    Err(p) => {
                        probs.push(p);
                        match png_size(root, rel, &roi.id) {
                            Ok(s) => s,
                            Err(_) => continue,
                        }
                    }
                };
                // Same suffix, else the ROI's only image whatever its suffix (copies labelled
                // MPP-0.2300 and MPP-0.2500 circulate).
                let image = ims.iter().find(|(s, _)| s == suffix).or(if ims.len() == 1 { ims.first() } else { None });
                if let Some((_, irel)) = image {
                    files += 1;
                    match png_size(root, irel, &roi.id) {
                        Ok(isize) if isize != msize => probs.push(problem(
                            &roi.id,
                            None,
                            format!("image is {}x{} but mask is {}x{}", isize.0, isize.1, msize.0, msize.1),
                        )),
                        Ok(_) => {}
                        Err(p) => probs.push(p),
                    }
                } else if !derived
                    && suffix == "MAG-0"
                    && (msize.0 as u64, msize.1 as u64) != (roi.width(), roi.height())
                {
                    probs.push(problem(
                        &roi.id,
                        Some(rel),
                        format!(
                            "is {}x{} but the ROI is {}x{} base pixels",
                            msize.0,
                            msize.1,
                            roi.width(),
                            roi.height()
                        ),
                    ));
                }
            }
            (files, probs, absent)
        })
        .collect();
    let mut report = VerifyReport { with_manifest: false, rois_checked: expected.rois().len(), ..Default::default() };
    for (files, probs, absent) in results {
        report.files_checked += files;
        report.problems.extend(probs);
        report.absent.extend(absent);
    }
    report.absent.sort();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcss_catalog::Roi;
    use bcss_codec::png;
    use bcss_model::{GrayImage, RgbImage};

    fn write_pair(root: &Path, id: &str, w: usize, h: usize, mask_value: u8) {
        std::fs::create_dir_all(root.join("images")).unwrap();
        std::fs::create_dir_all(root.join("masks")).unwrap();
        let name = format!("{id}_xmin10_ymin20_MPP-0.2500.png");
        let img = RgbImage { width: w, height: h, data: vec![128; w * h * 3] };
        png::write_rgb(std::fs::File::create(root.join("images").join(&name)).unwrap(), &img, png::Compression::Fast)
            .unwrap();
        let mask = GrayImage { width: w, height: h, data: vec![mask_value; w * h] };
        png::write_gray(std::fs::File::create(root.join("masks").join(&name)).unwrap(), &mask, png::Compression::Fast)
            .unwrap();
    }

    fn table(ids: &[&str]) -> RoiTable {
        RoiTable::from_rois(
            ids.iter()
                .map(|id| Roi { id: id.to_string(), xmin: 10, ymin: 20, xmax: 30, ymax: 40, mask_link: None })
                .collect(),
        )
    }

    #[test]
    fn invariants_without_manifest() {
        let dir = tempfile::tempdir().unwrap();
        write_pair(dir.path(), "TCGA-AA-AAAA-DX1", 8, 6, 2);
        write_pair(dir.path(), "TCGA-BB-BBBB-DX1", 8, 6, 22);
        let opts = VerifyOptions {
            expected: Some(table(&["TCGA-AA-AAAA-DX1", "TCGA-BB-BBBB-DX1", "TCGA-CC-CCCC-DX1"])),
            skip_hashes: false,
        };
        let r = verify(dir.path(), &opts).unwrap();
        assert!(!r.with_manifest);
        let text: Vec<String> = r.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].starts_with("TCGA-BB-BBBB-DX1: `masks/") && text[0].contains("[22]"), "{text:?}");
        assert!(text.iter().any(|t| t == "TCGA-CC-CCCC-DX1: has no mask"));
        assert!(text.iter().any(|t| t == "TCGA-CC-CCCC-DX1: has no image"));
    }

    #[test]
    fn drive_layout_is_checked_too() {
        let dir = tempfile::tempdir().unwrap();
        write_pair(dir.path(), "TCGA-AA-AAAA-DX1", 8, 6, 2);
        std::fs::rename(dir.path().join("images"), dir.path().join("rgbs_colorNormalized")).unwrap();
        // The Drive copy's images say MPP-0.2300, the masks MPP-0.2500: still one pair.
        std::fs::rename(
            dir.path().join("rgbs_colorNormalized/TCGA-AA-AAAA-DX1_xmin10_ymin20_MPP-0.2500.png"),
            dir.path().join("rgbs_colorNormalized/TCGA-AA-AAAA-DX1_xmin10_ymin20_MPP-0.2300.png"),
        )
        .unwrap();
        let opts = VerifyOptions { expected: Some(table(&["TCGA-AA-AAAA-DX1"])), skip_hashes: false };
        let r = verify(dir.path(), &opts).unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.files_checked, 2);
        let mask = GrayImage { width: 8, height: 5, data: vec![1; 40] };
        png::write_gray(
            std::fs::File::create(dir.path().join("masks/TCGA-AA-AAAA-DX1_xmin10_ymin20_MPP-0.2500.png")).unwrap(),
            &mask,
            png::Compression::Fast,
        )
        .unwrap();
        let r = verify(dir.path(), &opts).unwrap();
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    }

    #[test]
    fn two_resolutions_of_one_roi_are_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        write_pair(dir.path(), "TCGA-AA-AAAA-DX1", 8, 6, 1);
        let opts = VerifyOptions { expected: Some(table(&["TCGA-AA-AAAA-DX1"])), skip_hashes: false };
        assert!(verify(dir.path(), &opts).unwrap().problems.is_empty());
        std::fs::copy(
            dir.path().join("images/TCGA-AA-AAAA-DX1_xmin10_ymin20_MPP-0.2500.png"),
            dir.path().join("images/TCGA-AA-AAAA-DX1_xmin10_ymin20_MAG-20.00.png"),
        )
        .unwrap();
        // A temporary file is not a second resolution.
        std::fs::write(dir.path().join("masks/.TCGA-AA-AAAA-DX1_xmin10_ymin20_MAG-20.00.png.1.0.part"), b"x").unwrap();
        let r = verify(dir.path(), &opts).unwrap();
        let text: Vec<String> = r.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(
            text[0].starts_with("TCGA-AA-AAAA-DX1: has 2 images of different resolutions in images/")
                && text[0].contains("_MAG-20.00.png`, `images/TCGA-AA-AAAA-DX1_xmin10_ymin20_MPP-0.2500.png`"),
            "{text:?}"
        );
    }

    #[test]
    fn size_mismatch_between_image_and_mask() {
        let dir = tempfile::tempdir().unwrap();
        write_pair(dir.path(), "TCGA-AA-AAAA-DX1", 8, 6, 1);
        let mask = GrayImage { width: 8, height: 5, data: vec![1; 40] };
        png::write_gray(
            std::fs::File::create(dir.path().join("masks/TCGA-AA-AAAA-DX1_xmin10_ymin20_MPP-0.2500.png")).unwrap(),
            &mask,
            png::Compression::Fast,
        )
        .unwrap();
        let r = verify(dir.path(), &VerifyOptions { expected: Some(table(&["TCGA-AA-AAAA-DX1"])), skip_hashes: false })
            .unwrap();
        assert_eq!(r.problems.len(), 1);
        assert_eq!(r.problems[0].to_string(), "TCGA-AA-AAAA-DX1: image is 8x6 but mask is 8x5");
    }

    #[test]
    fn a_folder_of_other_rois_is_checked_for_what_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        write_pair(dir.path(), "MY-OWN-ROI-1", 20, 10, 1);
        write_pair(dir.path(), "MY-OWN-ROI-2", 20, 10, 2);
        let r = verify(dir.path(), &VerifyOptions::default()).unwrap();
        assert!(r.problems.is_empty(), "not 151 missing catalogue ROIs: {:?}", r.problems);
        assert_eq!(r.rois_checked, 2);
        std::fs::remove_file(dir.path().join("masks/MY-OWN-ROI-2_xmin10_ymin20_MPP-0.2500.png")).unwrap();
        let r = verify(dir.path(), &VerifyOptions::default()).unwrap();
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].what.contains("has no mask"));
    }

    #[test]
    fn a_mask_with_bad_codes_does_not_hide_a_wrong_image() {
        let dir = tempfile::tempdir().unwrap();
        write_pair(dir.path(), "MY-OWN-ROI-1", 20, 10, 99);
        // The image beside it: another size.
        let img = RgbImage { width: 21, height: 10, data: vec![1; 21 * 10 * 3] };
        png::write_rgb(
            std::fs::File::create(dir.path().join("images/MY-OWN-ROI-1_xmin10_ymin20_MPP-0.2500.png")).unwrap(),
            &img,
            png::Compression::Fast,
        )
        .unwrap();
        let r = verify(dir.path(), &VerifyOptions::default()).unwrap();
        let whats: Vec<&str> = r.problems.iter().map(|p| p.what.as_str()).collect();
        assert!(whats.iter().any(|w| w.contains("outside the label codes")), "{whats:?}");
        assert!(whats.iter().any(|w| w.contains("image is 21x10 but mask is 20x10")), "{whats:?}");
    }

    #[test]
    fn a_manifest_path_outside_the_root_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        write_pair(dir.path(), "MY-OWN-ROI-1", 20, 10, 1);
        let mut m = crate::manifest::Manifest::new("test");
        let entry = |path: &str| crate::manifest::FileRecord { path: path.into(), bytes: 1, sha256: "0".repeat(64) };
        let mut files = BTreeMap::new();
        files.insert("image".to_string(), entry("../../../etc/hostname"));
        files.insert("mask".to_string(), entry("/etc/hostname"));
        m.rois.insert(
            "MY-OWN-ROI-1".into(),
            crate::manifest::RoiEntry {
                slide: "MY-OWN-ROI-1".into(),
                slide_name: None,
                item_id: None,
                bounds: bcss_model::Rect { left: 10, top: 20, right: 30, bottom: 30 },
                requested: "mpp 0.25".into(),
                request_params: None,
                mode: bcss_transform::Mode::Exact,
                encoding: crate::manifest::RegionEncoding::Local,
                mask_source: crate::manifest::MaskSource::Dir,
                native: None,
                scale: None,
                width: None,
                height: None,
                fingerprint: String::new(),
                files,
            },
        );
        m.save(&dir.path().join("manifest.json")).unwrap();
        let r = verify(dir.path(), &VerifyOptions::default()).unwrap();
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(r.problems.iter().all(|p| p.what.contains("not a path inside the dataset")), "{:?}", r.problems);
    }
}
