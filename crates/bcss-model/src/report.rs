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
    /// Failed: which unit, at which step, the HTTP status if a server answered one, and why.
    Failed(UnitFailure),
}

/// Whose side an error that stopped a command is on, so a front end can say what to change (the
/// CLI's exit code and hint): the input given, the output folder, another run holding that
/// folder, or a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// Arguments, configuration or input files.
    Input,
    /// The output folder: cannot be created, written or read back.
    Output,
    /// Another run holds the output folder's lock.
    Busy,
    /// A server: unreachable, refusing or failing.
    Server,
}

/// An error of a command that says whose side it is on. Every command error implements it with
/// an exhaustive match inside this crate, so a new variant cannot be left unclassified.
pub trait Blamed: std::error::Error + Send + Sync + 'static {
    /// Whose side the error is on.
    fn blame(&self) -> Blame;
}

/// The step of a ROI's work that failed, for programs that sort failures (the `step` of a
/// failure in `--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Step {
    /// Finding or opening the ROI's slide (the source has none, tiles metadata, a slide file).
    Slide,
    /// The region's pixels: planning, fetching, reading or decoding them.
    Region,
    /// The label mask: a mask link, a mask file, or rasterising annotations.
    Mask,
    /// The slide's annotation JSON: fetching it (`download`'s `annotations` part), or reading
    /// and parsing the file `masks` rasterises.
    Annotations,
    /// Writing an output file.
    Write,
    /// Recording the result in the manifest.
    Manifest,
    /// Downloading a whole slide file (`--pipeline wsis`).
    Download,
    /// Reading an input file of a dataset (`stats`, `eval`, `report`; for `eval`, the ground
    /// truth).
    Input,
    /// A prediction `eval` scores: missing, unreadable, of another size than its ground truth,
    /// or holding a value that is not a class of the map.
    Prediction,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Slide => "slide",
            Step::Region => "region",
            Step::Mask => "mask",
            Step::Annotations => "annotations",
            Step::Write => "write",
            Step::Manifest => "manifest",
            Step::Download => "download",
            Step::Input => "input",
            Step::Prediction => "prediction",
        })
    }
}

/// One unit's failure as the end-of-run report and the `--json` summary keep it: typed fields
/// for programs, and the whole chain of causes as one line for people.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnitFailure {
    /// The unit: a ROI id (a slide file name for whole-slide downloads).
    pub id: String,
    /// The step that failed, when the error says.
    pub step: Option<Step>,
    /// The HTTP status a server answered, when the failure was one.
    pub status: Option<u16>,
    /// The error and its causes, each once ([`error_chain`]).
    pub reason: String,
}

impl UnitFailure {
    /// A failure of `id` with only a reason (no step, no status).
    pub fn new(id: impl Into<String>, reason: impl Into<String>) -> UnitFailure {
        UnitFailure { id: id.into(), step: None, status: None, reason: reason.into() }
    }
}

/// An error and its causes as one line, `outer: cause: root`, each level once.
///
/// Every error of bcss says only its own level (`failed to write `x.png``) and hands its cause
/// on through [`std::error::Error::source`] (`No space left on device`), so joining the
/// levels with `: ` says each thing exactly once. This is the line a failed unit's
/// [`UnitFailure::reason`] holds and the line the CLI prints.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line
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
#[non_exhaustive]
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
