//! `bcss split`: writing a split file. The split itself (schemes, leakage check, CSV and JSON
//! forms) is [`catalog::split`](crate::catalog::split); this writes its text atomically.

use std::io::Write;
use std::path::Path;

use crate::catalog::split::{Scheme, Split, SplitError};
use crate::dataset::atomic::write_atomic;

/// Writes `split` to `path` atomically: JSON when the name ends in `.json`, CSV otherwise
/// ([`Split::file_text`]).
pub fn write(split: &Split, path: &Path, scheme: Option<Scheme>) -> Result<(), SplitError> {
    let text = split.file_text(path, scheme);
    write_atomic(path, |w: &mut dyn Write| w.write_all(text.as_bytes()))
        .map(|_| ())
        .map_err(|source| SplitError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_csv_or_json_by_name_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let split =
            Split::from_scheme(Scheme::OfficialVal, ["TCGA-A1-A0SK-DX1", "TCGA-OL-A5RW-DX1", "TCGA-D8-A27F-DX1"]);
        for name in ["split.csv", "split.json"] {
            let path = dir.path().join(name);
            write(&split, &path, Some(Scheme::OfficialVal)).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), split.file_text(&path, Some(Scheme::OfficialVal)));
            assert_eq!(Split::from_path(&path).unwrap(), split);
        }
        let err = write(&split, &dir.path().join("missing/split.csv"), None).unwrap_err();
        assert!(err.to_string().starts_with("failed to access split file `"), "{err}");
    }
}
