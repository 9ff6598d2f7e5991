//! `bcss._bcss`, the native module of the Python package `bcss` (`python/bcss/`).
//!
//! Thin: the CLI is `bcss_cli::main_with_args` (`cli`), the commands as functions go through
//! the same parsing and validation (`commands`), the datasets read the same files
//! (`datasets`). Work runs with the GIL released.

#![forbid(unsafe_code)]

mod cli;
mod commands;
mod datasets;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _bcss(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("HAS_OPENSLIDE", cfg!(feature = "openslide"))?;
    cli::register(m)?;
    commands::register(m)?;
    datasets::register(m)?;
    Ok(())
}
