//! The `bcss` console command inside Python: `bcss_cli::main_with_args` with `sys.argv`.

use std::ffi::OsString;

use pyo3::prelude::*;

/// Runs the bcss command line `argv` (`argv[0]` is the program name) with the GIL released and
/// returns its exit code. Signals are the caller's business: `bcss.__main__` restores the
/// default SIGINT/SIGPIPE dispositions first, so Ctrl-C ends the process as it ends the binary.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<OsString>) -> i32 {
    py.detach(move || bcss_cli::main_with_args(argv))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run_cli, m)?)
}
