#![deny(missing_docs)]
#![forbid(unsafe_code)]

//! The catalogue: what BCSS is made of, independent of where the pixels come from.
//!
//! - [`Roi`] / [`RoiTable`]: the 151 regions of interest (`roiBounds.csv`), one per slide, with their
//!   base-pixel bounds and the link to their ground-truth mask.
//! - [`Slide`] / [`SlideTable`]: the slides on the public DSA (`slide_magnifications.csv`): short
//!   name, full item name, Girder item id and scan magnification.
//! - [`codes`]: the 22 label codes of the masks (`gtruth_codes.tsv`), 0 being "outside the ROI /
//!   don't care", never a class.
//! - `gtcodes`: HistomicsTK's codes tables (groups to mask values): the BCSS one built in, CSV
//!   readers.
//! - [`classmap`]: presets and custom maps from codes to training classes (0 stays don't care).
//! - [`split`]: train / val / test by institution, with a leakage check.
//!
//! The three tables of the published dataset are compiled into the binary ([`RoiTable::builtin`],
//! [`SlideTable::builtin`]); a user can replace the ROI table with their own `roiBounds.csv`.
//!
//! Invariant: nothing here does I/O except the explicit `from_path` readers.
//!
//! ```
//! use bcss_catalog::classmap::ClassMap;
//! use bcss_catalog::split::{Part, Scheme, Split};
//! use bcss_catalog::RoiTable;
//!
//! let rois = RoiTable::builtin();
//! assert_eq!(rois.rois().len(), 151);
//! // The official split holds out whole institutions: no site, no patient, in two parts.
//! let split = Split::from_scheme(Scheme::Official, rois.rois().iter().map(|r| r.id.as_str()));
//! split.check_leakage().unwrap();
//! assert_eq!(split.counts()[&Part::Test], 45);
//! // `main5`: tumour, stroma, inflammatory, necrosis, other; code 0 stays "don't care".
//! let main5 = ClassMap::preset("main5").unwrap();
//! assert_eq!(main5.lut()[0], 0);
//! ```

pub mod classmap;
pub mod codes;
mod gtcodes;
pub use gtcodes::{bcss_with_labels, read_code_table};
mod rois;
mod slides;
pub mod split;

pub use rois::{CatalogError, Roi, RoiTable};
pub use slides::{Slide, SlideTable};

/// A CSV table built in memory: one header and rows of fields, quoted by the `csv` crate where a
/// field needs it (a class named `tumour, "invasive"` stays one field), `\n` line ends. Every CSV
/// bcss writes (split files, `stats`, `tile` indexes) goes through it, so the readers that parse
/// them back see as many fields in each row as in the header.
pub fn csv_text<R, F>(header: &[&str], rows: R) -> String
where
    R: IntoIterator<Item = Vec<F>>,
    F: AsRef<[u8]>,
{
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let bytes = (|| {
        w.write_record(header)?;
        for row in rows {
            w.write_record(&row)?;
        }
        w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    })()
    .expect("writing CSV into memory cannot fail");
    String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
}

/// The TCGA tissue source site of a ROI or slide name (`TCGA-A1-A0SK-DX1` -> `A1`).
pub fn tissue_source_site(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("TCGA-")?;
    let site = rest.get(..2)?;
    (rest.as_bytes().get(2) == Some(&b'-')).then_some(site)
}

/// The patient of a ROI or slide name: its 12-character short name (`TCGA-A1-A0SK`).
pub fn patient(name: &str) -> Option<&str> {
    name.get(..12).filter(|s| s.starts_with("TCGA-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_and_patient() {
        assert_eq!(tissue_source_site("TCGA-A1-A0SK-DX1"), Some("A1"));
        assert_eq!(tissue_source_site("TCGA-OL-A5RW"), Some("OL"));
        assert_eq!(tissue_source_site("XCGA-A1"), None);
        assert_eq!(patient("TCGA-A1-A0SK-DX1"), Some("TCGA-A1-A0SK"));
        assert_eq!(patient("TCGA-A1"), None);
    }

    #[test]
    fn csv_text_quotes_commas_and_quotes_and_reads_back() {
        let text = csv_text(&["a", "b"], [vec!["tumour, \"invasive\"".to_string(), "1".to_string()]]);
        assert_eq!(text, "a,b\n\"tumour, \"\"invasive\"\"\",1\n");
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!((rec.len(), &rec[0]), (2, "tumour, \"invasive\""));
    }
}
