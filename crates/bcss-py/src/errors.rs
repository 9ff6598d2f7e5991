//! The package's exceptions raised from Rust: `bcss.InputError` for bad arguments and inputs.

use pyo3::prelude::*;

/// `bcss.InputError(message)` (the exception class lives in `bcss._errors`).
pub(crate) fn input_error(py: Python<'_>, message: String) -> PyErr {
    match py.import("bcss._errors").and_then(|m| m.getattr("InputError")).and_then(|c| c.call1((message.clone(),))) {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}
