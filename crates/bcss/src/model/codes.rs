//! HistomicsTK's ground-truth codes table (`GTCodes`): which annotation group becomes which mask
//! value, in which drawing order, and which groups are ROIs or the background class.
//!
//! The CSV readers ([`CodeTable::from_csv`], [`CodeTable::from_path`]) and the built-in BCSS
//! tables ([`CodeTable::bcss`], [`CodeTable::bcss_with_labels`]) are in `catalog::gtcodes`, which
//! knows the file format and the dataset; this module only holds and queries a table.

use std::collections::HashSet;
use std::path::PathBuf;

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

impl CodeTable {
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
