//! The datasets (`bcss.Dataset`, `TileDataset`, `RandomCrops`) and in-memory `evaluate`: to be
//! added here and registered in [`register`].

use pyo3::prelude::*;

pub(crate) fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
