//! `bcss._bcss`, the native module of the Python package `bcss` (`python/bcss/`).
//!
//! Thin: the CLI is `bcss_cli::main_with_args` (`cli`), the commands as functions go through
//! the same parsing and validation (`commands`), the datasets read the same files
//! (`datasets`), Reinhard colour normalisation is the library's on numpy arrays (`colour`).
//! Work runs with the GIL released; bad arguments raise `bcss.InputError` (`errors`).

#![forbid(unsafe_code)]

mod cli;
mod colour;
mod commands;
mod datasets;
mod errors;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _bcss(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("HAS_OPENSLIDE", cfg!(feature = "openslide"))?;
    cli::register(m)?;
    colour::register(m)?;
    commands::register(m)?;
    datasets::register(m)?;
    Ok(())
}
