//! The dataset as a Rust API for training loops: ROIs with their part of the split, image + mask
//! loaded with a class map applied, and seeded random crops with a per-pixel loss weight.
//!
//! ```no_run
//! use bcss_catalog::classmap::ClassMap;
//! use bcss_catalog::split::{Part, Scheme};
//! use bcss_dataset::training::{CropConfig, TrainingSet};
//!
//! let set = TrainingSet::open("BCSS".as_ref(), ClassMap::preset("main5").unwrap(), None)?;
//! let mut crops = set.crops(Part::Train, CropConfig::new(512).per_roi(8).seed(42))?;
//! for crop in crops.by_ref().take(64) {
//!     let crop = crop?;
//!     // crop.image: 512 x 512 RGB, crop.mask: classes 0..=5, crop.weight: 0.0 where don't care.
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Without a split, the `official` scheme is applied to the ROI ids (test = sites OL, LL, E2,
//! EW, GM, S3). Masks are remapped to 0 (don't care) and 1..=K.
//!
//! Crops are deterministic for a seed: the sequence of ROIs and offsets depends only on the seed,
//! the part's ROIs (sorted by id) and the configuration. A ROI is loaded once for `per_roi`
//! consecutive crops. A ROI smaller than the crop is padded (don't care, black). Weights are
//! `class_weights[class]` (1.0 for every class unless set with [`RandomCrops::with_class_weights`])
//! and always 0.0 on don't care.
//!
//! [`RandomCrops::for_worker`] gives worker `k` of `n` (a PyTorch DataLoader worker, a process
//! of a pool) its own share: the ROIs whose index in the part is `k` modulo `n`, and a seed
//! derived from `(seed, k)`, so two workers never cut from the same ROI. [`MaskValues`] turns
//! masks into the convention of PyTorch's `CrossEntropyLoss(ignore_index=...)`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::pairs::{find_pairs, PairsError};
use bcss_catalog::classmap::ClassMap;
use bcss_catalog::split::{Part, Scheme, Split, SplitError};
use bcss_codec::{self as codec, CodecError};
use bcss_model::{GrayImage, RgbImage};
use bcss_transform::remap::remap_in_place;

/// One ROI of a training set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingRoi {
    /// ROI id.
    pub id: String,
    /// Its part of the split.
    pub part: Part,
    /// The RGB image.
    pub image: PathBuf,
    /// The label mask (BCSS codes).
    pub mask: PathBuf,
}

/// A ROI loaded: image and remapped mask of the same size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// ROI id.
    pub id: String,
    /// RGB pixels.
    pub image: RgbImage,
    /// Class values: 0 don't care, 1..=K.
    pub mask: GrayImage,
}

/// A random crop.
#[derive(Debug, Clone, PartialEq)]
pub struct Crop {
    /// ROI id.
    pub roi: String,
    /// Left edge in the ROI.
    pub x: usize,
    /// Top edge in the ROI.
    pub y: usize,
    /// `size x size` RGB.
    pub image: RgbImage,
    /// `size x size` class values.
    pub mask: GrayImage,
    /// `size x size` loss weights, 0.0 on don't care.
    pub weight: Vec<f32>,
}

/// How crops are drawn: [`CropConfig::new`] with the crop side, and chainable setters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CropConfig {
    pub(crate) size: usize,
    pub(crate) per_roi: usize,
    pub(crate) seed: u64,
}

impl CropConfig {
    /// Crops of `size x size` pixels, 8 from a ROI before the next, seed 0.
    pub fn new(size: usize) -> Self {
        CropConfig { size, per_roi: 8, seed: 0 }
    }
    /// Crops drawn from a ROI before the next ROI is chosen, at least 1 (default: 8).
    pub fn per_roi(mut self, per_roi: usize) -> Self {
        self.per_roi = per_roi;
        self
    }
    /// Seed of the random sequence (default: 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// Why a training set could not be opened or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainingError {
    /// The dataset directory.
    #[error(transparent)]
    Pairs(#[from] PairsError),
    /// The split.
    #[error(transparent)]
    Split(#[from] SplitError),
    /// A ROI has a mask but no image.
    #[error("ROI `{0}` has no image")]
    NoImage(String),
    /// A file could not be read.
    #[error("failed to read `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be decoded.
    #[error("failed to decode `{path}`")]
    Codec {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: CodecError,
    },
    /// A mask holds a value that is not a BCSS code.
    #[error("`{path}`: value {value} at pixel {index} is not a BCSS code (0..=21)")]
    BadCode {
        /// The mask.
        path: PathBuf,
        /// The value.
        value: u8,
        /// Its pixel index.
        index: usize,
    },
    /// Image and mask differ in size.
    #[error("`{image}` is {iw}x{ih} but its mask is {mw}x{mh}")]
    Size {
        /// The image.
        image: PathBuf,
        /// Image width.
        iw: usize,
        /// Image height.
        ih: usize,
        /// Mask width.
        mw: usize,
        /// Mask height.
        mh: usize,
    },
    /// The part has no ROI to crop from.
    #[error("the split has no ROI in {0}")]
    EmptyPart(Part),
    /// Bad tile size or stride.
    #[error(transparent)]
    Grid(#[from] bcss_transform::tile::GridError),
    /// Bad crop settings.
    #[error("crop size and crops per ROI must be at least 1")]
    BadConfig,
}

/// The values a mask holds once remapped through a class map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MaskValues {
    /// 0 don't care, classes 1..=K (the class map's own values, as `bcss tile` writes them).
    #[default]
    Classes,
    /// Classes 0..=K-1 and don't care as the given value (PyTorch's and MMSegmentation's
    /// `ignore_index`, usually 255). Example, main5 with 255: `[0, 1, 5]` becomes `[255, 0, 4]`.
    Ignore(u8),
}

impl MaskValues {
    /// Converts class values (0 don't care, 1..=K) in place.
    pub fn apply(self, mask: &mut [u8]) {
        if let MaskValues::Ignore(ignore) = self {
            for v in mask {
                *v = if *v == 0 { ignore } else { *v - 1 };
            }
        }
    }

    /// The inverse of [`MaskValues::apply`]: back to 0 don't care (or "no prediction"), 1..=K.
    /// A value over 254 that is not the ignore value is left as is (the caller refuses it).
    pub fn to_classes(self, mask: &mut [u8]) {
        if let MaskValues::Ignore(ignore) = self {
            for v in mask {
                *v = if *v == ignore { 0 } else { v.saturating_add(1) };
            }
        }
    }

    /// The value don't care takes.
    pub fn ignore_value(self) -> u8 {
        match self {
            MaskValues::Classes => 0,
            MaskValues::Ignore(v) => v,
        }
    }
}

/// A dataset directory opened for training.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    rois: Vec<TrainingRoi>,
    map: ClassMap,
}

impl TrainingSet {
    /// Opens a dataset (either layout); every ROI must have an image and a mask. Without a
    /// split, the `official` scheme is applied; with one, every ROI must be placed by it and it
    /// must not leak sites or patients across parts.
    pub fn open(root: &Path, map: ClassMap, split: Option<&Split>) -> Result<TrainingSet, TrainingError> {
        match split {
            Some(s) => TrainingSet::open_split(root, map, Err(s)),
            None => TrainingSet::open_split(root, map, Ok(Scheme::Official)),
        }
    }

    /// Opens a dataset with the parts of a built-in scheme (`official`, `official-val`).
    pub fn open_scheme(root: &Path, map: ClassMap, scheme: Scheme) -> Result<TrainingSet, TrainingError> {
        TrainingSet::open_split(root, map, Ok(scheme))
    }

    fn open_split(root: &Path, map: ClassMap, split: Result<Scheme, &Split>) -> Result<TrainingSet, TrainingError> {
        let pairs = find_pairs(root)?;
        let from_scheme;
        let split = match split {
            Err(s) => {
                s.check_leakage()?;
                s
            }
            Ok(scheme) => {
                from_scheme = Split::from_scheme(scheme, pairs.rois.iter().map(|r| r.roi_id.as_str()));
                &from_scheme
            }
        };
        let parts = split.parts_for(pairs.rois.iter().map(|r| r.roi_id.as_str()))?;
        let rois = pairs
            .rois
            .into_iter()
            .zip(parts)
            .map(|(f, part)| {
                let image = f.image.ok_or_else(|| TrainingError::NoImage(f.roi_id.clone()))?;
                Ok(TrainingRoi { id: f.roi_id, part, image, mask: f.mask })
            })
            .collect::<Result<Vec<_>, TrainingError>>()?;
        Ok(TrainingSet { rois, map })
    }

    /// Every ROI, sorted by id.
    pub fn rois(&self) -> &[TrainingRoi] {
        &self.rois
    }

    /// The ROIs of one part, sorted by id.
    pub fn rois_in(&self, part: Part) -> impl Iterator<Item = &TrainingRoi> {
        self.rois.iter().filter(move |r| r.part == part)
    }

    /// The class map.
    pub fn class_map(&self) -> &ClassMap {
        &self.map
    }

    /// Loads a ROI: its image, and its mask remapped through the class map.
    pub fn load(&self, roi: &TrainingRoi) -> Result<Sample, TrainingError> {
        let read = |path: &Path| {
            bcss_files::read(path, bcss_files::IMAGE_FILE_LIMIT)
                .map_err(|source| TrainingError::Io { path: path.to_path_buf(), source })
        };
        let image = codec::decode_rgb(&read(&roi.image)?)
            .map_err(|source| TrainingError::Codec { path: roi.image.clone(), source })?;
        let mut mask = codec::png::decode_gray(&read(&roi.mask)?)
            .map_err(|source| TrainingError::Codec { path: roi.mask.clone(), source })?;
        if (image.width, image.height) != (mask.width, mask.height) {
            return Err(TrainingError::Size {
                image: roi.image.clone(),
                iw: image.width,
                ih: image.height,
                mw: mask.width,
                mh: mask.height,
            });
        }
        remap_in_place(&mut mask.data, self.map.lut()).map_err(|b| TrainingError::BadCode {
            path: roi.mask.clone(),
            value: b.value,
            index: b.index,
        })?;
        Ok(Sample { id: roi.id.clone(), image, mask })
    }

    /// The width and height of a ROI, from its mask's header.
    pub fn size_of(&self, roi: &TrainingRoi) -> Result<(usize, usize), TrainingError> {
        let file =
            bcss_files::open_read(&roi.mask).map_err(|source| TrainingError::Io { path: roi.mask.clone(), source })?;
        let rows = bcss_codec::rows::RowReader::gray(std::io::BufReader::new(file))
            .map_err(|source| TrainingError::Codec { path: roi.mask.clone(), source })?;
        Ok((rows.width(), rows.height()))
    }

    /// An endless, seeded sequence of random crops from the ROIs of `part`.
    pub fn crops(&self, part: Part, config: CropConfig) -> Result<RandomCrops<'_>, TrainingError> {
        RandomCrops::new(Cow::Borrowed(self), part, config)
    }

    /// As [`TrainingSet::crops`], owning the set (for a crop stream that outlives its borrow,
    /// such as a Python iterator).
    pub fn into_crops(self, part: Part, config: CropConfig) -> Result<RandomCrops<'static>, TrainingError> {
        RandomCrops::new(Cow::Owned(self), part, config)
    }
}

/// Seeded random crops (see [`TrainingSet::crops`]). Never ends; take as many as needed.
pub struct RandomCrops<'a> {
    set: Cow<'a, TrainingSet>,
    /// Indices into `set.rois()`.
    rois: Vec<usize>,
    part: Part,
    config: CropConfig,
    rng: fastrand::Rng,
    current: Option<Sample>,
    left: usize,
    weights: Vec<f32>,
}

impl<'a> RandomCrops<'a> {
    fn new(set: Cow<'a, TrainingSet>, part: Part, config: CropConfig) -> Result<RandomCrops<'a>, TrainingError> {
        if config.size == 0 || config.per_roi == 0 {
            return Err(TrainingError::BadConfig);
        }
        let rois: Vec<usize> = (0..set.rois.len()).filter(|&i| set.rois[i].part == part).collect();
        if rois.is_empty() {
            return Err(TrainingError::EmptyPart(part));
        }
        let weights = vec![1.0; set.map.num_classes() + 1];
        Ok(RandomCrops {
            set,
            rois,
            part,
            config,
            rng: fastrand::Rng::with_seed(config.seed),
            current: None,
            left: 0,
            weights,
        })
    }

    /// The share of worker `worker` of `workers`: the part's ROIs whose index (in id order) is
    /// `worker` modulo `workers`, drawn with a seed derived from `(seed, worker)`. Shares are
    /// disjoint, so two workers never return the same crop; worker 0 of 1 is the whole stream.
    /// A worker whose share is empty (more workers than ROIs) gets
    /// [`TrainingError::EmptyPart`] from its first crop.
    pub fn for_worker(mut self, worker: usize, workers: usize) -> Self {
        let workers = workers.max(1);
        self.rois = self.rois.iter().copied().skip(worker).step_by(workers).collect();
        self.rng = fastrand::Rng::with_seed(worker_seed(self.config.seed, worker, workers));
        self.current = None;
        self.left = 0;
        self
    }

    /// The ROIs this stream draws from (indices into [`TrainingSet::rois`]).
    pub fn roi_indices(&self) -> &[usize] {
        &self.rois
    }

    /// Per-class loss weights, indexed by class value 1..=K (index 0 is ignored: don't care
    /// always weighs 0). For example the `weight_median_frequency` column of `bcss stats`.
    pub fn with_class_weights(mut self, weights: &[f32]) -> Self {
        for (w, &v) in self.weights.iter_mut().zip(weights).skip(1) {
            *w = v;
        }
        self
    }
}

/// Cuts `size x size` at `(x, y)`, padding past the edges with 0.
pub fn crop(sample: &Sample, x: usize, y: usize, size: usize, weights: &[f32]) -> Crop {
    let (w, h) = (sample.mask.width, sample.mask.height);
    let mut image = vec![0u8; size * size * 3];
    let mut mask = vec![0u8; size * size];
    let tw = w.saturating_sub(x).min(size);
    for row in 0..h.saturating_sub(y).min(size) {
        let src = (y + row) * w + x;
        mask[row * size..row * size + tw].copy_from_slice(&sample.mask.data[src..src + tw]);
        image[row * size * 3..(row * size + tw) * 3].copy_from_slice(&sample.image.data[src * 3..(src + tw) * 3]);
    }
    let weight =
        mask.iter().map(|&v| if v == 0 { 0.0 } else { weights.get(v as usize).copied().unwrap_or(1.0) }).collect();
    Crop {
        roi: sample.id.clone(),
        x,
        y,
        image: RgbImage { width: size, height: size, data: image },
        mask: GrayImage { width: size, height: size, data: mask },
        weight,
    }
}

/// The seed of worker `worker` of `workers`: the seed itself for a single worker, otherwise the
/// seed mixed with the worker's number (SplitMix64's constant), so workers' sequences differ.
pub fn worker_seed(seed: u64, worker: usize, workers: usize) -> u64 {
    if workers <= 1 {
        seed
    } else {
        seed ^ (worker as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

impl Iterator for RandomCrops<'_> {
    type Item = Result<Crop, TrainingError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rois.is_empty() {
            return Some(Err(TrainingError::EmptyPart(self.part)));
        }
        if self.left == 0 || self.current.is_none() {
            let roi = &self.set.rois[self.rois[self.rng.usize(..self.rois.len())]];
            match self.set.load(roi) {
                Ok(s) => self.current = Some(s),
                Err(e) => return Some(Err(e)),
            }
            self.left = self.config.per_roi;
        }
        let sample = self.current.as_ref().expect("loaded above");
        let size = self.config.size;
        let x = self.rng.usize(..=sample.mask.width.saturating_sub(size));
        let y = self.rng.usize(..=sample.mask.height.saturating_sub(size));
        self.left -= 1;
        Some(Ok(crop(sample, x, y, size, &self.weights)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcss_codec::png::{write_raw, Compression};

    fn dataset() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for dir in ["rgbs_colorNormalized", "masks"] {
            std::fs::create_dir_all(d.path().join(dir)).unwrap();
        }
        // Drive layout, with different MPP suffixes on image and mask.
        for (id, w, h) in [("TCGA-A1-A0SK-DX1", 20, 12), ("TCGA-OL-A5RW-DX1", 6, 5), ("TCGA-BH-A0AU-DX1", 16, 16)] {
            let mask: Vec<u8> = (0..w * h).map(|i| [0u8, 1, 19, 7, 3][i % 5]).collect();
            let img: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
            let mut b = Vec::new();
            write_raw(&mut b, w, h, 1, &mask, Compression::Fast).unwrap();
            std::fs::write(d.path().join(format!("masks/{id}_xmin0_ymin0_MPP-0.2300.png")), b).unwrap();
            let mut b = Vec::new();
            write_raw(&mut b, w, h, 3, &img, Compression::Fast).unwrap();
            std::fs::write(d.path().join(format!("rgbs_colorNormalized/{id}_xmin0_ymin0_MPP-0.2500.png")), b).unwrap();
        }
        d
    }

    #[test]
    fn rois_parts_loading_and_crops() {
        let d = dataset();
        let set = TrainingSet::open(d.path(), ClassMap::preset("main5").unwrap(), None).unwrap();
        let parts: Vec<(&str, Part)> = set.rois().iter().map(|r| (r.id.as_str(), r.part)).collect();
        assert_eq!(
            parts,
            [("TCGA-A1-A0SK-DX1", Part::Train), ("TCGA-BH-A0AU-DX1", Part::Train), ("TCGA-OL-A5RW-DX1", Part::Test)]
        );
        let s = set.load(&set.rois()[0]).unwrap();
        // Codes 0, 1, 19, 7, 3 -> main5 0, 1, 1, 0, 3.
        assert_eq!(&s.mask.data[..5], &[0, 1, 1, 0, 3]);

        let cfg = CropConfig { size: 8, per_roi: 2, seed: 7 };
        let a: Vec<Crop> = set.crops(Part::Train, cfg).unwrap().take(6).map(Result::unwrap).collect();
        let b: Vec<Crop> = set.crops(Part::Train, cfg).unwrap().take(6).map(Result::unwrap).collect();
        assert_eq!(a, b, "same seed, same crops");
        for c in &a {
            assert_eq!((c.image.width, c.mask.data.len(), c.weight.len()), (8, 64, 64));
            for (&m, &w) in c.mask.data.iter().zip(&c.weight) {
                assert_eq!(w, if m == 0 { 0.0 } else { 1.0 });
            }
            // The crop is the ROI's pixels at (x, y).
            let full = set.load(set.rois().iter().find(|r| r.id == c.roi).unwrap()).unwrap();
            assert_eq!(c.mask.data[0], full.mask.data[c.y * full.mask.width + c.x]);
        }
        // Test ROI (6 x 5) is smaller than the crop: padded with don't care.
        let t = set.crops(Part::Test, cfg).unwrap().next().unwrap().unwrap();
        assert_eq!((t.x, t.y), (0, 0));
        assert!(t.mask.data[5 * 8..].iter().all(|&v| v == 0) && t.weight[5 * 8..].iter().all(|&w| w == 0.0));
        let w = set.crops(Part::Test, cfg).unwrap().with_class_weights(&[9.0, 0.5, 2.0, 3.0]).next().unwrap().unwrap();
        assert_eq!((w.weight[1], w.weight[4]), (0.5, 3.0));
        assert!(matches!(set.crops(Part::Val, cfg), Err(TrainingError::EmptyPart(Part::Val))));
    }

    #[test]
    fn worker_shares_are_disjoint_and_seeded() {
        let d = dataset();
        let set = TrainingSet::open(d.path(), ClassMap::preset("main5").unwrap(), None).unwrap();
        let cfg = CropConfig { size: 4, per_roi: 2, seed: 7 };
        let whole: Vec<Crop> = set.crops(Part::Train, cfg).unwrap().take(4).map(Result::unwrap).collect();
        let one: Vec<Crop> =
            set.crops(Part::Train, cfg).unwrap().for_worker(0, 1).take(4).map(Result::unwrap).collect();
        assert_eq!(whole, one, "worker 0 of 1 is the whole stream");
        let share = |k| -> Vec<String> {
            set.crops(Part::Train, cfg).unwrap().for_worker(k, 2).take(6).map(|c| c.unwrap().roi).collect()
        };
        assert!(share(0).iter().all(|r| r == "TCGA-A1-A0SK-DX1"));
        assert!(share(1).iter().all(|r| r == "TCGA-BH-A0AU-DX1"));
        let empty = set.crops(Part::Train, cfg).unwrap().for_worker(2, 3).next().unwrap();
        assert!(matches!(empty, Err(TrainingError::EmptyPart(Part::Train))));
        let mut m = [0, 1, 5];
        MaskValues::Ignore(255).apply(&mut m);
        assert_eq!(m, [255, 0, 4]);
        MaskValues::Ignore(255).to_classes(&mut m);
        assert_eq!(m, [0, 1, 5]);
    }

    #[test]
    fn a_leaky_split_is_refused() {
        let d = dataset();
        let split = Split::from_assignments([
            ("TCGA-A1-A0SK-DX1".into(), Part::Train),
            ("TCGA-BH-A0AU-DX1".into(), Part::Train),
            ("TCGA-OL-A5RW-DX1".into(), Part::Test),
            ("TCGA-OL-A5RW-DX2".into(), Part::Train),
        ]);
        let err = TrainingSet::open(d.path(), ClassMap::preset("raw").unwrap(), Some(&split)).unwrap_err().to_string();
        assert!(err.contains("site OL"), "{err}");
    }
}
