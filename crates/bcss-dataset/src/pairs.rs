//! Finding each ROI's image and mask in a dataset directory, whichever copy it is.
//!
//! Two layouts circulate:
//!
//! - as `bcss download` writes it: `images/` + `masks/`;
//! - the copy on Google Drive: `rgbs_colorNormalized/` + `masks/`.
//!
//! Files are named `<roi>_xmin<X>_ymin<Y>_<suffix>.png`
//! ([`parse_roi_file_name`]). An image and a mask are paired by `(roi, xmin, ymin)` whatever the
//! suffix says: copies named `MPP-0.2300` and `MPP-0.2500` both exist and hold the same ROIs.
//! Two files with the same key in one folder are refused as ambiguous rather than one being
//! picked. When both `images/` and `rgbs_colorNormalized/` exist, `images/` is used.
//!
//! A folder of masks alone (predictions for `bcss eval`) is read with [`find_masks`]: `DIR/masks/`
//! when it exists, else `DIR` itself.
//!
//! Hidden files (such as the `.part` files of an interrupted write) and files that are not
//! `.png` or not named like a ROI are skipped and listed in [`Pairs::ignored`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::names::parse_roi_file_name;

/// The key that pairs files: ROI id, xmin, ymin.
pub type RoiKey = (String, u64, u64);

/// Which layout a dataset directory has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayoutKind {
    /// `images/` + `masks/` (`bcss download`).
    Bcss,
    /// `rgbs_colorNormalized/` + `masks/` (the Google Drive copy).
    Drive,
    /// `masks/` only.
    MasksOnly,
}

/// The files of one ROI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoiFiles {
    /// ROI id.
    pub roi_id: String,
    /// xmin from the file name.
    pub xmin: u64,
    /// ymin from the file name.
    pub ymin: u64,
    /// The RGB image, when the dataset has one for this ROI.
    pub image: Option<PathBuf>,
    /// The label mask.
    pub mask: PathBuf,
}

impl RoiFiles {
    /// The pairing key.
    pub fn key(&self) -> RoiKey {
        (self.roi_id.clone(), self.xmin, self.ymin)
    }
}

/// The ROIs found in a dataset directory, sorted by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairs {
    /// The layout found.
    pub kind: LayoutKind,
    /// One entry per mask, sorted by `(roi, xmin, ymin)`.
    pub rois: Vec<RoiFiles>,
    /// Images with no mask of the same key.
    pub images_without_mask: Vec<PathBuf>,
    /// Files skipped: hidden, not PNG, or not named like a ROI.
    pub ignored: Vec<PathBuf>,
}

impl Pairs {
    /// Attaches a part of `split` to every ROI found, refusing ROIs the split does not place.
    pub fn with_parts(
        &self,
        split: &bcss_catalog::split::Split,
    ) -> Result<Vec<RoiInput>, bcss_catalog::split::SplitError> {
        let parts = split.parts_for(self.rois.iter().map(|r| r.roi_id.as_str()))?;
        Ok(self.rois.iter().cloned().zip(parts).map(|(files, part)| RoiInput { files, part }).collect())
    }
}

/// A ROI to process: its files and its part of the split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoiInput {
    /// The files.
    pub files: RoiFiles,
    /// The part.
    pub part: bcss_catalog::split::Part,
}

impl Pairs {
    /// The ROIs that have no image.
    pub fn missing_images(&self) -> impl Iterator<Item = &RoiFiles> {
        self.rois.iter().filter(|r| r.image.is_none())
    }
}

/// Why a dataset directory could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PairsError {
    /// The directory does not exist or is not a directory.
    #[error("`{0}` is not a directory")]
    NotADirectory(PathBuf),
    /// Neither a `masks/` folder nor mask files.
    #[error("`{0}` has no `masks/` folder (expected a dataset as `bcss download` writes it, or the Drive copy with `rgbs_colorNormalized/` and `masks/`)")]
    NoMasks(PathBuf),
    /// A folder holds no file named like a ROI.
    #[error("`{0}` holds no PNG named `<roi>_xmin<X>_ymin<Y>_<suffix>.png`")]
    Empty(PathBuf),
    /// Two files of one folder have the same key.
    #[error("`{a}` and `{b}` are the same ROI (same id, xmin and ymin); keep one")]
    Ambiguous {
        /// The first file.
        a: PathBuf,
        /// The second file.
        b: PathBuf,
    },
    /// Listing failed.
    #[error("failed to list `{path}`")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Lists the ROI files of one folder by key; other files go to `ignored`.
fn list(dir: &Path, ignored: &mut Vec<PathBuf>) -> Result<BTreeMap<RoiKey, PathBuf>, PairsError> {
    let io = |source| PairsError::Io { path: dir.to_path_buf(), source };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_type().map_err(io)?.is_dir() {
            continue;
        }
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    // Sorted so which of two clashing files is named first does not depend on the file system.
    names.sort();
    let mut out: BTreeMap<RoiKey, PathBuf> = BTreeMap::new();
    for name in names {
        let path = dir.join(&name);
        let parsed = (!name.starts_with('.')).then(|| parse_roi_file_name(&name)).flatten();
        let Some(parsed) = parsed else {
            ignored.push(path);
            continue;
        };
        if let Some(prev) = out.get(&parsed.key()) {
            return Err(PairsError::Ambiguous { a: prev.clone(), b: path });
        }
        out.insert(parsed.key(), path);
    }
    Ok(out)
}

/// The image folder of a dataset root, if any: `images/`, else `rgbs_colorNormalized/`.
fn image_dir(root: &Path) -> Option<(PathBuf, LayoutKind)> {
    [("images", LayoutKind::Bcss), ("rgbs_colorNormalized", LayoutKind::Drive)]
        .into_iter()
        .map(|(d, k)| (root.join(d), k))
        .find(|(d, _)| d.is_dir())
}

/// Finds every ROI's mask and image under a dataset root (either layout).
pub fn find_pairs(root: &Path) -> Result<Pairs, PairsError> {
    if !root.is_dir() {
        return Err(PairsError::NotADirectory(root.to_path_buf()));
    }
    let masks_dir = root.join("masks");
    if !masks_dir.is_dir() {
        return Err(PairsError::NoMasks(root.to_path_buf()));
    }
    let mut ignored = Vec::new();
    let masks = list(&masks_dir, &mut ignored)?;
    if masks.is_empty() {
        return Err(PairsError::Empty(masks_dir));
    }
    let (mut images, kind) = match image_dir(root) {
        Some((dir, kind)) => (list(&dir, &mut ignored)?, kind),
        None => (BTreeMap::new(), LayoutKind::MasksOnly),
    };
    let rois = masks
        .into_iter()
        .map(|(key, mask)| {
            let image = images.remove(&key);
            RoiFiles { roi_id: key.0, xmin: key.1, ymin: key.2, image, mask }
        })
        .collect();
    ignored.sort();
    Ok(Pairs { kind, rois, images_without_mask: images.into_values().collect(), ignored })
}

/// The mask files of a folder of masks (`DIR/masks/` when it exists, else `DIR`), by key.
pub fn find_masks(dir: &Path) -> Result<BTreeMap<RoiKey, PathBuf>, PairsError> {
    if !dir.is_dir() {
        return Err(PairsError::NotADirectory(dir.to_path_buf()));
    }
    let sub = dir.join("masks");
    let dir = if sub.is_dir() { sub } else { dir.to_path_buf() };
    let mut ignored = Vec::new();
    let masks = list(&dir, &mut ignored)?;
    if masks.is_empty() {
        return Err(PairsError::Empty(dir));
    }
    Ok(masks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn drive_layout_pairs_across_mpp_suffixes() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        touch(r, "rgbs_colorNormalized/TCGA-A1-A0SK-DX1_xmin45749_ymin25055_MPP-0.2500.png");
        touch(r, "masks/TCGA-A1-A0SK-DX1_xmin45749_ymin25055_MPP-0.2300.png");
        touch(r, "masks/TCGA-OL-A5RW-DX1_xmin1_ymin2_MPP-0.2500.png");
        touch(r, "rgbs_colorNormalized/TCGA-ZZ-0000-DX1_xmin1_ymin2_MPP-0.2500.png");
        touch(r, "masks/.TCGA-OL-A5RW-DX1_xmin1_ymin2_MPP-0.2500.png.1.0.part");
        touch(r, "masks/readme.txt");
        let p = find_pairs(r).unwrap();
        assert_eq!(p.kind, LayoutKind::Drive);
        assert_eq!(p.rois.len(), 2);
        assert_eq!(p.rois[0].roi_id, "TCGA-A1-A0SK-DX1");
        assert!(p.rois[0].image.as_ref().unwrap().ends_with("TCGA-A1-A0SK-DX1_xmin45749_ymin25055_MPP-0.2500.png"));
        assert_eq!(p.rois[1].image, None);
        assert_eq!(p.images_without_mask.len(), 1);
        assert_eq!(p.ignored.len(), 2);
    }

    #[test]
    fn bcss_layout_and_ambiguity() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        touch(r, "images/A_xmin1_ymin2_MPP-0.2500.png");
        touch(r, "masks/A_xmin1_ymin2_MPP-0.2500.png");
        assert_eq!(find_pairs(r).unwrap().kind, LayoutKind::Bcss);
        touch(r, "masks/A_xmin1_ymin2_MPP-0.2300.png");
        let err = find_pairs(r).unwrap_err().to_string();
        assert!(
            err.contains("A_xmin1_ymin2_MPP-0.2300.png")
                && err.contains("A_xmin1_ymin2_MPP-0.2500.png")
                && err.contains("same ROI"),
            "{err}"
        );
    }

    #[test]
    fn missing_masks_and_flat_mask_folders() {
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(find_pairs(d.path()), Err(PairsError::NoMasks(_))));
        assert!(matches!(find_pairs(&d.path().join("nope")), Err(PairsError::NotADirectory(_))));
        touch(d.path(), "A_xmin1_ymin2_MPP-0.2500.png");
        assert_eq!(find_masks(d.path()).unwrap().len(), 1);
    }
}
