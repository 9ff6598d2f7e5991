//! `manifest.json`: what every file of a dataset is and where it came from.
//!
//! One entry per ROI (keyed by ROI id, sorted): slide, item id, bounds, requested and native
//! resolution, scale, output size, encoding, mode, and size + SHA-256 of every file written.
//! The manifest never holds a secret: no API key, no token, no URL query string with either.
//! It is rewritten atomically after each ROI, so a killed run leaves the last complete state.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::atomic::{self, Written};
use super::names::RoiFileName;
use bcss_model::Rect;

/// Current manifest format version.
pub const FORMAT: u32 = 1;

/// The largest `manifest.json` read: about 2 KB per ROI, so room for tens of thousands of ROIs.
pub const MANIFEST_LIMIT: u64 = 256 << 20;

/// A dataset's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version ([`FORMAT`]).
    pub format: u32,
    /// The tool that wrote it (`bcss 0.1.0`).
    pub tool: String,
    /// Where the data came from: the DSA API URL (no credentials) or the local slide folder.
    pub source: String,
    /// Every ROI a run was asked for (sorted), so `verify` can tell a missing ROI from one never
    /// wanted.
    #[serde(default)]
    pub planned: Vec<String>,
    /// Per ROI, by ROI id.
    pub rois: BTreeMap<String, RoiEntry>,
    /// Whole slide files (`--pipeline wsis`), by file name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slides: BTreeMap<String, SlideFile>,
}

/// A whole slide file downloaded into `wsis/`, checked against the GDC's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlideFile {
    /// Path relative to the dataset root (`wsis/<file name>`).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// MD5 (lower-case hex), as the GDC lists it and as checked after the download.
    pub md5: String,
    /// The GDC `file_id`.
    pub gdc_id: String,
}

/// The slide's native resolution, from its tile metadata.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Native {
    /// mm per base pixel, horizontally.
    pub mm_x: Option<f64>,
    /// mm per base pixel, vertically.
    pub mm_y: Option<f64>,
    /// Objective power.
    pub magnification: Option<f64>,
}

/// Where a dataset's masks came from: bcss's one set of mask sources (`download` takes the
/// first two, `extract` all three). Written lowercase in the manifest, as ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum MaskSource {
    /// The published mask PNGs behind each ROI's `mask_link` (the original's way).
    #[default]
    Links,
    /// Rasterised locally with HistomicsTK's rules from annotations (the slide's, from a DSA,
    /// or annotation files in a folder).
    Annotations,
    /// Mask PNGs in a folder.
    Dir,
}

impl MaskSource {
    /// `links`, `annotations` or `dir`, as in the manifest and the fingerprint.
    pub fn as_str(self) -> &'static str {
        match self {
            MaskSource::Links => "links",
            MaskSource::Annotations => "annotations",
            MaskSource::Dir => "dir",
        }
    }
}

/// What region pixels were made from: the encoding asked of a DSA (`JPEG`, `PNG`), a local
/// slide file (`local`) or a slide read from the GDC (`gdc`). Written as those words, as ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegionEncoding {
    /// A DSA's JPEG regions.
    #[serde(rename = "JPEG")]
    Jpeg,
    /// A DSA's PNG regions.
    #[serde(rename = "PNG")]
    Png,
    /// A slide file read locally.
    #[serde(rename = "local")]
    Local,
    /// A slide read from the GDC (by ranges, or whole).
    #[serde(rename = "gdc")]
    Gdc,
}

impl RegionEncoding {
    /// The word the manifest records.
    pub fn as_str(self) -> &'static str {
        match self {
            RegionEncoding::Jpeg => "JPEG",
            RegionEncoding::Png => "PNG",
            RegionEncoding::Local => "local",
            RegionEncoding::Gdc => "gdc",
        }
    }
}

/// One ROI of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoiEntry {
    /// Slide short name (`TCGA-A1-A0SK`).
    pub slide: String,
    /// Slide item / file name, when known.
    pub slide_name: Option<String>,
    /// Girder item id, when the data came from a DSA.
    pub item_id: Option<String>,
    /// ROI bounds in base pixels, written `{"xmin", "ymin", "xmax", "ymax"}` as ever.
    pub bounds: Rect,
    /// Requested resolution as the user gave it: `mpp 0.25`, `mag 20`, `base`.
    pub requested: String,
    /// The resolution parameters actually sent (`mm_x=0.00025000&mm_y=0.00025000`), if any.
    pub request_params: Option<String>,
    /// How requests were formed (`exact` or `compat`).
    pub mode: bcss_transform::Mode,
    /// What the region pixels were made from.
    pub encoding: RegionEncoding,
    /// Where masks came from.
    pub mask_source: MaskSource,
    /// Native resolution of the slide.
    pub native: Option<Native>,
    /// Base pixels per output pixel.
    pub scale: Option<f64>,
    /// Output (image and mask) width.
    pub width: Option<u64>,
    /// Output (image and mask) height.
    pub height: Option<u64>,
    /// A string that changes whenever anything that shapes the files changes; a rerun redoes
    /// a ROI whose fingerprint differs.
    pub fingerprint: String,
    /// Files by role (`image`, `mask`, `annotations`).
    pub files: BTreeMap<String, FileRecord>,
}

/// One file of the dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    /// Path relative to the dataset root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

impl FileRecord {
    /// A record for a file just written.
    pub fn new(path: String, written: &Written) -> FileRecord {
        FileRecord { path, bytes: written.bytes, sha256: written.sha256.clone() }
    }

    /// True when the file under `root` exists with this size and hash.
    pub fn matches_disk(&self, root: &Path) -> bool {
        let path = root.join(&self.path);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() == self.bytes => {}
            _ => return false,
        }
        atomic::hash_file(&path).map(|w| w.sha256 == self.sha256).unwrap_or(false)
    }
}

/// Why a manifest could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Reading or writing failed.
    #[error("failed to access manifest `{path}`")]
    Io {
        /// The manifest's path.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not a manifest bcss understands.
    #[error("manifest `{path}` is not valid (move it away to start a fresh one)")]
    Parse {
        /// The manifest's path.
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

impl bcss_model::report::Blamed for ManifestError {
    /// An unreadable manifest is a file to move away (input); one that cannot be read or
    /// written is the folder's (output).
    fn blame(&self) -> bcss_model::report::Blame {
        match self {
            ManifestError::Parse { .. } => bcss_model::report::Blame::Input,
            ManifestError::Io { .. } => bcss_model::report::Blame::Output,
        }
    }
}

/// A file a run would write under another name than the manifest records, or than a file already
/// on disk has, for the same ROI and role: a different resolution, mask layout or ROI table in the
/// same dataset root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// ROI id.
    pub roi: String,
    /// `image` or `mask`.
    pub role: String,
    /// The path the manifest records, or of the file found on disk (one the manifest does not
    /// record: a run that wrote the image but failed on the mask records neither).
    pub recorded: String,
    /// The path the run would write.
    pub planned: String,
}

/// Several files of one ROI would stand side by side: refused, because image/mask pairing (by
/// ROI id and bounds, whatever the suffix) would become ambiguous.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "`{root}` already holds {} as `{}`; this run would write `{}` beside it{}. Two files of one ROI make image/mask pairs ambiguous: write into another --out, or delete the old files and manifest.json",
    first.roi, first.recorded, first.planned,
    if more > &0 { format!(" (and {more} more files like it)") } else { String::new() }
)]
pub struct NameConflict {
    /// The dataset root.
    pub root: String,
    /// The first conflict.
    pub first: Renamed,
    /// How many more.
    pub more: usize,
}

/// The folder of a root-relative path (`images` of `images/a.png`).
fn folder(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

impl Manifest {
    /// The files of `planned` (ROI id, role, relative path) that the manifest records under
    /// another path for the same ROI and role, or that `on_disk` (root-relative paths of ROI
    /// files, [`Layout::roi_files`](super::Layout::roi_files)) holds under another name in the
    /// same folder.
    pub fn renamed(
        &self,
        on_disk: &[(String, RoiFileName)],
        planned: impl IntoIterator<Item = (String, &'static str, String)>,
    ) -> Vec<Renamed> {
        planned
            .into_iter()
            .filter_map(|(roi, role, path)| {
                let recorded = self.rois.get(&roi).and_then(|e| e.files.get(role)).map(|f| &f.path);
                let conflict = match recorded {
                    Some(recorded) if recorded != &path => Some(recorded),
                    _ => on_disk
                        .iter()
                        .find(|(p, n)| n.roi_id == roi && p != &path && folder(p) == folder(&path))
                        .map(|(p, _)| p),
                };
                conflict.map(|c| Renamed { roi, role: role.to_string(), recorded: c.clone(), planned: path })
            })
            .collect()
    }

    /// [`Manifest::renamed`] as an error, when there is any.
    pub fn check_names(
        &self,
        root: &Path,
        on_disk: &[(String, RoiFileName)],
        planned: impl IntoIterator<Item = (String, &'static str, String)>,
    ) -> Result<(), Box<NameConflict>> {
        let mut renamed = self.renamed(on_disk, planned);
        if renamed.is_empty() {
            return Ok(());
        }
        let more = renamed.len() - 1;
        Err(Box::new(NameConflict { root: root.display().to_string(), first: renamed.swap_remove(0), more }))
    }

    /// An empty manifest for data from `source`.
    pub fn new(source: impl Into<String>) -> Manifest {
        Manifest {
            format: FORMAT,
            tool: format!("bcss {}", env!("CARGO_PKG_VERSION")),
            source: source.into(),
            planned: Vec::new(),
            rois: BTreeMap::new(),
            slides: BTreeMap::new(),
        }
    }

    /// Reads a manifest; `Ok(None)` when there is none. A manifest over [`MANIFEST_LIMIT`] bytes,
    /// or a special file in its place, is an error before anything is read.
    pub fn load(path: &Path) -> Result<Option<Manifest>, ManifestError> {
        let text = match bcss_files::read_to_string(path, MANIFEST_LIMIT) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ManifestError::Io { path: path.display().to_string(), source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| ManifestError::Parse { path: path.display().to_string(), source })
    }

    /// Adds ROI ids to [`Manifest::planned`], keeping it sorted and unique.
    pub fn plan(&mut self, ids: impl IntoIterator<Item = String>) {
        self.planned.extend(ids);
        self.planned.sort();
        self.planned.dedup();
    }

    /// Writes the manifest atomically, pretty-printed with sorted keys and `\n` line ends.
    pub fn save(&self, path: &Path) -> Result<(), ManifestError> {
        let io_err = |source| ManifestError::Io { path: path.display().to_string(), source };
        atomic::write_atomic(path, |w| {
            serde_json::to_writer_pretty(&mut *w, self).map_err(io::Error::from)?;
            w.write_all(b"\n")
        })
        .map_err(io_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_save_says_why() {
        // A ROI's failure is shown as its chain on one line: this level names the file, the OS
        // error is its source, and each is said once.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone/manifest.json");
        let err = Manifest::new("x").save(&path).unwrap_err();
        assert!(!err.to_string().contains("No such file"), "{err}");
        let line = bcss_model::report::error_chain(&err);
        let want = format!("failed to access manifest `{}`: No such file or directory (os error 2)", path.display());
        assert!(line.starts_with(&want) && line.matches("No such file").count() == 1, "{line}");
    }

    #[test]
    fn names_are_checked_against_the_manifest_and_the_disk() {
        let name = |path: &str| {
            (path.to_string(), super::super::names::parse_roi_file_name(path.rsplit_once('/').unwrap().1).unwrap())
        };
        let planned = || {
            vec![
                ("R".to_string(), "image", "images/R_xmin1_ymin2_MAG-20.00.png".to_string()),
                ("R".to_string(), "mask", "masks/R_xmin1_ymin2_MAG-20.00.png".to_string()),
            ]
        };
        let m = Manifest::new("x");
        assert!(m.check_names(Path::new("/d"), &[], planned()).is_ok());
        // Same names, and other ROIs' or other folders' files: no conflict.
        let fine = [
            name("images/R_xmin1_ymin2_MAG-20.00.png"),
            name("images/S_xmin1_ymin2_MPP-0.2500.png"),
            name("other/R_xmin1_ymin2_MPP-0.2500.png"),
        ];
        assert!(m.check_names(Path::new("/d"), &fine, planned()).is_ok());
        // An unrecorded image of another resolution.
        let disk = [name("images/R_xmin1_ymin2_MPP-0.2500.png")];
        let err = m.check_names(Path::new("/d"), &disk, planned()).unwrap_err();
        assert_eq!(err.first.recorded, "images/R_xmin1_ymin2_MPP-0.2500.png");
        assert_eq!(err.first.planned, "images/R_xmin1_ymin2_MAG-20.00.png");
        assert_eq!(err.more, 0);
        assert!(err.to_string().contains("already holds R as `images/R_xmin1_ymin2_MPP-0.2500.png`"), "{err}");
    }

    #[test]
    fn round_trip_and_disk_check() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("images")).unwrap();
        std::fs::write(dir.path().join("images/a.png"), b"abc").unwrap();
        let mut m = Manifest::new("http://127.0.0.1:1/api/v1");
        let rec = FileRecord::new("images/a.png".into(), &atomic::hash_file(&dir.path().join("images/a.png")).unwrap());
        assert!(rec.matches_disk(dir.path()));
        m.rois.insert(
            "R".into(),
            RoiEntry {
                slide: "TCGA-AA-AAAA".into(),
                slide_name: None,
                item_id: None,
                bounds: Rect { left: 1, top: 2, right: 3, bottom: 4 },
                requested: "base".into(),
                request_params: None,
                mode: bcss_transform::Mode::Exact,
                encoding: RegionEncoding::Jpeg,
                mask_source: MaskSource::Links,
                native: None,
                scale: Some(1.0),
                width: Some(2),
                height: Some(2),
                fingerprint: "f".into(),
                files: [("image".to_string(), rec.clone())].into(),
            },
        );
        let path = dir.path().join("manifest.json");
        m.save(&path).unwrap();
        assert_eq!(Manifest::load(&path).unwrap().unwrap(), m);
        // The bounds keep the names existing datasets were written with.
        let text = std::fs::read_to_string(&path).unwrap();
        let bounds = text.find("\"bounds\"").map(|i| &text[i..]).unwrap();
        let bounds: String = bounds[..bounds.find('}').unwrap() + 1].split_whitespace().collect();
        assert_eq!(bounds, r#""bounds":{"xmin":1,"ymin":2,"xmax":3,"ymax":4}"#);
        // The closed sets are enums written as the words manifests always held.
        let words: String = text.split_whitespace().collect();
        for field in [r#""mode":"exact""#, r#""encoding":"JPEG""#, r#""mask_source":"links""#] {
            assert!(words.contains(field), "{field} in {text}");
        }
        for (word, want) in
            [("\"PNG\"", RegionEncoding::Png), ("\"local\"", RegionEncoding::Local), ("\"gdc\"", RegionEncoding::Gdc)]
        {
            assert_eq!(serde_json::from_str::<RegionEncoding>(word).unwrap(), want);
        }
        for (word, want) in [("\"annotations\"", MaskSource::Annotations), ("\"dir\"", MaskSource::Dir)] {
            assert_eq!(serde_json::from_str::<MaskSource>(word).unwrap(), want);
            assert_eq!(format!("\"{}\"", want.as_str()), word);
        }
        assert_eq!(serde_json::from_str::<bcss_transform::Mode>("\"compat\"").unwrap(), bcss_transform::Mode::Compat);
        // A word outside the set is an error that names it, not a silent string.
        let odd = text.replace(r#""mask_source": "links""#, r#""mask_source": "ftp""#);
        assert_ne!(odd, text);
        std::fs::write(&path, &odd).unwrap();
        let err = bcss_model::report::error_chain(&Manifest::load(&path).unwrap_err());
        assert!(err.contains("unknown variant `ftp`"), "the bad word is named: {err}");
        m.save(&path).unwrap();
        std::fs::write(dir.path().join("images/a.png"), b"abd").unwrap();
        assert!(!rec.matches_disk(dir.path()), "same size, other content");
        std::fs::write(&path, b"{").unwrap();
        assert!(Manifest::load(&path).unwrap_err().to_string().contains("move it away"));
    }
}
