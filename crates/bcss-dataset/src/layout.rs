//! The directory layout of a dataset: `images/ masks/ annotations/ logs/` under one root, and
//! `manifest.json` at the root.

use std::io;
use std::path::{Path, PathBuf};

use super::names::{parse_roi_file_name, RoiFileName};

/// A dataset root and the folders under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout under `root` (nothing is created).
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    /// Creates the root (parents too), `images/`, `masks/` and `logs/`, and `annotations/` when
    /// `annotations` (a run that writes them: an empty folder would say the dataset has none).
    /// Fails clearly when the root is a file or cannot be written.
    pub fn create(&self, annotations: bool) -> io::Result<()> {
        if self.root.exists() && !self.root.is_dir() {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "it exists and is not a directory"));
        }
        let mut dirs = vec![self.images(), self.masks(), self.logs()];
        if annotations {
            dirs.push(self.annotations());
        }
        for dir in dirs {
            // A folder of the dataset that is a link (to anywhere) is refused: every file of the
            // run would be written through it (issue 22).
            bcss_files::check_own_dir(&dir)
                .and_then(|()| std::fs::create_dir_all(&dir))
                .map_err(|e| io::Error::new(e.kind(), format!("`{}`: {e}", dir.display())))?;
        }
        // Probe writability now rather than after the first download: a new file of a random
        // name, made exclusively (never through a planted link of a fixed name).
        let probe = tempfile::Builder::new().prefix(".bcss-write-probe.").tempfile_in(&self.root)?;
        probe.close()
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `images/`: RGB regions.
    pub fn images(&self) -> PathBuf {
        self.root.join("images")
    }
    /// `masks/`: label masks.
    pub fn masks(&self) -> PathBuf {
        self.root.join("masks")
    }
    /// `annotations/`: annotation JSON per slide.
    pub fn annotations(&self) -> PathBuf {
        self.root.join("annotations")
    }
    /// `logs/`: one log per run.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// `manifest.json`.
    pub fn manifest(&self) -> PathBuf {
        self.root.join("manifest.json")
    }
    /// The files of folder `dir` (`images`, `masks`, ...) named like a ROI's image or mask
    /// (`<roi>_xmin<X>_ymin<Y>_<suffix>.png`), as root-relative paths with their parsed names,
    /// sorted. Hidden files (temporary `.<name>.<pid>.<n>.part` files) are not listed; an
    /// absent folder lists nothing.
    pub fn roi_files(&self, dir: &str) -> io::Result<Vec<(String, RoiFileName)>> {
        let entries = match std::fs::read_dir(self.root.join(dir)) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut files = Vec::new();
        for entry in entries {
            let Ok(name) = entry?.file_name().into_string() else { continue };
            if name.starts_with('.') {
                continue;
            }
            if let Some(parsed) = parse_roi_file_name(&name) {
                files.push((format!("{dir}/{name}"), parsed));
            }
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(files)
    }

    /// A path relative to the root, with `/` separators, as recorded in the manifest.
    pub fn relative(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
    }
}
