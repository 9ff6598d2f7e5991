//! Progress bars (indicatif) behind the library's `Reporter` trait.
//!
//! One bar: units done / total, bytes received, rate and ETA. Hidden with `--quiet`,
//! `--no-progress`, `--json`, or when stderr is not a terminal. Until the command knows how many
//! units there are (connecting, listing), a spinner says so instead of a full bar at "0/0".
//! Sizes are decimal (kB, MB: 10^3, 10^6 bytes), as in every summary bcss prints.

use std::io::IsTerminal;
use std::sync::Mutex;

use bcss::report::{Outcome, Reporter};
use indicatif::{DecimalBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

static CURRENT: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Runs `f` with the current bar (if any) hidden, so a line printed does not tear it.
pub fn suspend<T>(f: impl FnOnce() -> T) -> T {
    let bar = CURRENT.lock().expect("bar lock").clone();
    match bar {
        Some(b) => b.suspend(f),
        None => f(),
    }
}

/// Before the plan: what is being prepared, no count.
fn starting_style(what: &str) -> ProgressStyle {
    ProgressStyle::with_template(&format!("{{spinner}} [{{elapsed_precise}}] preparing the {what}... {{msg}}"))
        .expect("valid template")
}

fn unit_style(what: &str) -> ProgressStyle {
    ProgressStyle::with_template(&format!(
        "{{spinner}} [{{elapsed_precise}}] {{bar:30.cyan/blue}} {{pos}}/{{len}} {what} {{msg}} ETA {{eta}}"
    ))
    .expect("valid template")
    .progress_chars("=> ")
}

/// A progress bar as a `Reporter`.
pub struct Bar {
    bar: ProgressBar,
    /// What a unit is (`ROIs`, `tiles`).
    what: String,
    bytes: std::sync::atomic::AtomicU64,
    failed: std::sync::atomic::AtomicUsize,
    /// Counting bytes of whole files instead of units (after `on_plan_bytes`).
    in_bytes: std::sync::atomic::AtomicBool,
}

impl Bar {
    /// A bar for `what` (`ROIs`, `tiles`, ...), visible only when `visible` and stderr is a TTY.
    pub fn new(what: &str, visible: bool) -> Bar {
        let bar = ProgressBar::with_draw_target(
            None,
            if visible && std::io::stderr().is_terminal() {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(starting_style(what));
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        *CURRENT.lock().expect("bar lock") = Some(bar.clone());
        Bar {
            bar,
            what: what.to_string(),
            bytes: Default::default(),
            failed: Default::default(),
            in_bytes: Default::default(),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
        *CURRENT.lock().expect("bar lock") = None;
    }

    fn update_message(&self) {
        let bytes = self.bytes.load(std::sync::atomic::Ordering::Relaxed);
        let failed = self.failed.load(std::sync::atomic::Ordering::Relaxed);
        let secs = self.bar.elapsed().as_secs_f64().max(0.001);
        let mut msg = format!("{} ({}/s)", DecimalBytes(bytes), DecimalBytes((bytes as f64 / secs) as u64));
        if failed > 0 {
            msg.push_str(&format!(", {failed} failed"));
        }
        self.bar.set_message(msg);
    }
}

impl Reporter for Bar {
    fn on_plan(&self, total: usize) {
        // The unit style from the plan on (and back to units after a byte-counted phase: whole
        // slides, then ROIs).
        self.in_bytes.store(false, std::sync::atomic::Ordering::Relaxed);
        self.bar.set_style(unit_style(&self.what));
        self.bar.set_position(0);
        self.bar.set_length(total as u64);
    }
    fn on_plan_bytes(&self, total: u64) {
        // Whole files: the bar counts bytes, not units.
        self.in_bytes.store(true, std::sync::atomic::Ordering::Relaxed);
        self.bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {decimal_bytes}/{decimal_total_bytes} ({decimal_bytes_per_sec}) {msg} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        self.bar.set_position(0);
        self.bar.set_length(total);
    }
    fn on_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        if self.in_bytes.load(std::sync::atomic::Ordering::Relaxed) {
            self.bar.inc(n);
        } else {
            self.update_message();
        }
    }
    fn on_done(&self, _unit: &str, outcome: &Outcome) {
        if matches!(outcome, Outcome::Failed(_)) {
            self.failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if self.in_bytes.load(std::sync::atomic::Ordering::Relaxed) {
            let failed = self.failed.load(std::sync::atomic::Ordering::Relaxed);
            if failed > 0 {
                self.bar.set_message(format!("{failed} failed"));
            }
        } else {
            self.bar.inc(1);
            self.update_message();
        }
    }
}
