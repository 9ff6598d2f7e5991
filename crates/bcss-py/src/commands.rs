//! The commands as functions: `bcss_cli::api::call` on a worker thread, with the GIL released,
//! progress relayed to a Python callback and Ctrl-C turned into cancellation.
//!
//! Python runs signal handlers only on the main thread and only when it holds the GIL, so the
//! command runs on a thread of its own while the calling thread waits without the GIL, waking
//! every 100 ms to pass progress on and to call `PyErr_CheckSignals`. On KeyboardInterrupt it
//! sets the cancel flag ([`Reporter::cancelled`]): the workers take no further ROI, the ROIs
//! under way finish (files are written atomically), and the KeyboardInterrupt is raised.

use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bcss::report::{Outcome, Reporter};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Progress counters shared between the command's threads and the waiting caller.
#[derive(Default)]
struct Relay {
    /// Units planned (`on_plan`), or bytes planned after `on_plan_bytes`.
    total: AtomicU64,
    /// Counting bytes (whole-slide files) instead of units.
    in_bytes: AtomicBool,
    /// Units ended, or bytes received when counting bytes.
    done: AtomicU64,
    failed: AtomicUsize,
    cancel: AtomicBool,
}

impl Reporter for Relay {
    fn on_plan(&self, total: usize) {
        self.in_bytes.store(false, Ordering::SeqCst);
        self.done.store(0, Ordering::SeqCst);
        self.total.store(total as u64, Ordering::SeqCst);
    }
    fn on_plan_bytes(&self, total: u64) {
        self.in_bytes.store(true, Ordering::SeqCst);
        self.done.store(0, Ordering::SeqCst);
        self.total.store(total, Ordering::SeqCst);
    }
    fn on_bytes(&self, n: u64) {
        if self.in_bytes.load(Ordering::SeqCst) {
            self.done.fetch_add(n, Ordering::SeqCst);
        }
    }
    fn on_done(&self, _unit: &str, outcome: &Outcome) {
        if matches!(outcome, Outcome::Failed(_)) {
            self.failed.fetch_add(1, Ordering::SeqCst);
        }
        if !self.in_bytes.load(Ordering::SeqCst) {
            self.done.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
}

impl Relay {
    /// Passes the counters to `progress(total, done, failed, unit)`.
    fn publish(&self, py: Python<'_>, progress: &Option<Py<PyAny>>) -> PyResult<()> {
        if let Some(p) = progress {
            let unit = if self.in_bytes.load(Ordering::SeqCst) { "B" } else { "ROI" };
            p.call1(
                py,
                (
                    self.total.load(Ordering::SeqCst),
                    self.done.load(Ordering::SeqCst),
                    self.failed.load(Ordering::SeqCst),
                    unit,
                ),
            )?;
        }
        Ok(())
    }
}

/// `(exit, summary_json, message, hint)`.
type CallResult = (i32, Option<String>, Option<String>, Option<String>);

/// Runs the command line `argv` as a function (see `bcss_cli::api::call`). Returns
/// `(exit, summary_json, message, hint)`: exit 0 with the summary, or the CLI's exit code with
/// its message and hint (and the summary of a partial failure). `progress`, if given, is called
/// as `progress(total, done, failed, unit)` from the calling thread as work advances.
#[pyfunction]
#[pyo3(signature = (argv, progress=None))]
fn call(py: Python<'_>, argv: Vec<OsString>, progress: Option<Py<PyAny>>) -> PyResult<CallResult> {
    let relay = Arc::new(Relay::default());
    let (tx, rx) = mpsc::channel();
    let worker = {
        let relay = Arc::clone(&relay);
        std::thread::Builder::new()
            .name("bcss-call".into())
            .spawn(move || {
                let _ = tx.send(bcss_cli::api::call(argv, &*relay));
            })
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?
    };
    // `detach` needs `Sync` captures; only this thread ever locks it.
    let rx = std::sync::Mutex::new(rx);
    let mut interrupted: Option<PyErr> = None;
    let result = loop {
        match py.detach(|| rx.lock().expect("receiver lock").recv_timeout(Duration::from_millis(100))) {
            Ok(r) => break r,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = worker.join();
                return Err(PyRuntimeError::new_err("the bcss command panicked (see stderr)"));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if interrupted.is_none() {
            if let Err(e) = py.check_signals() {
                // Stop taking ROIs; wait for those under way, then raise.
                relay.cancel.store(true, Ordering::SeqCst);
                interrupted = Some(e);
            } else if let Err(e) = relay.publish(py, &progress) {
                relay.cancel.store(true, Ordering::SeqCst);
                interrupted = Some(e);
            }
        }
    };
    let _ = worker.join();
    if let Some(e) = interrupted {
        return Err(e);
    }
    relay.publish(py, &progress)?;
    Ok(match result {
        Ok(value) => (0, Some(value.to_string()), None, None),
        Err(e) => (e.exit, e.summary.map(|s| s.to_string()), Some(e.message), e.hint),
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(call, m)?)
}
