//! Class maps: how the 22 BCSS label codes become the K classes a model is trained on.
//!
//! A [`ClassMap`] sends every code 0..=21 either to a class value 1..=K or to 0, "don't care".
//! Code 0 (`outside_roi`) is always don't care and never a class. In every remapped mask bcss
//! writes, **0 stays don't care and the classes are 1..=K**, in the order of
//! [`ClassMap::classes`]; a loss or a metric ignores 0 and never sees it as a class.
//!
//! Built-in presets ([`PRESETS`]):
//!
//! - `raw`: the 21 tissue codes as 21 classes, value = code.
//! - `main5`: the grouping of the BCSS challenge baseline (Amgad et al. 2019):
//!   1 tumour = tumor (1) + angioinvasion (19) + dcis (20); 2 stroma (2);
//!   3 inflammatory = lymphocytic_infiltrate (3) + plasma_cells (10) + other_immune_infiltrate (11);
//!   4 necrosis = necrosis_or_debris (4); 5 other = every remaining tissue code.
//!   `exclude` (7) and `undetermined` (15) are don't care: the paper does not place them, and
//!   neither is tissue of a known kind.
//! - `wsss4`: tumour (1 + 19 + 20, as in `main5`), stroma (2), lymphocytic (3), necrosis (4);
//!   every other code is don't care.
//! - `mutils`: the BCSS authors' own grouping, the region classes their MuTILs model is trained
//!   on (`super_classes` of `configs/region_GTcodes.csv` in PathologyDataScience/MuTILs_Panoptic,
//!   which `configs/panoptic_model_configs.py` makes its `REGION_CODES`): 1 tumor = tumor (1) +
//!   metaplasia_NOS (8) + angioinvasion (19) + dcis (20); 2 stroma (2); 3 tils =
//!   lymphocytic_infiltrate (3) + plasma_cells (10) + other_immune_infiltrate (11); 4 normal =
//!   normal_acinus_or_duct (13); 5 junk = necrosis_or_debris (4) + glandular_secretions (5) +
//!   mucoid_material (12) + lymphatics (14); 6 blood (6); 7 other = undetermined (15) +
//!   nerve (16) + skin_adnexa (17) + blood_vessel (18) + other (21); 8 white = fat (9).
//!   `exclude` (7) is don't care, as MuTILs' `EXCLUDE` class, which its loader gives zero weight
//!   (`RegionDatasetLoaders.py`). Colours are the CSV's.
//! - `mutils-main`: the same file's finer `main_classes` (11): tumor, stroma_nos, tils_dense
//!   (3 + 11), plasma_cell_infiltrate (10), normal_acinus_or_duct, necrotic_debris (4), junk
//!   (5 + 12 + 14), blood, blood_vessel (18), other (15 + 16 + 17 + 21), white_space (9);
//!   don't care as `mutils`.
//!
//! Custom maps come from TOML ([`ClassMap::from_toml_str`]):
//!
//! ```toml
//! name = "tumour-vs-rest"       # optional, defaults to the file stem
//! dont_care = [7, 15]            # codes besides 0 that are ignored
//!
//! [[class]]
//! name = "tumour"
//! codes = [1, 19, 20]
//! color = [220, 20, 60]          # optional; default: the colour of the first code
//!
//! [[class]]
//! name = "rest"
//! codes = [2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 21]
//! ```
//!
//! Classes take the values 1, 2, ... in file order; an explicit `value = N` is allowed but the
//! values must still be exactly 1..=K. Validation refuses, naming the code: a code left unmapped,
//! a code mapped twice, a class given the don't-care value 0 (or code 0), a number that is not a
//! BCSS code, an empty class, two classes with one name.
//!
//! Invariant: pure data; only [`ClassMap::from_path`] and [`ClassMap::resolve`] read a file.

use std::fmt;
use std::path::{Path, PathBuf};

use super::codes::{self, CODES, DONT_CARE, MAX_CODE};

/// The names of the built-in class maps.
pub const PRESETS: [&str; 5] = ["raw", "main5", "wsss4", "mutils", "mutils-main"];

pub use bcss_model::NOT_A_CODE;

/// One class of a map.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Class {
    /// Value in remapped masks, 1..=K.
    pub value: u8,
    /// Name (`tumour`, `stroma`, ...).
    pub name: String,
    /// Display colour.
    pub color: [u8; 3],
    /// The BCSS codes that make it up, ascending.
    pub codes: Vec<u8>,
}

/// A validated class map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassMap {
    name: String,
    classes: Vec<Class>,
    dont_care: Vec<u8>,
    lut: [u8; 256],
}

/// What is wrong with a class map.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MapProblem {
    /// A code 1..=21 is in no class and not in `dont_care`.
    Unmapped {
        /// The code.
        code: u8,
    },
    /// A code is in two places.
    Twice {
        /// The code.
        code: u8,
        /// The first place (a class name or `dont_care`).
        first: String,
        /// The second place.
        second: String,
    },
    /// A class was given value 0, the don't-care value.
    DontCareValue {
        /// The class.
        class: String,
    },
    /// A class lists code 0 (`outside_roi`), which is always don't care.
    CodeZero {
        /// The class.
        class: String,
    },
    /// A number that is not a BCSS code (22 or more).
    NotACode {
        /// The number.
        code: i64,
        /// Where it was listed.
        place: String,
    },
    /// A class lists no codes.
    EmptyClass {
        /// The class.
        class: String,
    },
    /// Two classes share a name.
    DuplicateName {
        /// The name.
        class: String,
    },
    /// Explicit values are not exactly 1..=K.
    BadValues {
        /// The values in class order.
        values: Vec<i64>,
    },
    /// The map has no class at all.
    NoClasses,
}

fn code_text(code: u8) -> String {
    match CODES.get(code as usize) {
        Some(c) => format!("code {code} ({})", c.label),
        None => format!("code {code}"),
    }
}

impl fmt::Display for MapProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapProblem::Unmapped { code } => {
                write!(f, "{} is not mapped: add it to a class or to `dont_care`", code_text(*code))
            }
            MapProblem::Twice { code, first, second } => {
                write!(f, "{} is mapped twice, to `{first}` and to `{second}`", code_text(*code))
            }
            MapProblem::DontCareValue { class } => {
                write!(f, "class `{class}` has value 0, which is reserved for don't care")
            }
            MapProblem::CodeZero { class } => {
                write!(f, "class `{class}` lists code 0 (outside_roi), which is always don't care and never a class")
            }
            MapProblem::NotACode { code, place } => {
                write!(f, "`{place}` lists {code}, which is not a BCSS code (0..=21)")
            }
            MapProblem::EmptyClass { class } => write!(f, "class `{class}` lists no codes"),
            MapProblem::DuplicateName { class } => write!(f, "two classes are named `{class}`"),
            MapProblem::BadValues { values } => {
                write!(f, "class values {values:?} are not exactly 1..=K (one value per class, no gaps)")
            }
            MapProblem::NoClasses => write!(f, "the map has no `[[class]]`"),
        }
    }
}

/// Why a class map could not be built or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClassMapError {
    /// The map is invalid.
    #[error("class map `{map}`: {problem}")]
    Invalid {
        /// The map's name or file.
        map: String,
        /// What is wrong.
        problem: MapProblem,
    },
    /// The file could not be read.
    #[error("failed to read class map `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is malformed.
    #[error("class map `{path}` is not valid TOML")]
    Toml {
        /// The file.
        path: String,
        /// The parser's error.
        #[source]
        source: toml::de::Error,
    },
    /// Neither a preset name nor an existing file.
    #[error("`{0}` is neither a built-in class map (raw, main5, wsss4, mutils, mutils-main) nor a TOML file")]
    Unknown(String),
}

/// The TOML schema of a custom map.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    name: Option<String>,
    #[serde(default)]
    dont_care: Vec<i64>,
    #[serde(default, rename = "class")]
    classes: Vec<ClassEntry>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassEntry {
    name: String,
    codes: Vec<i64>,
    value: Option<i64>,
    color: Option<[u8; 3]>,
}

/// A class before validation: name, explicit value, colour, codes.
struct Draft {
    name: String,
    value: Option<i64>,
    color: Option<[u8; 3]>,
    codes: Vec<i64>,
}

impl ClassMap {
    /// A built-in map by name (`raw`, `main5`, `wsss4`, `mutils`, `mutils-main`).
    pub fn preset(name: &str) -> Option<ClassMap> {
        let d = |name: &str, codes: &[i64]| Draft {
            name: name.to_string(),
            value: None,
            color: None,
            codes: codes.to_vec(),
        };
        let (classes, dont_care): (Vec<Draft>, Vec<i64>) = match name {
            "raw" => (CODES[1..].iter().map(|c| d(c.label, &[c.value as i64])).collect(), vec![]),
            "main5" => (
                vec![
                    d("tumour", &[1, 19, 20]),
                    d("stroma", &[2]),
                    d("inflammatory", &[3, 10, 11]),
                    d("necrosis", &[4]),
                    d("other", &[5, 6, 8, 9, 12, 13, 14, 16, 17, 18, 21]),
                ],
                vec![7, 15],
            ),
            "wsss4" => (
                vec![d("tumour", &[1, 19, 20]), d("stroma", &[2]), d("lymphocytic", &[3]), d("necrosis", &[4])],
                vec![5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 21],
            ),
            "mutils" => {
                let c = |name: &str, color: [u8; 3], codes: &[i64]| Draft { color: Some(color), ..d(name, codes) };
                (
                    vec![
                        c("tumor", [255, 0, 0], &[1, 8, 19, 20]),
                        c("stroma", [150, 250, 0], &[2]),
                        c("tils", [0, 0, 255], &[3, 10, 11]),
                        c("normal", [60, 200, 0], &[13]),
                        c("junk", [255, 255, 0], &[4, 5, 12, 14]),
                        c("blood", [255, 50, 0], &[6]),
                        c("other", [0, 0, 0], &[15, 16, 17, 18, 21]),
                        c("white", [70, 70, 70], &[9]),
                    ],
                    vec![7],
                )
            }
            "mutils-main" => {
                let c = |name: &str, color: [u8; 3], codes: &[i64]| Draft { color: Some(color), ..d(name, codes) };
                (
                    vec![
                        c("tumor", [255, 0, 0], &[1, 8, 19, 20]),
                        c("stroma_nos", [150, 250, 0], &[2]),
                        c("tils_dense", [0, 0, 255], &[3, 11]),
                        c("plasma_cell_infiltrate", [0, 0, 255], &[10]),
                        c("normal_acinus_or_duct", [60, 200, 0], &[13]),
                        c("necrotic_debris", [255, 255, 0], &[4]),
                        c("junk", [255, 255, 0], &[5, 12, 14]),
                        c("blood", [255, 50, 0], &[6]),
                        c("blood_vessel", [255, 50, 0], &[18]),
                        c("other", [0, 0, 0], &[15, 16, 17, 21]),
                        c("white_space", [70, 70, 70], &[9]),
                    ],
                    vec![7],
                )
            }
            _ => return None,
        };
        Some(ClassMap::build(name, classes, &dont_care).expect("built-in class maps are valid"))
    }

    /// Parses a custom map (see the module docs for the format). `default_name` is used when the
    /// file sets no `name`; `origin` names the file in errors.
    pub fn from_toml_str(text: &str, default_name: &str, origin: &str) -> Result<ClassMap, ClassMapError> {
        let file: MapFile =
            toml::from_str(text).map_err(|source| ClassMapError::Toml { path: origin.to_string(), source })?;
        let name = file.name.unwrap_or_else(|| default_name.to_string());
        let classes = file
            .classes
            .into_iter()
            .map(|c| Draft { name: c.name, value: c.value, color: c.color, codes: c.codes })
            .collect();
        ClassMap::build(&name, classes, &file.dont_care).map_err(|e| match e {
            ClassMapError::Invalid { problem, .. } => ClassMapError::Invalid { map: origin.to_string(), problem },
            other => other,
        })
    }

    /// Reads a custom map from a TOML file.
    pub fn from_path(path: &Path) -> Result<ClassMap, ClassMapError> {
        let text = bcss_files::read_to_string(path, bcss_files::TABLE_FILE_LIMIT)
            .map_err(|source| ClassMapError::Io { path: path.to_path_buf(), source })?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "custom".to_string());
        ClassMap::from_toml_str(&text, &stem, &path.display().to_string())
    }

    /// A preset by name, or else a TOML file at that path.
    pub fn resolve(spec: &str) -> Result<ClassMap, ClassMapError> {
        if let Some(map) = ClassMap::preset(spec) {
            return Ok(map);
        }
        let path = Path::new(spec);
        if path.is_file() {
            return ClassMap::from_path(path);
        }
        Err(ClassMapError::Unknown(spec.to_string()))
    }

    fn build(name: &str, drafts: Vec<Draft>, dont_care: &[i64]) -> Result<ClassMap, ClassMapError> {
        let invalid = |problem| ClassMapError::Invalid { map: name.to_string(), problem };
        if drafts.is_empty() {
            return Err(invalid(MapProblem::NoClasses));
        }
        // Values: explicit ones must be exactly 1..=K; otherwise file order.
        let values: Vec<i64> = drafts.iter().enumerate().map(|(i, d)| d.value.unwrap_or(i as i64 + 1)).collect();
        if let Some(d) = drafts.iter().find(|d| d.value == Some(0)) {
            return Err(invalid(MapProblem::DontCareValue { class: d.name.clone() }));
        }
        let mut sorted = values.clone();
        sorted.sort_unstable();
        if sorted.iter().enumerate().any(|(i, &v)| v != i as i64 + 1) {
            return Err(invalid(MapProblem::BadValues { values }));
        }
        // Where each code went, to catch duplicates and gaps; index 0 is don't care.
        let mut place: [Option<String>; 22] = Default::default();
        place[0] = Some("dont_care".to_string());
        let put = |code: i64, at: &str, place: &mut [Option<String>; 22]| -> Result<(), ClassMapError> {
            if !(0..=MAX_CODE as i64).contains(&code) {
                return Err(invalid(MapProblem::NotACode { code, place: at.to_string() }));
            }
            let code = code as u8;
            if code == DONT_CARE {
                if at == "dont_care" {
                    return Ok(());
                }
                return Err(invalid(MapProblem::CodeZero { class: at.to_string() }));
            }
            if let Some(first) = &place[code as usize] {
                return Err(invalid(MapProblem::Twice { code, first: first.clone(), second: at.to_string() }));
            }
            place[code as usize] = Some(at.to_string());
            Ok(())
        };
        let mut dc = Vec::new();
        for &code in dont_care {
            put(code, "dont_care", &mut place)?;
            if code != 0 {
                dc.push(code as u8);
            }
        }
        let mut lut = [NOT_A_CODE; 256];
        lut[0] = DONT_CARE;
        for &c in &dc {
            lut[c as usize] = DONT_CARE;
        }
        let mut classes = Vec::with_capacity(drafts.len());
        for (d, &value) in drafts.iter().zip(&values) {
            if d.name.trim().is_empty() || d.name == "dont_care" {
                return Err(invalid(MapProblem::DuplicateName { class: d.name.clone() }));
            }
            if classes.iter().any(|c: &Class| c.name == d.name) {
                return Err(invalid(MapProblem::DuplicateName { class: d.name.clone() }));
            }
            if d.codes.is_empty() {
                return Err(invalid(MapProblem::EmptyClass { class: d.name.clone() }));
            }
            for &code in &d.codes {
                put(code, &d.name, &mut place)?;
                lut[code as usize] = value as u8;
            }
            let mut codes: Vec<u8> = d.codes.iter().map(|&c| c as u8).collect();
            codes.sort_unstable();
            let color = d.color.unwrap_or(CODES[d.codes[0] as usize].color);
            classes.push(Class { value: value as u8, name: d.name.clone(), color, codes });
        }
        if let Some(code) = (1..=MAX_CODE).find(|&c| place[c as usize].is_none()) {
            return Err(invalid(MapProblem::Unmapped { code }));
        }
        classes.sort_by_key(|c| c.value);
        dc.sort_unstable();
        Ok(ClassMap { name: name.to_string(), classes, dont_care: dc, lut })
    }

    /// The map's name (`main5`, or a custom map's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The classes, by value 1..=K.
    pub fn classes(&self) -> &[Class] {
        &self.classes
    }

    /// K, the number of classes.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// The codes 1..=21 mapped to don't care (code 0 is always don't care and not listed).
    pub fn dont_care_codes(&self) -> &[u8] {
        &self.dont_care
    }

    /// The class value of a BCSS code: `Some(0)` for don't care, `None` for a byte that is not a
    /// BCSS code.
    pub fn class_of(&self, code: u8) -> Option<u8> {
        let v = self.lut[code as usize];
        (v != NOT_A_CODE).then_some(v)
    }

    /// Code -> class lookup table: 0 don't care, 1..=K classes, [`NOT_A_CODE`] for 22..=255.
    pub fn lut(&self) -> &[u8; 256] {
        &self.lut
    }

    /// Name of class value `v` (`dont_care` for 0).
    pub fn class_name(&self, v: u8) -> &str {
        if v == 0 {
            return "dont_care";
        }
        self.classes.get(v as usize - 1).map_or("?", |c| c.name.as_str())
    }

    /// Display colour of class value `v` (black for 0 and for values outside the map).
    pub fn color(&self, v: u8) -> [u8; 3] {
        if v == 0 {
            return [0, 0, 0];
        }
        self.classes.get(v as usize - 1).map_or([0, 0, 0], |c| c.color)
    }

    /// The map as TOML in the custom-map format, so a preset can be copied and edited.
    pub fn to_toml(&self) -> String {
        let list = |codes: &[u8]| codes.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
        let mut s = format!("name = \"{}\"\ndont_care = [{}]\n", self.name, list(&self.dont_care));
        for c in &self.classes {
            let labels: Vec<&str> = c.codes.iter().map(|&k| codes::CODES[k as usize].label).collect();
            s.push_str(&format!(
                "\n[[class]]\nname = \"{}\"\ncodes = [{}]  # {}\ncolor = [{}, {}, {}]\n",
                c.name,
                list(&c.codes),
                labels.join(", "),
                c.color[0],
                c.color[1],
                c.color[2]
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcss_transform::remap::{count_into, fold_counts, remap_in_place, remap_into, BadCode};

    // The lookup tables at work on codes (the remapping itself is `transform::remap`'s).
    #[test]
    fn main5_example_from_the_docs() {
        let m = ClassMap::preset("main5").unwrap();
        let mut d = [0u8, 1, 19, 7, 10];
        remap_in_place(&mut d, m.lut()).unwrap();
        assert_eq!(d, [0, 1, 1, 0, 3]);
        let mut out = [9u8; 3];
        assert_eq!(remap_into(&[2, 22, 30], &mut out, m.lut()), Err(BadCode { value: 22, index: 1 }));
        let mut d = [1u8, 2, 40];
        assert_eq!(remap_in_place(&mut d, m.lut()), Err(BadCode { value: 40, index: 2 }));
        assert_eq!(d, [1, 2, 40]);
    }

    #[test]
    fn counting_and_folding() {
        let data: Vec<u8> = [0u8, 1, 1, 19, 20, 7, 15, 2, 21].repeat(3);
        let mut h = [0u64; 256];
        count_into(&data, &mut h);
        assert_eq!((h[0], h[1], h[19], h[21], h[3]), (3, 6, 3, 3, 0));
        let m = ClassMap::preset("main5").unwrap();
        // dont_care = 0,7,15 -> 9; tumour = 1,1,19,20 -> 12; stroma 3; other (21) 3.
        assert_eq!(fold_counts(&h, m.lut(), 5), Ok(vec![9, 12, 3, 0, 0, 3]));
        h[200] = 1;
        assert_eq!(fold_counts(&h, m.lut(), 5), Err(200));
    }

    fn classes_of(map: &ClassMap) -> Vec<(u8, &str, Vec<u8>)> {
        map.classes().iter().map(|c| (c.value, c.name.as_str(), c.codes.clone())).collect()
    }

    #[test]
    fn main5_is_the_papers_grouping_with_code_1_in_tumour() {
        let m = ClassMap::preset("main5").unwrap();
        assert_eq!(
            classes_of(&m),
            vec![
                (1, "tumour", vec![1, 19, 20]),
                (2, "stroma", vec![2]),
                (3, "inflammatory", vec![3, 10, 11]),
                (4, "necrosis", vec![4]),
                (5, "other", vec![5, 6, 8, 9, 12, 13, 14, 16, 17, 18, 21]),
            ]
        );
        assert_eq!(m.dont_care_codes(), &[7, 15]);
        let expect: [u8; 22] = [0, 1, 2, 3, 4, 5, 5, 0, 5, 5, 3, 3, 5, 5, 5, 0, 5, 5, 5, 1, 1, 5];
        for code in 0..=21u8 {
            assert_eq!(m.class_of(code), Some(expect[code as usize]), "code {code}");
        }
        assert_eq!(m.class_of(22), None);
        assert_eq!(m.class_of(255), None);
    }

    #[test]
    fn raw_and_wsss4() {
        let raw = ClassMap::preset("raw").unwrap();
        assert_eq!(raw.num_classes(), 21);
        assert!((0..=21u8).all(|c| raw.class_of(c) == Some(c)));
        assert_eq!(raw.class_name(19), "angioinvasion");
        let w = ClassMap::preset("wsss4").unwrap();
        assert_eq!(w.num_classes(), 4);
        let kept: Vec<(u8, u8)> = (0..=21u8).filter_map(|c| w.class_of(c).filter(|&v| v > 0).map(|v| (c, v))).collect();
        assert_eq!(kept, vec![(1, 1), (2, 2), (3, 3), (4, 4), (19, 1), (20, 1)]);
    }

    /// `mutils` and `mutils-main` against the authors' CSV (a committed copy, cited in
    /// `tests/fixtures/mutils/README.md`), code by code: every BCSS code's class is the one the
    /// CSV's `super_codes` / `main_codes` give it, renumbered in the map's order; code 0 and
    /// `EXCLUDE` (code 0 in the CSV) are don't care.
    #[test]
    fn mutils_maps_are_the_authors_csv_code_by_code() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mutils/region_GTcodes.csv");
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let header = reader.headers().unwrap().clone();
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (code, main_name, main_code, super_name, super_code) =
            (col("GT_code"), col("main_classes"), col("main_codes"), col("super_classes"), col("super_codes"));
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        for (preset, name_col, code_col) in [("mutils", super_name, super_code), ("mutils-main", main_name, main_code)]
        {
            let map = ClassMap::preset(preset).unwrap();
            // The CSV's class of each BCSS code (codes 22, 23 and 254 are not BCSS codes).
            let mut checked = [false; 22];
            for row in &rows {
                let gt: u8 = match row[code].parse() {
                    Ok(v) if v <= 21 => v,
                    _ => continue,
                };
                let csv_code: u8 = row[code_col].parse().unwrap();
                let got = map.class_of(gt).unwrap();
                if csv_code == 0 {
                    assert_eq!(got, 0, "{preset}: code {gt} is EXCLUDE in the CSV");
                } else {
                    // The map keeps the CSV's classes in the CSV's order, so its value is the
                    // CSV's code renumbered without gaps; the name is the CSV's, in snake case.
                    assert_ne!(got, 0, "{preset}: code {gt} is a class in the CSV");
                    let want_name = snake(&row[name_col]);
                    assert_eq!(map.class_name(got), want_name, "{preset}: code {gt}");
                    let earlier: std::collections::BTreeSet<u8> = rows
                        .iter()
                        .filter(|r| r[code].parse::<u8>().is_ok_and(|v| v <= 21))
                        .map(|r| r[code_col].parse::<u8>().unwrap())
                        .filter(|&c| c != 0 && c < csv_code)
                        .collect();
                    assert_eq!(got as usize, earlier.len() + 1, "{preset}: code {gt}'s class value");
                }
                checked[gt as usize] = true;
            }
            assert!(checked.iter().all(|&c| c), "{preset}: the CSV places every BCSS code");
        }
    }

    /// The CSV's class names as bcss writes them (lower snake case).
    fn snake(name: &str) -> String {
        let known = [
            ("TILsDense", "tils_dense"),
            ("StromaNOS", "stroma_nos"),
            ("PlasmaCellInfiltrate", "plasma_cell_infiltrate"),
            ("NormalAcinusOrDuct", "normal_acinus_or_duct"),
            ("NecroticDebris", "necrotic_debris"),
            ("BloodVessel", "blood_vessel"),
            ("WhiteSpace", "white_space"),
        ];
        known
            .iter()
            .find(|(csv, _)| *csv == name)
            .map_or_else(|| name.to_ascii_lowercase(), |(_, ours)| ours.to_string())
    }

    #[test]
    fn presets_round_trip_through_toml() {
        for name in PRESETS {
            let m = ClassMap::preset(name).unwrap();
            let back = ClassMap::from_toml_str(&m.to_toml(), "x", "x.toml").unwrap();
            assert_eq!(back, m, "{name}");
        }
    }

    const TWO: &str = "dont_care = [7, 15]\n[[class]]\nname = \"tumour\"\ncodes = [1, 19, 20]\n[[class]]\nname = \"rest\"\ncodes = [2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 21]\n";

    #[test]
    fn custom_map_parses_with_file_order_values() {
        let m = ClassMap::from_toml_str(TWO, "two", "two.toml").unwrap();
        assert_eq!(m.name(), "two");
        assert_eq!(m.class_of(1), Some(1));
        assert_eq!(m.class_of(21), Some(2));
        assert_eq!(m.class_of(15), Some(0));
        assert_eq!(m.color(1), CODES[1].color);
    }

    fn refusal(text: &str) -> String {
        ClassMap::from_toml_str(text, "t", "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn a_map_missing_code_1_is_refused_naming_it() {
        // The widely copied loader's bug: angioinvasion and DCIS are tumour, tumour itself is not.
        let text = TWO.replace("codes = [1, 19, 20]", "codes = [19, 20]");
        assert_eq!(
            refusal(&text),
            "class map `t.toml`: code 1 (tumor) is not mapped: add it to a class or to `dont_care`"
        );
    }

    #[test]
    fn invalid_maps_are_refused_naming_the_code() {
        let cases = [
            (
                TWO.replace("[1, 19, 20]", "[1, 19, 20, 2]"),
                "code 2 (stroma) is mapped twice, to `tumour` and to `rest`",
            ),
            (TWO.replace("[7, 15]", "[7, 15, 21]"), "code 21 (other) is mapped twice, to `dont_care` and to `rest`"),
            (TWO.replace("[1, 19, 20]", "[0, 1, 19, 20]"), "class `tumour` lists code 0 (outside_roi)"),
            (
                TWO.replace("name = \"tumour\"", "name = \"tumour\"\nvalue = 0"),
                "class `tumour` has value 0, which is reserved for don't care",
            ),
            (TWO.replace("[7, 15]", "[7, 15, 22]"), "`dont_care` lists 22, which is not a BCSS code"),
            (TWO.replace("name = \"rest\"", "name = \"tumour\""), "two classes are named `tumour`"),
            (TWO.replace("name = \"tumour\"", "name = \"tumour\"\nvalue = 3"), "are not exactly 1..=K"),
            ("dont_care = [1]\n".to_string(), "has no `[[class]]`"),
            (TWO.replace("codes = [1, 19, 20]", "codes = [1, 19, 20]\ncolour = [1, 2, 3]"), "not valid TOML"),
        ];
        for (text, want) in cases {
            let err = ClassMap::from_toml_str(&text, "t", "t.toml").unwrap_err();
            let shown = format!("{err} {}", std::error::Error::source(&err).map(|s| s.to_string()).unwrap_or_default());
            assert!(shown.contains(want), "{shown:?} should contain {want:?}");
        }
    }

    #[test]
    fn explicit_values_reorder_classes() {
        let text = TWO
            .replace("name = \"tumour\"", "name = \"tumour\"\nvalue = 2")
            .replace("name = \"rest\"", "name = \"rest\"\nvalue = 1");
        let m = ClassMap::from_toml_str(&text, "t", "t.toml").unwrap();
        assert_eq!(m.class_name(1), "rest");
        assert_eq!(m.class_of(1), Some(2));
    }

    #[test]
    fn resolve_tells_presets_files_and_nonsense_apart() {
        assert_eq!(ClassMap::resolve("main5").unwrap().name(), "main5");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mine.toml");
        std::fs::write(&p, TWO).unwrap();
        assert_eq!(ClassMap::resolve(p.to_str().unwrap()).unwrap().name(), "mine");
        assert!(ClassMap::resolve("main6").unwrap_err().to_string().contains("neither a built-in class map"));
    }
}
