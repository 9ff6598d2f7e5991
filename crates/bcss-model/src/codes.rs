//! HistomicsTK's ground-truth codes table (`GTCodes`): which annotation group becomes which mask
//! value, in which drawing order, and which groups are ROIs or the background class.
//!
//! [`CodeTable::from_csv`] reads HistomicsTK's CSV columns (`group, overlay_order, GT_code,
//! is_roi, is_background_class, color, comments`) from bytes; [`CodeTable::bcss`] is the table
//! HistomicsTK ships for BCSS (`sample_GTcodes.csv`): `roi` 254 and `evaluation_roi` 253 define
//! ROIs, `mostly_stroma` (2) is the background class, `exclude` (7) is drawn last, and every
//! other class has overlay order 1. Reading a file, and the dataset's aliases, are the
//! catalogue's (`bcss::catalog::read_code_table`, `bcss::catalog::bcss_with_labels`).
//!
//! ```
//! use bcss_model::CodeTable;
//!
//! let table = CodeTable::bcss();
//! assert_eq!(table.get("roi").map(|g| (g.gt_code, g.is_roi)), Some((254, true)));
//! assert_eq!(table.background().map(|g| g.group.as_str()), Some("mostly_stroma"));
//! ```

use std::collections::HashSet;
use std::path::PathBuf;

/// The value a class lookup table (code -> class) holds for a byte that is not a BCSS code
/// (22..=255): the tables of `bcss::catalog::classmap`, read by the remapping in
/// `bcss::transform`.
pub const NOT_A_CODE: u8 = 255;

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
#[non_exhaustive]
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

/// The BCSS codes table as HistomicsTK ships it (`sample_GTcodes.csv`).
const BCSS_GTCODES_CSV: &str = include_str!("data/htk_gtcodes.csv");

impl CodeTable {
    /// The BCSS table (HistomicsTK `sample_GTcodes.csv`).
    pub fn bcss() -> CodeTable {
        CodeTable::from_csv(BCSS_GTCODES_CSV.as_bytes()).expect("the built-in codes table is valid")
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
