//! Annotation documents of a slide (`GET annotation/item/{id}`) and the ground-truth codes table
//! that turns their groups into mask values.
//!
//! ## Elements
//!
//! [`parse`] reads the JSON array the server returns (one document per annotation, each with
//! `annotation.elements`) and keeps, for every element, its position (`annidx`, `elementidx`),
//! its `id`, its group and its geometry:
//!
//! - the group is `group` when the key is present (even if `null`), else `label.value`, else
//!   none: HistomicsTK's `get_bboxes_from_slide_annotations` rule. An element without a group is
//!   never drawn, but still counts when the area around a ROI is measured;
//! - `polyline` elements keep their points (`[x, y, z]`, z dropped) as given, fractional
//!   coordinates included, and are always treated as closed polygons (`closed` is ignored, as in
//!   HistomicsTK);
//! - `rectangle` elements keep `center`, `width`, `height` and `rotation` (radians,
//!   counter-clockwise; a missing `rotation` is 0 here, where HistomicsTK raises `KeyError`);
//! - every other type (`point`, `ellipse`, `circle`, `arrow`, ...) is kept as
//!   [`Shape::Other`] so callers can count what was skipped.
//!
//! A single document (`GET annotation/{id}`) or a bare `{"elements": [...]}` object is accepted
//! too. Coordinates are base-resolution slide pixels.
//!
//! ## Codes table
//!
//! [`CodeTable`] is HistomicsTK's `GTCodes` table: columns `group, overlay_order, GT_code,
//! is_roi, is_background_class, color, comments`. [`CodeTable::bcss`] is the BCSS scheme built in
//! (HistomicsTK's `sample_GTcodes.csv`): `roi` 254 and `evaluation_roi` 253 define ROIs,
//! `mostly_stroma` (2) is the background class, `exclude` (7) is drawn last, and every other
//! class has overlay order 1.
//!
//! ```
//! use bcss::source::annotations::{parse, CodeTable, Shape};
//!
//! let json = br#"[{"annotation": {"name": "a", "elements": [
//!     {"type": "rectangle", "group": "roi", "center": [10, 10, 0], "width": 8, "height": 6, "rotation": 0},
//!     {"type": "polyline", "label": {"value": "mostly_tumor"}, "points": [[8, 8, 0], [12, 8, 0], [10, 12.5, 0]]},
//!     {"type": "point", "center": [3, 3, 0]}
//! ]}}]"#;
//! let parsed = parse(json).unwrap();
//! assert_eq!(parsed.elements.len(), 3);
//! assert_eq!(parsed.elements[1].group.as_deref(), Some("mostly_tumor"));
//! assert!(matches!(parsed.elements[2].shape, Shape::Other { .. }));
//! let table = CodeTable::bcss();
//! assert_eq!(table.get("roi").map(|g| (g.gt_code, g.is_roi)), Some((254, true)));
//! assert_eq!(table.background().map(|g| g.group.as_str()), Some("mostly_stroma"));
//! ```
//!
//! Invariant: pure parsing of bytes already in memory, plus [`CodeTable::from_path`].

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The BCSS codes table as HistomicsTK ships it (`sample_GTcodes.csv`).
const BCSS_GTCODES_CSV: &str = include_str!("../catalog/data/htk_gtcodes.csv");

/// One annotation element.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// Index of the annotation document in the array (`annidx`).
    pub annidx: usize,
    /// Index of the element in its document (`elementidx`).
    pub elementidx: usize,
    /// The element's `id`, when it has one.
    pub id: Option<String>,
    /// `group`, else `label.value`.
    pub group: Option<String>,
    /// Geometry.
    pub shape: Shape,
}

/// The geometry of an element, in base slide pixels.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A polygon (`polyline`, closed or not), vertices `[x, y]`.
    Polyline {
        /// Vertices in order.
        points: Vec<[f64; 2]>,
    },
    /// A rectangle, possibly rotated about its centre.
    Rectangle {
        /// Centre `[x, y]`.
        center: [f64; 2],
        /// Width before rotation.
        width: f64,
        /// Height before rotation.
        height: f64,
        /// Rotation in radians (counter-clockwise in slide coordinates).
        rotation: f64,
    },
    /// Any other element type, which is not rasterised.
    Other {
        /// The element's `type`.
        kind: String,
    },
}

impl Shape {
    /// The element type as in the JSON (`polyline`, `rectangle`, ...).
    pub fn kind(&self) -> &str {
        match self {
            Shape::Polyline { .. } => "polyline",
            Shape::Rectangle { .. } => "rectangle",
            Shape::Other { kind } => kind,
        }
    }
}

/// The elements of a slide's annotations, in document order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotations {
    /// Every element of every document.
    pub elements: Vec<Element>,
}

impl Annotations {
    /// How many elements of each type cannot be rasterised (`point`, `ellipse`, ...), by type.
    pub fn unsupported(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for e in &self.elements {
            if let Shape::Other { kind } = &e.shape {
                *counts.entry(kind.clone()).or_insert(0) += 1;
            }
        }
        counts
    }
}

/// Why annotation JSON could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    /// The bytes are not JSON.
    #[error("not valid JSON ({0})")]
    Json(serde_json::Error),
    /// The JSON does not have the shape of an annotation response.
    #[error("annotation JSON has an unexpected shape: {0}")]
    Shape(String),
    /// One element is malformed.
    #[error("annotation {annidx} element {elementidx}{}: {reason}", id.as_deref().map(|i| format!(" (`{i}`)")).unwrap_or_default())]
    Element {
        /// Document index.
        annidx: usize,
        /// Element index.
        elementidx: usize,
        /// Element id.
        id: Option<String>,
        /// What is wrong.
        reason: String,
    },
}

/// Parses the body of `GET annotation/item/{id}` (an array of documents), one document, or a
/// bare `{"elements": [...]}` object.
pub fn parse(bytes: &[u8]) -> Result<Annotations, AnnotationError> {
    let value: Value = serde_json::from_slice(bytes).map_err(AnnotationError::Json)?;
    let docs: Vec<&Value> = match &value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![&value],
        _ => return Err(AnnotationError::Shape("expected an array of annotation documents".into())),
    };
    let mut elements = Vec::new();
    for (annidx, doc) in docs.into_iter().enumerate() {
        let body = doc.get("annotation").unwrap_or(doc);
        let list = match body.get("elements") {
            Some(Value::Array(list)) => list,
            Some(_) => return Err(AnnotationError::Shape(format!("document {annidx}: `elements` is not an array"))),
            None if doc.get("annotation").is_some() => &Vec::new(),
            None => {
                return Err(AnnotationError::Shape(format!(
                    "document {annidx} has neither `annotation` nor `elements`"
                )))
            }
        };
        for (elementidx, el) in list.iter().enumerate() {
            elements.push(parse_element(annidx, elementidx, el)?);
        }
    }
    Ok(Annotations { elements })
}

fn parse_element(annidx: usize, elementidx: usize, el: &Value) -> Result<Element, AnnotationError> {
    let id = el.get("id").and_then(Value::as_str).map(str::to_string);
    let fail = |reason: String| AnnotationError::Element { annidx, elementidx, id: id.clone(), reason };
    let Some(obj) = el.as_object() else { return Err(fail("not a JSON object".into())) };
    let kind = obj.get("type").and_then(Value::as_str).ok_or_else(|| fail("no `type`".into()))?;
    let group = match obj.get("group") {
        Some(g) => group_text(g),
        None => obj.get("label").and_then(|l| l.get("value")).and_then(group_text),
    };
    let number = |key: &str| -> Result<Option<f64>, AnnotationError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => {
                v.as_f64().filter(|x| x.is_finite()).map(Some).ok_or_else(|| fail(format!("`{key}` is not a number")))
            }
        }
    };
    let xy = |v: &Value, what: &str| -> Result<[f64; 2], AnnotationError> {
        let arr = v.as_array().ok_or_else(|| fail(format!("{what} is not an array")))?;
        if arr.len() < 2 {
            return Err(fail(format!("{what} has {} coordinate(s), expected [x, y, z]", arr.len())));
        }
        let x = arr[0].as_f64().filter(|x| x.is_finite()).ok_or_else(|| fail(format!("{what} has a non-numeric x")))?;
        let y = arr[1].as_f64().filter(|y| y.is_finite()).ok_or_else(|| fail(format!("{what} has a non-numeric y")))?;
        Ok([x, y])
    };
    let shape = match kind {
        "polyline" => {
            let pts = obj
                .get("points")
                .and_then(Value::as_array)
                .ok_or_else(|| fail("polyline without `points` array".into()))?;
            let points =
                pts.iter().enumerate().map(|(i, p)| xy(p, &format!("point {i}"))).collect::<Result<Vec<_>, _>>()?;
            if points.is_empty() {
                return Err(fail("polyline with no points".into()));
            }
            Shape::Polyline { points }
        }
        "rectangle" => {
            let center = xy(obj.get("center").ok_or_else(|| fail("rectangle without `center`".into()))?, "`center`")?;
            let width = number("width")?.ok_or_else(|| fail("rectangle without `width`".into()))?;
            let height = number("height")?.ok_or_else(|| fail("rectangle without `height`".into()))?;
            let rotation = number("rotation")?.unwrap_or(0.0);
            Shape::Rectangle { center, width, height, rotation }
        }
        other => Shape::Other { kind: other.to_string() },
    };
    Ok(Element { annidx, elementidx, id, group, shape })
}

/// pandas stores any JSON scalar as the group; a string is the only sensible one, numbers are
/// kept as their text so they can still match a table row.
fn group_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One row of a ground-truth codes table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupCode {
    /// Annotation group name (`mostly_tumor`).
    pub group: String,
    /// Drawing order: larger is drawn later and wins.
    pub overlay_order: i64,
    /// Mask value, 1..=255.
    pub gt_code: u8,
    /// Elements of this group define ROIs (one mask each).
    pub is_roi: bool,
    /// Unannotated pixels inside a ROI get this group's code (the first such row wins).
    pub is_background_class: bool,
    /// Display colour as written (`rgb(255,0,0)`); not used for masks.
    pub color: String,
    /// Free text.
    pub comments: String,
}

/// A ground-truth codes table (HistomicsTK `GTCodes`), rows in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeTable {
    groups: Vec<GroupCode>,
}

/// Why a codes table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CodeTableError {
    /// The file could not be read.
    #[error("failed to read codes table `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Not CSV.
    #[error("codes table is not valid CSV")]
    Csv(#[from] csv::Error),
    /// A required column is missing.
    #[error("codes table has no `{0}` column (expected group, overlay_order, GT_code, is_roi, is_background_class, color, comments)")]
    MissingColumn(&'static str),
    /// A row is invalid.
    #[error("codes table line {line}: {reason}")]
    BadRow {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// No rows.
    #[error("codes table has no rows")]
    Empty,
}

impl CodeTable {
    /// The BCSS table (HistomicsTK `sample_GTcodes.csv`).
    pub fn bcss() -> CodeTable {
        CodeTable::from_csv(BCSS_GTCODES_CSV.as_bytes()).expect("the built-in codes table is valid")
    }

    /// The BCSS table plus the short labels of `gtruth_codes.tsv` as aliases (`tumor` next to
    /// `mostly_tumor`, `stroma` next to `mostly_stroma`, ...), each with its row's code, order
    /// and flags. Annotation group strings on DSA servers come in both spellings, and a group
    /// missing from the table is silently never drawn, so `download` and `extract` rasterise
    /// with this table. (`bcss masks` defaults to the exact HistomicsTK table.)
    pub fn bcss_with_labels() -> CodeTable {
        let base = CodeTable::bcss();
        let mut groups = base.groups.clone();
        for g in &base.groups {
            let Some(code) = crate::catalog::codes::CODES.iter().find(|c| c.value != 0 && c.value == g.gt_code) else {
                continue;
            };
            if code.label != g.group && !groups.iter().any(|x| x.group == code.label) {
                groups.push(GroupCode { group: code.label.to_string(), ..g.clone() });
            }
        }
        CodeTable::from_groups(groups).expect("aliases keep group names unique")
    }

    /// Builds a table from rows; group names must be unique and codes non-zero.
    pub fn from_groups(groups: Vec<GroupCode>) -> Result<CodeTable, CodeTableError> {
        if groups.is_empty() {
            return Err(CodeTableError::Empty);
        }
        let mut seen = HashSet::new();
        for (i, g) in groups.iter().enumerate() {
            let line = i as u64 + 2;
            if g.gt_code == 0 {
                return Err(CodeTableError::BadRow {
                    line,
                    reason: format!("group `{}` has GT_code 0, which means outside the ROI", g.group),
                });
            }
            if !seen.insert(g.group.as_str()) {
                return Err(CodeTableError::BadRow { line, reason: format!("group `{}` appears twice", g.group) });
            }
        }
        Ok(CodeTable { groups })
    }

    /// Reads a CSV table with HistomicsTK's column names (any order; `color` and `comments`
    /// optional).
    pub fn from_csv<R: std::io::Read>(reader: R) -> Result<CodeTable, CodeTableError> {
        let mut rdr = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(reader);
        let headers = rdr.headers()?.clone();
        let col = |name: &'static str| headers.iter().position(|h| h == name);
        let need = |name: &'static str| col(name).ok_or(CodeTableError::MissingColumn(name));
        let (c_group, c_order, c_code, c_roi, c_bg) =
            (need("group")?, need("overlay_order")?, need("GT_code")?, need("is_roi")?, need("is_background_class")?);
        let (c_color, c_comments) = (col("color"), col("comments"));
        let mut groups = Vec::new();
        for rec in rdr.records() {
            let rec = rec?;
            let line = rec.position().map_or(0, |p| p.line());
            let field = |c: usize| rec.get(c).unwrap_or("");
            let bad = |reason: String| CodeTableError::BadRow { line, reason };
            let int = |c: usize, name: &str| -> Result<i64, CodeTableError> {
                let text = field(c);
                text.parse::<i64>()
                    .or_else(|_| {
                        text.parse::<f64>()
                            .ok()
                            .filter(|v| v.fract() == 0.0 && v.abs() < 1e15)
                            .map(|v| v as i64)
                            .ok_or(())
                    })
                    .map_err(|_| bad(format!("`{name}` is `{text}`, not an integer")))
            };
            let flag = |c: usize, name: &str| -> Result<bool, CodeTableError> {
                match int(c, name)? {
                    0 => Ok(false),
                    1 => Ok(true),
                    v => Err(bad(format!("`{name}` is {v}, expected 0 or 1"))),
                }
            };
            let group = field(c_group).to_string();
            if group.is_empty() {
                return Err(bad("empty `group`".into()));
            }
            let code = int(c_code, "GT_code")?;
            let gt_code = u8::try_from(code)
                .ok()
                .filter(|&c| c > 0)
                .ok_or_else(|| bad(format!("`GT_code` is {code}; mask values must be 1..=255")))?;
            groups.push(GroupCode {
                group,
                overlay_order: int(c_order, "overlay_order")?,
                gt_code,
                is_roi: flag(c_roi, "is_roi")?,
                is_background_class: flag(c_bg, "is_background_class")?,
                color: c_color.map(|c| field(c).to_string()).unwrap_or_default(),
                comments: c_comments.map(|c| field(c).to_string()).unwrap_or_default(),
            });
        }
        CodeTable::from_groups(groups)
    }

    /// Reads a CSV table from a file.
    pub fn from_path(path: &Path) -> Result<CodeTable, CodeTableError> {
        let file =
            std::fs::File::open(path).map_err(|source| CodeTableError::Io { path: path.to_path_buf(), source })?;
        CodeTable::from_csv(std::io::BufReader::new(file))
    }

    /// Rows in file order.
    pub fn groups(&self) -> &[GroupCode] {
        &self.groups
    }

    /// The row of a group.
    pub fn get(&self, group: &str) -> Option<&GroupCode> {
        self.groups.iter().find(|g| g.group == group)
    }

    /// Position of a group's row.
    pub fn position(&self, group: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.group == group)
    }

    /// The first background-class row, if any.
    pub fn background(&self) -> Option<&GroupCode> {
        self.groups.iter().find(|g| g.is_background_class)
    }

    /// True when `group` is a ROI group of this table.
    pub fn is_roi(&self, group: Option<&str>) -> bool {
        group.and_then(|g| self.get(g)).is_some_and(|g| g.is_roi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcss_table_matches_the_spec() {
        let aliased = CodeTable::bcss_with_labels();
        let tumor = aliased.groups.iter().find(|g| g.group == "tumor").expect("alias for mostly_tumor");
        assert_eq!((tumor.gt_code, tumor.overlay_order, tumor.is_background_class), (1, 1, false));
        let stroma = aliased.groups.iter().find(|g| g.group == "stroma").expect("alias for mostly_stroma");
        assert!(stroma.is_background_class && stroma.gt_code == 2);
        assert!(aliased.groups.iter().any(|g| g.group == "dcis" && g.gt_code == 20));
        let t = CodeTable::bcss();
        assert_eq!(t.groups().len(), 23);
        let row = |g: &str| {
            let r = t.get(g).unwrap();
            (r.overlay_order, r.gt_code, r.is_roi, r.is_background_class)
        };
        assert_eq!(row("roi"), (0, 254, true, false));
        assert_eq!(row("evaluation_roi"), (0, 253, true, false));
        assert_eq!(row("mostly_tumor"), (1, 1, false, false));
        assert_eq!(row("mostly_stroma"), (2, 2, false, true));
        assert_eq!(row("exclude"), (3, 7, false, false));
        assert_eq!(row("skin_adnexia"), (1, 17, false, false));
        assert_eq!(row("other"), (1, 21, false, false));
        // Class codes agree with the published gtruth_codes.tsv (by value).
        for code in 1..=21u8 {
            assert_eq!(t.groups().iter().filter(|g| g.gt_code == code).count(), 1, "code {code}");
        }
    }

    #[test]
    fn group_comes_from_group_then_label() {
        let json = br#"[{"annotation": {"elements": [
            {"type": "polyline", "group": "a", "label": {"value": "b"}, "points": [[0,0,0],[1,0,0],[1,1,0]]},
            {"type": "polyline", "label": {"value": "b"}, "points": [[0,0,0],[1,0,0],[1,1,0]]},
            {"type": "polyline", "group": null, "label": {"value": "b"}, "points": [[0,0,0],[1,0,0],[1,1,0]]},
            {"type": "rectangle", "center": [5.5, 6, 0], "width": 3, "height": 4},
            {"type": "ellipse", "center": [5, 6, 0], "width": 3, "height": 4, "rotation": 0}
        ]}}, {"annotation": {"elements": [{"type": "point", "center": [1, 2, 0], "id": "x"}]}}]"#;
        let a = parse(json).unwrap();
        let groups: Vec<_> = a.elements.iter().map(|e| e.group.as_deref()).collect();
        assert_eq!(groups, vec![Some("a"), Some("b"), None, None, None, None]);
        assert_eq!(
            a.elements[3].shape,
            Shape::Rectangle { center: [5.5, 6.0], width: 3.0, height: 4.0, rotation: 0.0 }
        );
        assert_eq!((a.elements[5].annidx, a.elements[5].elementidx, a.elements[5].id.as_deref()), (1, 0, Some("x")));
        let unsupported = a.unsupported();
        assert_eq!(unsupported.get("ellipse"), Some(&1));
        assert_eq!(unsupported.get("point"), Some(&1));
    }

    #[test]
    fn bad_json_and_elements_are_reported() {
        assert!(matches!(parse(b"[{"), Err(AnnotationError::Json(_))));
        assert!(matches!(parse(b"42"), Err(AnnotationError::Shape(_))));
        let err = parse(br#"[{"annotation": {"elements": [{"type": "polyline", "id": "e1", "points": [[1]]}]}}]"#)
            .unwrap_err();
        assert_eq!(err.to_string(), "annotation 0 element 0 (`e1`): point 0 has 1 coordinate(s), expected [x, y, z]");
        let err =
            parse(br#"[{"annotation": {"elements": [{"type": "rectangle", "center": [1, 2, 0], "height": 3}]}}]"#)
                .unwrap_err();
        assert!(err.to_string().contains("rectangle without `width`"), "{err}");
    }

    #[test]
    fn tables_are_validated() {
        let ok = "group,overlay_order,GT_code,is_roi,is_background_class\nroi,0,9,1,0\nx,1,1,0,1\n";
        let t = CodeTable::from_csv(ok.as_bytes()).unwrap();
        assert_eq!(t.background().unwrap().group, "x");
        assert!(t.is_roi(Some("roi")) && !t.is_roi(Some("x")) && !t.is_roi(None));
        for (text, want) in [
            ("group,overlay_order,GT_code,is_roi\nroi,0,9,1\n", "no `is_background_class` column"),
            ("group,overlay_order,GT_code,is_roi,is_background_class\nroi,0,0,1,0\n", "`GT_code` is 0"),
            ("group,overlay_order,GT_code,is_roi,is_background_class\nroi,0,300,1,0\n", "1..=255"),
            ("group,overlay_order,GT_code,is_roi,is_background_class\nroi,a,3,1,0\n", "`overlay_order` is `a`"),
            ("group,overlay_order,GT_code,is_roi,is_background_class\nroi,0,3,1,0\nroi,0,4,1,0\n", "appears twice"),
            ("group,overlay_order,GT_code,is_roi,is_background_class\n", "no rows"),
        ] {
            let err = CodeTable::from_csv(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }
}
