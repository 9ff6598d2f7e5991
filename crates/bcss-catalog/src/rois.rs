//! The ROI table (`roiBounds.csv`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use bcss_model::Rect;

/// One region of interest: a rectangle of base (scan-resolution) pixels on one slide.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Roi {
    /// ROI id as in the first column of `roiBounds.csv`, e.g. `TCGA-A1-A0SK-DX1`.
    pub id: String,
    /// Left edge, inclusive, base pixels.
    pub xmin: u64,
    /// Top edge, inclusive, base pixels.
    pub ymin: u64,
    /// Right edge, exclusive, base pixels.
    pub xmax: u64,
    /// Bottom edge, exclusive, base pixels.
    pub ymax: u64,
    /// URL of the ground-truth mask PNG at base resolution, when the table has one.
    pub mask_link: Option<String>,
}

impl Roi {
    /// The 12-character slide short name (`TCGA-A1-A0SK`), which links a ROI to its slide.
    pub fn short_name(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }

    /// Width in base pixels.
    pub fn width(&self) -> u64 {
        self.xmax - self.xmin
    }

    /// Height in base pixels.
    pub fn height(&self) -> u64 {
        self.ymax - self.ymin
    }

    /// The ROI's rectangle of base pixels.
    pub fn rect(&self) -> Rect {
        Rect { left: self.xmin, top: self.ymin, right: self.xmax, bottom: self.ymax }
    }
}

/// Why a ROI table could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The file could not be opened or read.
    #[error("failed to read ROI table `{path}`")]
    Io {
        /// The table's path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV itself is malformed.
    #[error("ROI table `{path}` is not valid CSV")]
    Csv {
        /// The table's path.
        path: String,
        /// The parser's error.
        #[source]
        source: csv::Error,
    },
    /// A required column is absent from the header.
    #[error("ROI table `{path}` has no `{column}` column (expected header `,xmin,ymin,xmax,ymax,mask_link`)")]
    MissingColumn {
        /// The table's path.
        path: String,
        /// The missing column.
        column: &'static str,
    },
    /// A row is invalid.
    #[error("ROI table `{path}` line {line}: {reason}")]
    BadRow {
        /// The table's path.
        path: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The table has no rows.
    #[error("ROI table `{path}` has no rows")]
    Empty {
        /// The table's path.
        path: String,
    },
}

/// The ROIs of a dataset, in table order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoiTable {
    rois: Vec<Roi>,
}

const BUILTIN: &str = include_str!("data/roiBounds.csv");

impl RoiTable {
    /// The 151 ROIs of the published dataset, compiled in.
    pub fn builtin() -> RoiTable {
        RoiTable::parse(BUILTIN, "<built-in roiBounds.csv>").expect("the built-in ROI table is valid")
    }

    /// Reads a `roiBounds.csv` in the original format.
    pub fn from_path(path: &Path) -> Result<RoiTable, CatalogError> {
        let text = bcss_files::read_to_string(path, bcss_files::TABLE_FILE_LIMIT)
            .map_err(|source| CatalogError::Io { path: path.to_path_buf(), source })?;
        RoiTable::parse(&text, &path.display().to_string())
    }

    /// Parses the text of a `roiBounds.csv`: header `,xmin,ymin,xmax,ymax[,mask_link]` (the first
    /// column, the ROI id, has an empty name), CRLF or LF. Bounds may be written as floats
    /// (`45749.0`) and are truncated, as the original downloader did with `int(float(x))`.
    pub fn parse(text: &str, origin: &str) -> Result<RoiTable, CatalogError> {
        let csv_err = |source| CatalogError::Csv { path: origin.to_string(), source };
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
        let headers = reader.headers().map_err(csv_err)?.clone();
        let find = |name: &'static str| {
            headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or(CatalogError::MissingColumn { path: origin.to_string(), column: name })
        };
        let (i_xmin, i_ymin, i_xmax, i_ymax) = (find("xmin")?, find("ymin")?, find("xmax")?, find("ymax")?);
        let imask = headers.iter().position(|h| h.trim() == "mask_link");
        let iid = headers.iter().position(|h| h.trim().is_empty() || h.trim() == "roi").unwrap_or(0);

        let mut rois = Vec::new();
        let mut seen = HashSet::new();
        for (index, record) in reader.records().enumerate() {
            let record = record.map_err(csv_err)?;
            // Header on line 1, one record per line after it (the format has no multi-line fields;
            // csv's own positions miscount CRLF files).
            let line = index as u64 + 2;
            let bad = |reason: String| CatalogError::BadRow { path: origin.to_string(), line, reason };
            let id = record.get(iid).unwrap_or("").trim().to_string();
            validate_id(&id).map_err(&bad)?;
            let bound = |i: usize, name: &str| -> Result<u64, CatalogError> {
                let raw = record.get(i).unwrap_or("").trim();
                let v: f64 = raw.parse().map_err(|_| bad(format!("{name} of `{id}` is not a number: `{raw}`")))?;
                if !v.is_finite() || !(0.0..=1e9).contains(&v) {
                    return Err(bad(format!("{name} of `{id}` is out of range: `{raw}`")));
                }
                Ok(v.trunc() as u64)
            };
            let (xmin, ymin, xmax, ymax) =
                (bound(i_xmin, "xmin")?, bound(i_ymin, "ymin")?, bound(i_xmax, "xmax")?, bound(i_ymax, "ymax")?);
            if xmax <= xmin {
                return Err(bad(format!("xmax ({xmax}) must be greater than xmin ({xmin}) for `{id}`")));
            }
            if ymax <= ymin {
                return Err(bad(format!("ymax ({ymax}) must be greater than ymin ({ymin}) for `{id}`")));
            }
            if !seen.insert(id.clone()) {
                return Err(bad(format!("duplicate ROI `{id}`")));
            }
            let mask_link =
                imask.and_then(|i| record.get(i)).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
            rois.push(Roi { id, xmin, ymin, xmax, ymax, mask_link });
        }
        if rois.is_empty() {
            return Err(CatalogError::Empty { path: origin.to_string() });
        }
        Ok(RoiTable { rois })
    }

    /// All ROIs in table order.
    pub fn rois(&self) -> &[Roi] {
        &self.rois
    }

    /// The ROI with this id.
    pub fn get(&self, id: &str) -> Option<&Roi> {
        self.rois.iter().find(|r| r.id == id)
    }

    /// Keeps only the ROIs matching one of `names` (a ROI id or a 12-character slide short name).
    /// Returns the names that matched nothing, so a caller can refuse them.
    pub fn select(&self, names: &[String]) -> (RoiTable, Vec<String>) {
        let unknown: Vec<String> =
            names.iter().filter(|n| !self.rois.iter().any(|r| matches_name(r, n))).cloned().collect();
        let rois = self.rois.iter().filter(|r| names.iter().any(|n| matches_name(r, n))).cloned().collect();
        (RoiTable { rois }, unknown)
    }

    /// Builds a table from ROIs already validated elsewhere.
    pub fn from_rois(rois: Vec<Roi>) -> RoiTable {
        RoiTable { rois }
    }
}

fn matches_name(roi: &Roi, name: &str) -> bool {
    roi.id == name || roi.short_name() == name
}

/// A ROI id becomes part of file names, so it must be a plain name: letters, digits, `-`, `_`, `.`,
/// not starting with a dot.
fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("empty ROI id in the first column".to_string());
    }
    if id.starts_with('.') || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(format!("ROI id `{id}` may only hold letters, digits, `-`, `_` and `.`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_has_151_rois() {
        let t = RoiTable::builtin();
        assert_eq!(t.rois().len(), 151);
        let r = t.get("TCGA-A1-A0SK-DX1").unwrap();
        assert_eq!((r.xmin, r.ymin, r.xmax, r.ymax), (45749, 25055, 49789, 27991));
        assert_eq!(r.short_name(), "TCGA-A1-A0SK");
        assert_eq!(r.mask_link.as_deref(), Some("https://ndownloader.figshare.com/files/13243676"));
        assert!(t.rois().iter().all(|r| r.width() >= 1000 && r.height() >= 500));
    }

    #[test]
    fn float_bounds_are_truncated() {
        let t =
            RoiTable::parse(",xmin,ymin,xmax,ymax,mask_link\r\nTCGA-AA-AAAA-DX1,10.9,20.0,30,40,http://x/m\r\n", "t")
                .unwrap();
        assert_eq!(t.rois()[0].xmin, 10);
        assert_eq!(t.rois()[0].width(), 20);
    }

    #[test]
    fn malformed_tables_are_refused_with_the_line() {
        let cases = [
            (",xmin,ymin,xmax\nA,1,2,3\n", "no `ymax` column"),
            (
                ",xmin,ymin,xmax,ymax\nTCGA-AA-AAAA-DX1,1,b,3,4\n",
                "line 2: ymin of `TCGA-AA-AAAA-DX1` is not a number: `b`",
            ),
            (",xmin,ymin,xmax,ymax\nTCGA-AA-AAAA-DX1,5,2,5,4\n", "xmax (5) must be greater than xmin (5)"),
            (",xmin,ymin,xmax,ymax\nA,1,2,3,4\nA,1,2,3,4\n", "line 3: duplicate ROI `A`"),
            (",xmin,ymin,xmax,ymax\r\nA,1,2,3,4\r\nA,1,2,3,4\r\n", "line 3: duplicate ROI `A`"),
            (",xmin,ymin,xmax,ymax\n../x,1,2,3,4\n", "may only hold"),
            (",xmin,ymin,xmax,ymax\n", "has no rows"),
        ];
        for (text, want) in cases {
            let err = RoiTable::parse(text, "t.csv").unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }

    #[test]
    fn select_reports_unknown_names() {
        let t = RoiTable::builtin();
        let (sel, unknown) = t.select(&["TCGA-A1-A0SK".into(), "TCGA-A2-A04P-DX1".into(), "TCGA-XX-0000".into()]);
        assert_eq!(sel.rois().len(), 2);
        assert_eq!(unknown, vec!["TCGA-XX-0000".to_string()]);
    }
}
