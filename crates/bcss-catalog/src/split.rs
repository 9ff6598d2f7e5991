//! Train / validation / test splits by institution, and the check that nothing leaks across them.
//!
//! The BCSS paper splits by TCGA tissue source site (the institution that contributed the slide),
//! because stain and scanner differ by site and a random split flatters a model:
//!
//! - [`Scheme::Official`]: every ROI from sites OL, LL, E2, EW, GM and S3 is **test** (45 of the
//!   151 ROIs), the other 106 are **train**.
//! - [`Scheme::OfficialVal`]: the same test set, and sites BH, C8, A8, A1 and E9 held out from
//!   train as **val**.
//!
//! A ROI whose id is not a TCGA name has no site; the schemes put it in train.
//!
//! [`Split::check_leakage`] refuses a split in which one site or one patient (the 12-character
//! TCGA short name) has ROIs in two parts. Splits are written and read as CSV
//! (`roi,site,patient,part`, sorted by ROI, `\n` line ends) or JSON.
//!
//! Invariant: only [`Split::from_path`] touches the file system (it reads); writing a split is
//! `command::split::write`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{patient, tissue_source_site};

/// Sites whose ROIs are the test set of the paper.
pub const TEST_SITES: [&str; 6] = ["OL", "LL", "E2", "EW", "GM", "S3"];
/// Sites held out as validation in [`Scheme::OfficialVal`].
pub const VAL_SITES: [&str; 5] = ["BH", "C8", "A8", "A1", "E9"];

/// One part of a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Part {
    /// Training.
    Train,
    /// Validation.
    Val,
    /// Test.
    Test,
}

impl Part {
    /// `train`, `val` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Val => "val",
            Part::Test => "test",
        }
    }

    /// Parses `train`, `val` (or `validation`) and `test`.
    pub fn parse(s: &str) -> Option<Part> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" => Some(Part::Train),
            "val" | "valid" | "validation" => Some(Part::Val),
            "test" => Some(Part::Test),
            _ => None,
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A built-in split scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Scheme {
    /// Train / test by site, as in the paper.
    Official,
    /// Train / val / test by site.
    OfficialVal,
}

/// Where a split comes from: a built-in [`Scheme`] or a split file. The one reading of the
/// words `official`, `official-val` and a path, for the CLI's `--split` and the Python
/// datasets' `scheme=`.
///
/// ```
/// use bcss_catalog::split::{Part, Scheme, SplitSpec};
/// assert_eq!(SplitSpec::parse("official-val"), SplitSpec::Scheme(Scheme::OfficialVal));
/// assert!(!SplitSpec::default().can_have(Part::Val), "the paper's split has no val part");
/// assert_eq!(SplitSpec::parse("my-split.csv").to_string(), "my-split.csv");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitSpec {
    /// A built-in scheme.
    Scheme(Scheme),
    /// A split file written by `bcss split` (CSV or JSON).
    File(PathBuf),
}

impl Default for SplitSpec {
    /// The paper's split.
    fn default() -> SplitSpec {
        SplitSpec::Scheme(Scheme::Official)
    }
}

impl SplitSpec {
    /// A scheme's name, else a path (checked when resolved).
    pub fn parse(s: &str) -> SplitSpec {
        match Scheme::parse(s) {
            Some(scheme) => SplitSpec::Scheme(scheme),
            None => SplitSpec::File(PathBuf::from(s)),
        }
    }

    /// The scheme, when it is one.
    pub fn scheme(&self) -> Option<Scheme> {
        match self {
            SplitSpec::Scheme(s) => Some(*s),
            SplitSpec::File(_) => None,
        }
    }

    /// False when the split cannot have `part` at all (the official scheme has no val part); a
    /// file may have any part.
    pub fn can_have(&self, part: Part) -> bool {
        !matches!((self, part), (SplitSpec::Scheme(Scheme::Official), Part::Val))
    }

    /// The split of `roi_ids`: a scheme's, or the file's, read and refused when it puts a site
    /// or patient in two parts.
    pub fn resolve<'a>(&self, roi_ids: impl IntoIterator<Item = &'a str>) -> Result<Split, SplitError> {
        match self {
            SplitSpec::Scheme(scheme) => Ok(Split::from_scheme(*scheme, roi_ids)),
            SplitSpec::File(path) if !path.is_file() => {
                Err(SplitError::NotASplit { given: path.display().to_string() })
            }
            SplitSpec::File(path) => {
                let split = Split::from_path(path)?;
                split
                    .check_leakage()
                    .map_err(|source| SplitError::Refused { path: path.clone(), source: Box::new(source) })?;
                Ok(split)
            }
        }
    }
}

impl fmt::Display for SplitSpec {
    /// As given: the scheme's name or the file's path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitSpec::Scheme(s) => f.write_str(s.as_str()),
            SplitSpec::File(p) => write!(f, "{}", p.display()),
        }
    }
}

impl std::str::FromStr for SplitSpec {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<SplitSpec, Self::Err> {
        Ok(SplitSpec::parse(s))
    }
}

impl Scheme {
    /// `official` or `official-val`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Official => "official",
            Scheme::OfficialVal => "official-val",
        }
    }

    /// Parses `official` and `official-val`.
    pub fn parse(s: &str) -> Option<Scheme> {
        match s {
            "official" => Some(Scheme::Official),
            "official-val" => Some(Scheme::OfficialVal),
            _ => None,
        }
    }

    /// The part of a ROI (or slide) under this scheme, from its site.
    pub fn part_of(self, roi_id: &str) -> Part {
        let site = tissue_source_site(roi_id).unwrap_or("");
        if TEST_SITES.contains(&site) {
            Part::Test
        } else if self == Scheme::OfficialVal && VAL_SITES.contains(&site) {
            Part::Val
        } else {
            Part::Train
        }
    }
}

/// A site or patient found in two parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Leak {
    /// One tissue source site in two parts.
    #[error("site {site} is in both {a} ({roi_a}) and {b} ({roi_b})")]
    Site {
        /// The site.
        site: String,
        /// First part.
        a: Part,
        /// A ROI of it in the first part.
        roi_a: String,
        /// Second part.
        b: Part,
        /// A ROI of it in the second part.
        roi_b: String,
    },
    /// One patient in two parts.
    #[error("patient {patient} is in both {a} ({roi_a}) and {b} ({roi_b})")]
    Patient {
        /// The patient.
        patient: String,
        /// First part.
        a: Part,
        /// A ROI of it in the first part.
        roi_a: String,
        /// Second part.
        b: Part,
        /// A ROI of it in the second part.
        roi_b: String,
    },
}

/// Why a split could not be read, written or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// The file could not be read or written.
    #[error("failed to access split file `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The content is malformed.
    #[error("split file `{path}`: {reason}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// ROIs of the dataset that the split does not place.
    #[error("the split does not place {} ROI(s) of the dataset: {}", rois.len(), rois.join(", "))]
    Missing {
        /// The ROI ids, sorted.
        rois: Vec<String>,
    },
    /// The split leaks sites or patients across parts.
    #[error("split leaks across parts: {}", leaks.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("; "))]
    Leakage {
        /// Every leak found, sorted.
        leaks: Vec<Leak>,
    },
    /// A split given by name is neither a scheme nor a file.
    #[error("split `{given}` is neither official, official-val nor a split file")]
    NotASplit {
        /// What was given.
        given: String,
    },
    /// A split file was refused (it leaks).
    #[error("refusing split file `{}`", path.display())]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<SplitError>,
    },
}

/// A split: each ROI id in exactly one part. Iteration is sorted by ROI id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    parts: BTreeMap<String, Part>,
}

/// One row of a split file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitRow {
    /// ROI id.
    pub roi: String,
    /// Tissue source site (empty when the id is not a TCGA name).
    #[serde(default)]
    pub site: String,
    /// Patient (12-character short name; empty when the id is not a TCGA name).
    #[serde(default)]
    pub patient: String,
    /// Part.
    pub part: Part,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitJson {
    #[serde(default)]
    scheme: Option<String>,
    #[serde(default)]
    counts: BTreeMap<Part, usize>,
    rois: Vec<SplitRow>,
}

impl Split {
    /// The scheme applied to these ROI ids.
    pub fn from_scheme<'a>(scheme: Scheme, roi_ids: impl IntoIterator<Item = &'a str>) -> Split {
        Split { parts: roi_ids.into_iter().map(|id| (id.to_string(), scheme.part_of(id))).collect() }
    }

    /// A split from explicit assignments (a later duplicate wins).
    pub fn from_assignments(rows: impl IntoIterator<Item = (String, Part)>) -> Split {
        Split { parts: rows.into_iter().collect() }
    }

    /// The part of a ROI, if the split has it.
    pub fn part_of(&self, roi_id: &str) -> Option<Part> {
        self.parts.get(roi_id).copied()
    }

    /// The part of every ROI in `roi_ids`, or the list of those the split does not place.
    pub fn parts_for<'a>(&self, roi_ids: impl IntoIterator<Item = &'a str>) -> Result<Vec<Part>, SplitError> {
        let mut missing = Vec::new();
        let mut parts = Vec::new();
        for id in roi_ids {
            match self.part_of(id) {
                Some(p) => parts.push(p),
                None => missing.push(id.to_string()),
            }
        }
        if missing.is_empty() {
            Ok(parts)
        } else {
            missing.sort();
            missing.dedup();
            Err(SplitError::Missing { rois: missing })
        }
    }

    /// `(roi, part)` sorted by ROI id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Part)> {
        self.parts.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Number of ROIs.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// ROIs per part.
    pub fn counts(&self) -> BTreeMap<Part, usize> {
        let mut c = BTreeMap::new();
        for p in self.parts.values() {
            *c.entry(*p).or_insert(0) += 1;
        }
        c
    }

    /// The rows of the split file, sorted by ROI.
    pub fn rows(&self) -> Vec<SplitRow> {
        self.iter()
            .map(|(roi, part)| SplitRow {
                roi: roi.to_string(),
                site: tissue_source_site(roi).unwrap_or("").to_string(),
                patient: patient(roi).unwrap_or("").to_string(),
                part,
            })
            .collect()
    }

    /// Refuses a split in which a site or a patient has ROIs in two parts ([`Split::leaks`]).
    pub fn check_leakage(&self) -> Result<(), SplitError> {
        let leaks = self.leaks();
        if leaks.is_empty() {
            Ok(())
        } else {
            Err(SplitError::Leakage { leaks })
        }
    }

    /// Every site and patient with ROIs in two parts, sites first, each sorted by name.
    pub fn leaks(&self) -> Vec<Leak> {
        let mut leaks = Vec::new();
        for by_site in [true, false] {
            // key -> first (part, roi) seen, in ROI order.
            let mut first: BTreeMap<&str, (Part, &str)> = BTreeMap::new();
            let mut found: BTreeMap<&str, Leak> = BTreeMap::new();
            for (roi, part) in self.iter() {
                let key = if by_site { tissue_source_site(roi) } else { patient(roi) };
                let Some(key) = key else { continue };
                match first.get(key) {
                    None => {
                        first.insert(key, (part, roi));
                    }
                    Some(&(p0, r0)) if p0 != part && !found.contains_key(key) => {
                        let (a, roi_a, b, roi_b) = if p0 < part { (p0, r0, part, roi) } else { (part, roi, p0, r0) };
                        let (roi_a, roi_b) = (roi_a.to_string(), roi_b.to_string());
                        let leak = if by_site {
                            Leak::Site { site: key.to_string(), a, roi_a, b, roi_b }
                        } else {
                            Leak::Patient { patient: key.to_string(), a, roi_a, b, roi_b }
                        };
                        found.insert(key, leak);
                    }
                    Some(_) => {}
                }
            }
            leaks.extend(found.into_values());
        }
        leaks
    }

    /// The split as CSV: header `roi,site,patient,part`, sorted by ROI, `\n` line ends.
    pub fn to_csv(&self) -> String {
        let rows = self.rows().into_iter().map(|r| vec![r.roi, r.site, r.patient, r.part.to_string()]);
        super::csv_text(&["roi", "site", "patient", "part"], rows)
    }

    /// The split as pretty JSON: `{"scheme", "counts", "rois": [{roi, site, patient, part}]}`.
    pub fn to_json(&self, scheme: Option<Scheme>) -> String {
        let doc =
            SplitJson { scheme: scheme.map(|s| s.as_str().to_string()), counts: self.counts(), rois: self.rows() };
        let mut s = serde_json::to_string_pretty(&doc).expect("split serialises");
        s.push('\n');
        s
    }

    /// Parses CSV with at least the columns `roi` and `part` (others ignored).
    pub fn parse_csv(text: &str, origin: &str) -> Result<Split, SplitError> {
        let bad = |reason: String| SplitError::Malformed { path: origin.to_string(), reason };
        let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| bad(format!("no `{name}` column (expected header `roi,site,patient,part`)")))
        };
        let (iroi, ipart) = (col("roi")?, col("part")?);
        let mut parts = BTreeMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| bad(e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            let roi = record.get(iroi).unwrap_or("").to_string();
            let raw = record.get(ipart).unwrap_or("");
            let part = Part::parse(raw)
                .ok_or_else(|| bad(format!("line {line}: part `{raw}` of `{roi}` is not train, val or test")))?;
            if roi.is_empty() {
                return Err(bad(format!("line {line}: empty ROI id")));
            }
            if parts.insert(roi.clone(), part).is_some() {
                return Err(bad(format!("line {line}: ROI `{roi}` is listed twice")));
            }
        }
        Ok(Split { parts })
    }

    /// Parses the JSON form written by [`Split::to_json`].
    pub fn parse_json(text: &str, origin: &str) -> Result<Split, SplitError> {
        let doc: SplitJson = serde_json::from_str(text)
            .map_err(|e| SplitError::Malformed { path: origin.to_string(), reason: e.to_string() })?;
        let mut parts = BTreeMap::new();
        for r in doc.rois {
            if parts.insert(r.roi.clone(), r.part).is_some() {
                return Err(SplitError::Malformed {
                    path: origin.to_string(),
                    reason: format!("ROI `{}` is listed twice", r.roi),
                });
            }
        }
        Ok(Split { parts })
    }

    /// Reads a split file: JSON when the name ends in `.json`, CSV otherwise.
    pub fn from_path(path: &Path) -> Result<Split, SplitError> {
        let text = bcss_files::read_to_string(path, bcss_files::TABLE_FILE_LIMIT)
            .map_err(|source| SplitError::Io { path: path.to_path_buf(), source })?;
        let origin = path.display().to_string();
        if is_json(path) {
            Split::parse_json(&text, &origin)
        } else {
            Split::parse_csv(&text, &origin)
        }
    }

    /// The content of a split file named `path`: JSON when the name ends in `.json` (case
    /// ignored), CSV otherwise. `command::split::write` writes it.
    pub fn file_text(&self, path: &Path, scheme: Option<Scheme>) -> String {
        if is_json(path) {
            self.to_json(scheme)
        } else {
            self.to_csv()
        }
    }
}

/// The colour of a part (`train`, `val`, `test`) in charts and contact sheets: train blue, val
/// orange, test green, anything else grey.
pub fn part_color(part: &str) -> [u8; 3] {
    match part {
        "train" => [31, 119, 180],
        "val" => [255, 127, 14],
        "test" => [44, 160, 44],
        _ => [127, 127, 127],
    }
}

fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoiTable;

    fn builtin(scheme: Scheme) -> Split {
        let t = RoiTable::builtin();
        Split::from_scheme(scheme, t.rois().iter().map(|r| r.id.as_str()))
    }

    #[test]
    fn official_split_is_45_test_and_106_train() {
        let s = builtin(Scheme::Official);
        let c = s.counts();
        assert_eq!((c.get(&Part::Train), c.get(&Part::Val), c.get(&Part::Test)), (Some(&106), None, Some(&45)));
        assert_eq!(s.part_of("TCGA-OL-A5RW-DX1"), Some(Part::Test));
        assert_eq!(s.part_of("TCGA-A1-A0SK-DX1"), Some(Part::Train));
        s.check_leakage().unwrap();
    }

    #[test]
    fn official_val_holds_out_five_sites() {
        let s = builtin(Scheme::OfficialVal);
        let c = s.counts();
        // BH 16 + C8 7 + A8 4 + A1 2 + E9 1 = 30 (counted from roiBounds.csv by hand).
        assert_eq!((c[&Part::Train], c[&Part::Val], c[&Part::Test]), (76, 30, 45));
        assert_eq!(s.part_of("TCGA-A1-A0SK-DX1"), Some(Part::Val));
        s.check_leakage().unwrap();
    }

    #[test]
    fn leakage_names_the_site_and_the_patient() {
        let s = Split::from_assignments([
            ("TCGA-A1-A0SK-DX1".to_string(), Part::Train),
            ("TCGA-A1-A0SK-DX2".to_string(), Part::Test),
            ("TCGA-OL-A5RW-DX1".to_string(), Part::Test),
        ]);
        let err = s.check_leakage().unwrap_err().to_string();
        assert_eq!(
            err,
            "split leaks across parts: site A1 is in both train (TCGA-A1-A0SK-DX1) and test (TCGA-A1-A0SK-DX2); \
             patient TCGA-A1-A0SK is in both train (TCGA-A1-A0SK-DX1) and test (TCGA-A1-A0SK-DX2)"
        );
    }

    #[test]
    fn csv_and_json_round_trip() {
        let s = builtin(Scheme::OfficialVal);
        assert_eq!(s.file_text(Path::new("s.JSON"), None), s.to_json(None));
        assert_eq!(s.file_text(Path::new("s.csv"), None), s.to_csv());
        let csv = s.to_csv();
        assert!(csv.starts_with("roi,site,patient,part\nTCGA-A1-A0SK-DX1,A1,TCGA-A1-A0SK,val\n"), "{}", &csv[..120]);
        assert!(!csv.contains('\r'));
        assert_eq!(Split::parse_csv(&csv, "s.csv").unwrap(), s);
        assert_eq!(Split::parse_json(&s.to_json(Some(Scheme::OfficialVal)), "s.json").unwrap(), s);
        let err = Split::parse_csv("roi,part\nA,train\nA,test\n", "s.csv").unwrap_err().to_string();
        assert!(err.contains("line 3: ROI `A` is listed twice"), "{err}");
        let err = s.parts_for(["TCGA-A1-A0SK-DX1", "B", "A"]).unwrap_err().to_string();
        assert_eq!(err, "the split does not place 2 ROI(s) of the dataset: A, B");
        let err = Split::parse_csv("roi,part\nA,holdout\n", "s.csv").unwrap_err().to_string();
        assert!(err.contains("part `holdout` of `A`"), "{err}");
    }
}
