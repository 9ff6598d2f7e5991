//! HistomicsTK's ground-truth codes tables as the dataset uses them: the BCSS table with the
//! dataset's short labels as aliases ([`bcss_with_labels`]), and a user's own table read from a
//! file ([`read_code_table`]). The table itself, its CSV reader and HistomicsTK's built-in BCSS
//! table are [`CodeTable`]'s (`bcss-model`).
//!
//! ```
//! use bcss_catalog::bcss_with_labels;
//!
//! let table = bcss_with_labels();
//! assert_eq!(table.get("tumor").map(|g| g.gt_code), Some(1));
//! assert_eq!(table.background().map(|g| g.group.as_str()), Some("mostly_stroma"));
//! ```
//!
//! Invariant: reads a file only in [`read_code_table`].

use std::path::Path;

use bcss_model::{CodeTable, CodeTableError, GroupCode};

/// The BCSS table plus the short labels of `gtruth_codes.tsv` as aliases (`tumor` next to
/// `mostly_tumor`, `stroma` next to `mostly_stroma`, ...), each with its row's code, order and
/// flags. Annotation group strings on DSA servers come in both spellings, and a group missing
/// from the table is silently never drawn, so `download` and `extract` rasterise with this
/// table. (`bcss masks` defaults to the exact HistomicsTK table, [`CodeTable::bcss`].)
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

/// Reads a CSV table (HistomicsTK's columns, [`CodeTable::from_csv`]) from a file.
pub fn read_code_table(path: &Path) -> Result<CodeTable, CodeTableError> {
    let text = bcss_files::read(path, bcss_files::TABLE_FILE_LIMIT)
        .map_err(|source| CodeTableError::Io { path: path.to_path_buf(), source })?;
    CodeTable::from_csv(text.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcss_table_matches_the_spec() {
        let aliased = bcss_with_labels();
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
