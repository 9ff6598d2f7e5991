//! The 22 ground-truth label codes of the BCSS masks (`gtruth_codes.tsv`).
//!
//! Code 0 is `outside_roi`: pixels outside the annotated region. It is "don't care" for training
//! and evaluation and is never a class. Codes 1..=21 are tissue classes.

/// One label code of the BCSS masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// Value stored in the mask PNG.
    pub value: u8,
    /// Label as written in `gtruth_codes.tsv` (`tumor`, `stroma`, ...).
    pub label: &'static str,
    /// Display colour (RGB), used for overlays and legends.
    pub color: [u8; 3],
}

/// The don't-care code: outside the ROI.
pub const DONT_CARE: u8 = 0;

/// The highest code of the table.
pub const MAX_CODE: u8 = 21;

/// All 22 codes in order, 0 first. Colours follow the BCSS challenge palette in spirit: tumour
/// reds, stroma pinks, immune blues, necrosis browns; outside the ROI is black.
pub const CODES: [Code; 22] = [
    Code { value: 0, label: "outside_roi", color: [0, 0, 0] },
    Code { value: 1, label: "tumor", color: [220, 20, 60] },
    Code { value: 2, label: "stroma", color: [255, 160, 200] },
    Code { value: 3, label: "lymphocytic_infiltrate", color: [30, 60, 200] },
    Code { value: 4, label: "necrosis_or_debris", color: [140, 100, 60] },
    Code { value: 5, label: "glandular_secretions", color: [200, 200, 120] },
    Code { value: 6, label: "blood", color: [180, 0, 0] },
    Code { value: 7, label: "exclude", color: [90, 90, 90] },
    Code { value: 8, label: "metaplasia_NOS", color: [255, 120, 0] },
    Code { value: 9, label: "fat", color: [255, 240, 150] },
    Code { value: 10, label: "plasma_cells", color: [0, 180, 220] },
    Code { value: 11, label: "other_immune_infiltrate", color: [100, 150, 255] },
    Code { value: 12, label: "mucoid_material", color: [170, 230, 230] },
    Code { value: 13, label: "normal_acinus_or_duct", color: [0, 160, 80] },
    Code { value: 14, label: "lymphatics", color: [150, 220, 120] },
    Code { value: 15, label: "undetermined", color: [160, 160, 160] },
    Code { value: 16, label: "nerve", color: [255, 255, 0] },
    Code { value: 17, label: "skin_adnexa", color: [200, 120, 255] },
    Code { value: 18, label: "blood_vessel", color: [120, 0, 60] },
    Code { value: 19, label: "angioinvasion", color: [255, 0, 180] },
    Code { value: 20, label: "dcis", color: [150, 0, 150] },
    Code { value: 21, label: "other", color: [60, 200, 200] },
];

/// The shipped `gtruth_codes.tsv`, kept verbatim so a test can check [`CODES`] against it.
#[cfg(test)]
pub(crate) const GTRUTH_CODES_TSV: &str = include_str!("data/gtruth_codes.tsv");

/// True when `value` is one of the 22 codes of the table.
pub fn is_known(value: u8) -> bool {
    value <= MAX_CODE
}

/// The code with this label, if any.
pub fn by_label(label: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.label == label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_shipped_tsv() {
        let mut lines = GTRUTH_CODES_TSV.lines();
        assert_eq!(lines.next().map(str::trim_end), Some("label\tGT_code"));
        let rows: Vec<(String, u8)> = lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (label, code) = l.trim_end().split_once('\t').unwrap();
                (label.to_string(), code.parse().unwrap())
            })
            .collect();
        assert_eq!(rows.len(), CODES.len());
        for ((label, code), c) in rows.iter().zip(CODES.iter()) {
            assert_eq!((label.as_str(), *code), (c.label, c.value));
        }
    }

    #[test]
    fn known_codes() {
        assert!(is_known(0) && is_known(21));
        assert!(!is_known(22) && !is_known(255));
        assert_eq!(by_label("dcis").map(|c| c.value), Some(20));
    }
}
