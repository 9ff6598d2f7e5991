//! `slides manifest`: the GDC manifest (the Data Transfer Tool's format) of the catalogue's
//! slides, found on the GDC by name, and written atomically when asked.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::pipeline::{find_gdc_slides, GdcSlidesError};
use crate::catalog::RoiTable;
use crate::source::gdc::{write_manifest, Gdc, GdcFile, DEFAULT_GDC_URL};
use crate::source::http::{ClientError, Http, HttpConfig, Secret};

/// What to look up and where to write it: the ROIs' slides on the GDC at `url` (default: the
/// public API), with a token for controlled-access files.
#[derive(Debug, Clone)]
pub struct ManifestPlan {
    rois: RoiTable,
    url: String,
    token: Option<Secret>,
    http: HttpConfig,
    out: Option<PathBuf>,
}

impl ManifestPlan {
    /// The manifest of the slides of `rois`, from the public GDC, returned only.
    pub fn new(rois: RoiTable) -> ManifestPlan {
        ManifestPlan { rois, url: DEFAULT_GDC_URL.to_string(), token: None, http: HttpConfig::default(), out: None }
    }
    /// The GDC API (default: [`DEFAULT_GDC_URL`]).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }
    /// A token for controlled-access files (default: none).
    pub fn token(mut self, token: Option<Secret>) -> Self {
        self.token = token;
        self
    }
    /// HTTP settings (default: [`HttpConfig::default`]).
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }
    /// Also write the manifest to this file, atomically (default: none).
    pub fn out(mut self, out: Option<PathBuf>) -> Self {
        self.out = out;
        self
    }
}

/// The manifest found.
#[derive(Debug, Clone)]
pub struct SlidesManifest {
    /// The files, sorted by name.
    pub files: Vec<GdcFile>,
    /// Slides not found, each with why.
    pub missing: BTreeMap<String, String>,
    /// The manifest's text (tab-separated, `\n` endings).
    pub text: String,
}

/// Why the manifest could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SlidesError {
    /// The HTTP client could not be built (the CA file given).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The GDC search failed.
    #[error(transparent)]
    Gdc(#[from] GdcSlidesError),
    /// The manifest file could not be written.
    #[error("cannot write `{}`", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl crate::report::Blamed for SlidesError {
    fn blame(&self) -> crate::report::Blame {
        use crate::report::Blame;
        match self {
            SlidesError::Client(_) => Blame::Input,
            SlidesError::Gdc(_) => Blame::Server,
            SlidesError::Output { .. } => Blame::Output,
        }
    }
}

/// Finds the ROIs' slides on the GDC and, with an output file, writes their manifest.
pub fn manifest(plan: &ManifestPlan) -> Result<SlidesManifest, SlidesError> {
    let gdc = Gdc::new(Http::new(plan.http.clone())?, &plan.url, plan.token.clone());
    let found = find_gdc_slides(&gdc, &plan.rois, None)?;
    let files: Vec<GdcFile> = found.files.into_values().collect();
    let text = write_manifest(&files);
    if let Some(path) = &plan.out {
        crate::dataset::atomic::write_atomic(path, |w| w.write_all(text.as_bytes()))
            .map_err(|source| SlidesError::Output { path: path.clone(), source })?;
    }
    let mut files = files;
    files.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    Ok(SlidesManifest { files, missing: found.missing, text })
}
