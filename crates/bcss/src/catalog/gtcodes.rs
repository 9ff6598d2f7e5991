//! HistomicsTK's ground-truth codes tables: the BCSS table built in (HistomicsTK's
//! `sample_GTcodes.csv`) and the CSV reader for a user's own.
//!
//! [`CodeTable`] (in `model`) is the table itself; this module adds its constructors that know
//! the CSV columns `group, overlay_order, GT_code, is_roi, is_background_class, color,
//! comments` and the dataset. [`CodeTable::bcss`] is the BCSS scheme: `roi` 254 and
//! `evaluation_roi` 253 define ROIs, `mostly_stroma` (2) is the background class, `exclude` (7)
//! is drawn last, and every other class has overlay order 1.
//!
//! ```
//! use bcss::model::CodeTable;
//!
//! let table = CodeTable::bcss();
//! assert_eq!(table.get("roi").map(|g| (g.gt_code, g.is_roi)), Some((254, true)));
//! assert_eq!(table.background().map(|g| g.group.as_str()), Some("mostly_stroma"));
//! ```
//!
//! Invariant: reads a file only in [`CodeTable::from_path`].

use std::path::Path;

use crate::model::{CodeTable, CodeTableError, GroupCode};

/// The BCSS codes table as HistomicsTK ships it (`sample_GTcodes.csv`).
const BCSS_GTCODES_CSV: &str = include_str!("data/htk_gtcodes.csv");

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
        let mut groups = base.groups().to_vec();
        for g in base.groups() {
            let Some(code) = super::codes::CODES.iter().find(|c| c.value != 0 && c.value == g.gt_code) else {
                continue;
            };
            if code.label != g.group && !groups.iter().any(|x| x.group == code.label) {
                groups.push(GroupCode { group: code.label.to_string(), ..g.clone() });
            }
        }
        CodeTable::from_groups(groups).expect("aliases keep group names unique")
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
        let text = crate::files::read(path, crate::files::TABLE_FILE_LIMIT)
            .map_err(|source| CodeTableError::Io { path: path.to_path_buf(), source })?;
        CodeTable::from_csv(text.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcss_table_matches_the_spec() {
        let aliased = CodeTable::bcss_with_labels();
        let tumor = aliased.groups().iter().find(|g| g.group == "tumor").expect("alias for mostly_tumor");
        assert_eq!((tumor.gt_code, tumor.overlay_order, tumor.is_background_class), (1, 1, false));
        let stroma = aliased.groups().iter().find(|g| g.group == "stroma").expect("alias for mostly_stroma");
        assert!(stroma.is_background_class && stroma.gt_code == 2);
        assert!(aliased.groups().iter().any(|g| g.group == "dcis" && g.gt_code == 20));
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
