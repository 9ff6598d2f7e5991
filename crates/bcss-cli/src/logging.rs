//! Logs: one file per run under `<dataset>/logs/`, and warnings on stderr.
//!
//! The file gets INFO and above (every retry, skip and failure), named like the original
//! downloader's logs (`YYYY-MM-DD_HH_MM_SS.ffffff.log`, UTC). Stderr gets warnings and errors,
//! printed above the progress bar, but a ROI's failure, which the end-of-run report lists.
//! `BCSS_LOG` (e.g. `debug`) overrides the file's level.
//! Secrets never reach either: the library never formats them.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// `YYYY-MM-DD_HH_MM_SS.ffffff` for now, UTC.
pub fn timestamp() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let t = bcss::model::UtcTime::from_unix(now.as_secs() as i64);
    format!(
        "{:04}-{:02}-{:02}_{:02}_{:02}_{:02}.{:06}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        now.subsec_micros()
    )
}

/// The current run's log file. The subscriber is global and installed once per process; a
/// later run in the same process (the Python package calls commands as functions) swaps the
/// file here, so each run's log gets its own events.
static LOG_FILE: Mutex<Option<File>> = Mutex::new(None);

/// Whether the current run is quiet (no warnings on stderr), for the same reason.
static QUIET: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Copy)]
struct FileWriter;

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match LOG_FILE.lock().expect("log lock").as_mut() {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match LOG_FILE.lock().expect("log lock").as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for FileWriter {
    type Writer = FileWriter;
    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// Writes to stderr above the progress bar.
#[derive(Clone, Copy)]
struct StderrAboveBars;

impl Write for StderrAboveBars {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::progress::suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for StderrAboveBars {
    type Writer = StderrAboveBars;
    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// The target of events written to the log file only.
pub const LOG_ONLY: &str = "bcss::log_only";

/// The target of the worker pool's "ROI failed" events: in the log file, not on stderr, since
/// the end-of-run report lists every failure once, identical reasons grouped (151 copies of one
/// refusal as they happen, then again in the report, buried the cause).
const UNIT_FAILURES: &str = "bcss::command::workers";

/// Installs the subscriber: a log file in `logs_dir` (if given) and stderr warnings unless
/// `quiet`. Returns the log file's path.
pub fn init(logs_dir: Option<&Path>, quiet: bool) -> anyhow::Result<Option<PathBuf>> {
    let mut path = None;
    let mut file = None;
    if let Some(dir) = logs_dir {
        bcss::files::check_own_dir(dir)
            .and_then(|()| std::fs::create_dir_all(dir))
            .map_err(|e| anyhow::Error::new(e).context(format!("cannot create log directory `{}`", dir.display())))?;
        let p = dir.join(format!("{}.log", timestamp()));
        file = Some(
            // Appended to (two runs may start in one second), never through a planted link.
            bcss::files::open_write(&p, bcss::files::WriteMode::Append, false)
                .map_err(|e| anyhow::Error::new(e).context(format!("cannot create log file `{}`", p.display())))?,
        );
        path = Some(p);
    }
    *LOG_FILE.lock().expect("log lock") = file;
    QUIET.store(quiet, Ordering::Relaxed);
    let filter = EnvFilter::try_from_env("BCSS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let file_layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_target(false)
        .with_writer(FileWriter)
        .with_filter(filter)
        .with_filter(tracing_subscriber::filter::filter_fn(|_| LOG_FILE.lock().expect("log lock").is_some()));
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_ansi(std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .with_writer(StderrAboveBars)
        .with_filter(tracing_subscriber::filter::LevelFilter::WARN)
        // Lines meant for the log file only (the fatal error, which stderr gets as one sentence).
        .with_filter(tracing_subscriber::filter::filter_fn(|m| {
            m.target() != LOG_ONLY && m.target() != UNIT_FAILURES && !QUIET.load(Ordering::Relaxed)
        }));
    // Installed once; a second run in the same process keeps it (the file and quietness above
    // are what change).
    tracing_subscriber::registry().with(file_layer).with(stderr_layer).try_init().ok();
    Ok(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_shape() {
        let t = super::timestamp();
        assert_eq!(t.len(), "2026-11-27_05_43_50.123456".len(), "{t}");
        assert!(t.starts_with("20"), "{t}");
        assert_eq!(&t[4..5], "-");
        assert_eq!(&t[10..11], "_");
    }
}
