//! Progress reporting across the library boundary.
//!
//! Long operations take a `&dyn Reporter` and call it as work advances; the CLI draws progress
//! bars from these calls, tests record them. The library itself never prints.

use std::sync::Mutex;

/// How one unit of work (a ROI) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written and verified.
    Done,
    /// Already complete on disk and matching the manifest; nothing fetched.
    Skipped,
    /// Failed; the sentence says which step and why.
    Failed(String),
}

/// Receives progress events. Every method has an empty default.
pub trait Reporter: Sync {
    /// The run will process `total` units.
    fn on_plan(&self, _total: usize) {}
    /// Work on `unit` starts.
    fn on_start(&self, _unit: &str) {}
    /// The run will receive about `total` bytes (whole-file downloads), so progress can be shown
    /// in bytes rather than units.
    fn on_plan_bytes(&self, _total: u64) {}
    /// `n` more bytes were received or read.
    fn on_bytes(&self, _n: u64) {}
    /// Work on `unit` ended.
    fn on_done(&self, _unit: &str, _outcome: &Outcome) {}
    /// True when the caller wants the run to stop (Ctrl-C in Python, where the process is not
    /// simply killed). Workers ask before taking each next unit and stop taking new ones; units
    /// under way finish (every file is written atomically, so nothing partial is left) and the
    /// run returns its summary of what was done. The CLI never cancels: SIGINT ends it.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// [`Reporter::on_plan`].
    Plan(usize),
    /// [`Reporter::on_start`].
    Start(String),
    /// [`Reporter::on_done`].
    Done(String, Outcome),
}

/// Keeps events (except bytes, which it sums) for tests and for callers that want a log.
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
    bytes: Mutex<u64>,
}

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("recorder lock").clone()
    }
    /// Total bytes reported.
    pub fn bytes(&self) -> u64 {
        *self.bytes.lock().expect("recorder lock")
    }
}

impl Reporter for Recorder {
    fn on_plan(&self, total: usize) {
        self.events.lock().expect("recorder lock").push(Event::Plan(total));
    }
    fn on_start(&self, unit: &str) {
        self.events.lock().expect("recorder lock").push(Event::Start(unit.to_string()));
    }
    fn on_bytes(&self, n: u64) {
        *self.bytes.lock().expect("recorder lock") += n;
    }
    fn on_done(&self, unit: &str, outcome: &Outcome) {
        self.events.lock().expect("recorder lock").push(Event::Done(unit.to_string(), outcome.clone()));
    }
}
