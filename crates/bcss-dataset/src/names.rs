//! File names of the dataset, exactly as the original downloader wrote them.
//!
//! `images/<roi>_xmin<X>_ymin<Y>_<suffix>.png` and the same under `masks/`, where the suffix is
//! `MPP-%.4f` (e.g. `MPP-0.2500`), `MAG-%.2f` (e.g. `MAG-20.00`) or `MAG-0` (base resolution).

use bcss_transform::Resolution;

/// The resolution suffix of a file name (`MPP-0.2500`, `MAG-20.00`, `MAG-0`).
pub fn suffix(resolution: Resolution) -> String {
    match resolution {
        Resolution::Mpp(mpp) => format!("MPP-{mpp:.4}"),
        Resolution::Mag(mag) => format!("MAG-{mag:.2}"),
        Resolution::Base => "MAG-0".to_string(),
    }
}

/// The file name of a ROI's image or mask: `<roi>_xmin<X>_ymin<Y>_<suffix>.png`.
pub fn roi_file_name(roi_id: &str, xmin: u64, ymin: u64, suffix: &str) -> String {
    format!("{roi_id}_xmin{xmin}_ymin{ymin}_{suffix}.png")
}

/// The parts of a ROI file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoiFileName {
    /// ROI id (`TCGA-A1-A0SK-DX1`).
    pub roi_id: String,
    /// Left bound in base pixels.
    pub xmin: u64,
    /// Top bound in base pixels.
    pub ymin: u64,
    /// The resolution suffix (`MPP-0.2500`), empty when the name has none.
    pub suffix: String,
}

impl RoiFileName {
    /// The key that pairs an image with its mask whatever the suffix says: `(roi, xmin, ymin)`.
    pub fn key(&self) -> (String, u64, u64) {
        (self.roi_id.clone(), self.xmin, self.ymin)
    }
}

/// Parses `<roi>_xmin<X>_ymin<Y>[_<suffix>].png`; also the pre-2019-11 form ending in `_.png`.
pub fn parse_roi_file_name(name: &str) -> Option<RoiFileName> {
    let stem = name.strip_suffix(".png")?;
    let (roi_id, rest) = stem.split_once("_xmin")?;
    let (x, rest) = rest.split_once("_ymin")?;
    let (y, suffix) = match rest.split_once('_') {
        Some((y, s)) => (y, s),
        None => (rest, ""),
    };
    if roi_id.is_empty() {
        return None;
    }
    Some(RoiFileName {
        roi_id: roi_id.to_string(),
        xmin: x.parse().ok()?,
        ymin: y.parse().ok()?,
        suffix: suffix.to_string(),
    })
}

/// Why a name supplied by a server cannot be used as a file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing unsafe file name `{shown}` from the server: {reason}")]
pub struct UnsafeName {
    /// The name with control characters escaped.
    pub shown: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Accepts a single path component from an untrusted source: no separators, no `..`, no NUL or
/// control characters, not empty, not hidden. Anything else could write outside the output root.
pub fn safe_component(name: &str) -> Result<&str, UnsafeName> {
    let fail = |reason| Err(UnsafeName { shown: name.escape_default().to_string(), reason });
    if name.is_empty() {
        return fail("it is empty");
    }
    if name.contains(['/', '\\']) {
        return fail("it contains a path separator");
    }
    if name.chars().any(|c| c.is_control()) {
        return fail("it contains a control character");
    }
    if name.chars().any(is_invisible_or_bidi) {
        return fail("it contains an invisible or text-direction character (e.g. U+202E), which can disguise a name");
    }
    if name == "." || name == ".." || name.starts_with('.') {
        return fail("it starts with a dot");
    }
    if name.len() > MAX_NAME_BYTES {
        return fail("it is longer than 200 bytes (file names are at most 255, and a temporary name adds up to 45)");
    }
    Ok(name)
}

/// The longest name accepted from a server: the temporary file written before the rename
/// (`.<name>.<pid>.<n>.part`) must still fit the 255 bytes a file name may have.
pub const MAX_NAME_BYTES: usize = 200;

/// Format characters that are invisible or change the direction of text (Unicode Cf: bidi
/// embeddings, overrides and isolates, marks, zero-width characters, the BOM).
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// The annotation file of a slide: the item name with `.svs` replaced by `.json` (or `.json`
/// appended when the name has no `.svs`). Unlike the original, the replacement touches the file
/// name only, never the directories above it.
pub fn annotation_file_name(item_name: &str) -> Result<String, UnsafeName> {
    let name = safe_component(item_name)?;
    Ok(match name.strip_suffix(".svs") {
        Some(stem) => format!("{stem}.json"),
        None => format!("{}.json", name.replace(".svs", "")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_match_the_original() {
        assert_eq!(suffix(Resolution::Mpp(0.25)), "MPP-0.2500");
        assert_eq!(suffix(Resolution::Mpp(0.23)), "MPP-0.2300");
        assert_eq!(suffix(Resolution::Mag(20.0)), "MAG-20.00");
        assert_eq!(suffix(Resolution::Base), "MAG-0");
        assert_eq!(
            roi_file_name("TCGA-A1-A0SK-DX1", 45749, 25055, "MPP-0.2500"),
            "TCGA-A1-A0SK-DX1_xmin45749_ymin25055_MPP-0.2500.png"
        );
    }

    #[test]
    fn names_parse_back() {
        let n = parse_roi_file_name("TCGA-A1-A0SK-DX1_xmin45749_ymin25055_MPP-0.2300.png").unwrap();
        assert_eq!(
            (n.roi_id.as_str(), n.xmin, n.ymin, n.suffix.as_str()),
            ("TCGA-A1-A0SK-DX1", 45749, 25055, "MPP-0.2300")
        );
        let old = parse_roi_file_name("TCGA-A1-A0SK-DX1_xmin45749_ymin25055_.png").unwrap();
        assert_eq!(old.key(), n.key());
        assert!(parse_roi_file_name("notes.png").is_none());
        assert!(parse_roi_file_name("X_xminA_ymin1_MAG-0.png").is_none());
    }

    #[test]
    fn unsafe_names_are_refused() {
        let long = "a".repeat(201);
        for bad in [
            "../../etc/x",
            "/etc/passwd",
            "a\\b",
            "..",
            ".hidden",
            "a\0b",
            "",
            "evil\u{202E}gpj.svs",
            "a\u{200B}b",
            &long,
        ] {
            assert!(safe_component(bad).is_err(), "{bad:?}");
            assert!(annotation_file_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            annotation_file_name("TCGA-A1-A0SK-01Z-00-DX1.A44D.svs").unwrap(),
            "TCGA-A1-A0SK-01Z-00-DX1.A44D.json"
        );
        assert_eq!(annotation_file_name("slide.tif").unwrap(), "slide.tif.json");
        // The longest accepted name still has room for its temporary name.
        let longest = "a".repeat(MAX_NAME_BYTES - 5) + ".svs";
        let json = annotation_file_name(&longest).unwrap();
        assert!(format!(".{json}.{}.{}.part", u32::MAX, u64::MAX).len() <= 255);
    }
}
