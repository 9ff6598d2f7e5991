#![deny(missing_docs)]
#![forbid(unsafe_code)]

//! The dataset on disk: where files go, what they are called, and the manifest that says what
//! each one is.
//!
//! - [`names`]: the original downloader's file names (`<roi>_xmin<X>_ymin<Y>_MPP-0.2500.png`) and
//!   their parser, plus the guard that keeps server-supplied names inside the output root.
//! - [`layout`]: `images/ masks/ annotations/ logs/` under a root.
//! - [`lock`]: one writer per root, an OS advisory lock on `.bcss.lock` that a killed process
//!   never leaves behind.
//! - [`atomic`]: every file is written to a temporary name, hashed while written, synced, then
//!   renamed: a killed run never leaves a partial file under a final name.
//! - [`pairs`]: each ROI's image and mask in either layout (`images/` or the Drive copy's
//!   `rgbs_colorNormalized/`), paired by ROI id + xmin + ymin whatever the suffix.
//! - [`training`]: the Rust API for training loops: ROIs with their split, loading with a class
//!   map, seeded random crops with per-pixel weights.
//! - [`tiles`]: the tiles of `bcss tile` (same grid, same rule for dropping), listed and read
//!   lazily from the ROI files.
//! - [`manifest`]: `manifest.json`, per ROI the request, the geometry and size + sha256 of every file.
//! - [`distribution`]: the class distribution per ROI and per part of a split (`bcss stats`,
//!   `bcss report`; their charts are the facade's `render`).
//! - [`scores`]: confusion matrices, Dice and IoU of predictions (`bcss eval`, `bcss report`).
//! - [`verify`]: checks a dataset directory against its manifest and the dataset's invariants.
//!
//! ```
//! use bcss_dataset::pairs::find_pairs;
//! use bcss_dataset::{parse_roi_file_name, roi_file_name};
//!
//! // The original downloader's names, and back.
//! let name = roi_file_name("TCGA-A1-A0SK-DX1", 45749, 25055, "MPP-0.2500");
//! assert_eq!(name, "TCGA-A1-A0SK-DX1_xmin45749_ymin25055_MPP-0.2500.png");
//! let key = parse_roi_file_name(&name).unwrap().key();
//! assert_eq!(key, ("TCGA-A1-A0SK-DX1".to_string(), 45749, 25055));
//!
//! // A folder of masks without images pairs as masks only.
//! let root = tempfile::tempdir()?;
//! std::fs::create_dir(root.path().join("masks"))?;
//! std::fs::write(root.path().join("masks").join(&name), b"")?;
//! let pairs = find_pairs(root.path()).unwrap();
//! assert_eq!(pairs.rois.len(), 1);
//! assert!(pairs.rois[0].image.is_none());
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod atomic;
pub mod distribution;
pub mod layout;
pub mod lock;
pub mod manifest;
pub mod names;
pub mod pairs;
pub mod scores;
pub mod tiles;
pub mod training;
pub mod verify;

pub use layout::Layout;
pub use lock::{DatasetLock, LockError, LockOwner};
pub use manifest::{FileRecord, Manifest, RoiEntry};
pub use names::{parse_roi_file_name, roi_file_name, RoiFileName};
