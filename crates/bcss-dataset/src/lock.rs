//! One writer per dataset root: an exclusive advisory lock on `<root>/.bcss.lock`.
//!
//! Every command that writes into a folder (`download`, `extract`, `tile`, `stats`, `overlay`,
//! `masks`) holds a [`DatasetLock`] on it for the whole run. Two runs on one root would otherwise
//! break each other: each removes the other's temporary files in flight, and each rewrites the
//! manifest from its own copy, dropping the other's ROIs.
//!
//! The lock is the operating system's (`flock` on Unix, through [`File::try_lock`]), held by the
//! open file: when the process ends, however it ends (`kill -9` included), the lock is gone, so
//! no stale lock ever blocks a later run and nothing needs cleaning up. The file's content, the
//! owner's pid, host, command and start time, is information for the message of a run that is
//! refused, never the lock itself. A process that already holds the lock cannot take it a second
//! time (two opens of one file conflict): code that needs the root locked takes the
//! [`DatasetLock`] by reference.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bcss_files::{self as files, WriteMode};

use serde::{Deserialize, Serialize};

/// The lock file's name under a dataset root.
pub const LOCK_FILE: &str = ".bcss.lock";

/// Who holds a lock, as its holder recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockOwner {
    /// Process id.
    pub pid: u32,
    /// Host name (`unknown` when it cannot be read).
    pub host: String,
    /// What runs: `bcss download`, `bcss tile`, ...
    pub command: String,
    /// When the lock was taken, UTC (`2026-08-21T10:04:05Z`).
    pub started: String,
}

impl std::fmt::Display for LockOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` (pid {} on host `{}`, started {})", self.command, self.pid, self.host, self.started)
    }
}

/// Why a dataset root could not be locked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another run holds the lock.
    #[error(
        "`{}` is in use by another run: {} holds its lock `{}`",
        root.display(),
        owner.as_ref().map_or_else(|| "a process that has not recorded itself yet".to_string(), |o| o.to_string()),
        path.display()
    )]
    Held {
        /// The dataset root.
        root: PathBuf,
        /// The lock file.
        path: PathBuf,
        /// The holder, when its record could be read (boxed: errors stay small).
        owner: Option<Box<LockOwner>>,
    },
    /// The root or the lock file cannot be created, opened or locked.
    #[error("cannot lock `{}`", path.display())]
    Io {
        /// The lock file (or the root, when it cannot be created).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl bcss_model::report::Blamed for LockError {
    fn blame(&self) -> bcss_model::report::Blame {
        use bcss_model::report::Blame;
        match self {
            LockError::Held { .. } => Blame::Busy,
            LockError::Io { .. } => Blame::Output,
        }
    }
}

/// An exclusive lock on a dataset root, held until dropped (or the process ends).
#[derive(Debug)]
pub struct DatasetLock {
    root: PathBuf,
    file: File,
}

impl DatasetLock {
    /// Locks `root` (created, parents too, when absent) for `command` (`download`, `tile`, ...).
    /// When another process holds the lock: [`LockError::Held`] naming it, or with `wait`, blocks
    /// until it is released (logged once at `warn`).
    pub fn acquire(root: &Path, command: &str, wait: bool) -> Result<DatasetLock, LockError> {
        let path = root.join(LOCK_FILE);
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LockError::Io { path, source }
        };
        std::fs::create_dir_all(root).map_err(io_err(root))?;
        // Never through a planted link or into a special file: a dataset received from someone
        // else may carry a `.bcss.lock` that points anywhere (issue 22).
        let mut file = files::open_write(&path, WriteMode::Keep, true).map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let owner = read_owner(&mut file);
                if !wait {
                    return Err(LockError::Held { root: root.to_path_buf(), path, owner: owner.map(Box::new) });
                }
                let holder = owner.map_or_else(|| "another process".to_string(), |o| o.to_string());
                tracing::warn!(root = %root.display(), holder, "waiting for the other run on this folder to finish");
                file.lock().map_err(io_err(&path))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
        }
        let owner = LockOwner {
            pid: std::process::id(),
            host: host_name(),
            command: format!("bcss {command}"),
            started: utc_now(),
        };
        // Information only: a failure to record it does not make the lock any less held.
        if let Err(e) = record_owner(&mut file, &owner) {
            tracing::warn!(path = %path.display(), error = %e, "cannot record the lock's owner");
        }
        tracing::debug!(root = %root.display(), "dataset locked");
        Ok(DatasetLock { root: root.to_path_buf(), file })
    }

    /// The locked root, as given to [`DatasetLock::acquire`].
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether another process holds the lock on `root` at this moment (a run writing into it):
    /// `Some` with the holder as recorded (`None` inside when the record cannot be read), `None`
    /// when nobody holds it or there is no lock file. Takes nothing: a shared lock is tried and
    /// released at once.
    pub fn holder(root: &Path) -> Option<Option<LockOwner>> {
        let mut file = files::open_read(&root.join(LOCK_FILE)).ok()?;
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                None
            }
            Err(std::fs::TryLockError::WouldBlock) => Some(read_owner(&mut file)),
            Err(std::fs::TryLockError::Error(_)) => None,
        }
    }

    /// The holder of the lock on `root` as recorded in its lock file (it may have ended since).
    pub fn recorded_owner(root: &Path) -> Option<LockOwner> {
        let mut file = files::open_read(&root.join(LOCK_FILE)).ok()?;
        read_owner(&mut file)
    }
}

impl Drop for DatasetLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first is explicit, not needed.
        let _ = self.file.unlock();
    }
}

fn record_owner(file: &mut File, owner: &LockOwner) -> io::Result<()> {
    use std::io::Seek;
    let mut text = serde_json::to_string_pretty(owner).map_err(io::Error::from)?;
    text.push('\n');
    file.set_len(0)?;
    file.seek(io::SeekFrom::Start(0))?;
    file.write_all(text.as_bytes())?;
    file.flush()
}

/// The owner recorded in an open lock file. The holder may be writing it at this very moment
/// (it truncates, then writes): an empty or partial record is read again a few times.
fn read_owner(file: &mut File) -> Option<LockOwner> {
    use std::io::Seek;
    for attempt in 0..10 {
        let mut text = String::new();
        if file.seek(io::SeekFrom::Start(0)).is_ok() && (&mut *file).take(64 * 1024).read_to_string(&mut text).is_ok() {
            if let Ok(owner) = serde_json::from_str(&text) {
                return Some(owner);
            }
        }
        if attempt < 9 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    None
}

/// The host name (Linux: the kernel's; elsewhere `HOSTNAME`/`COMPUTERNAME`), or `unknown`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    utc(secs as i64)
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc(secs: i64) -> String {
    bcss_model::UtcTime::from_unix(secs).iso()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("new/root");
        let first = DatasetLock::acquire(&root, "download", false).unwrap();
        assert_eq!(first.root(), root);
        let err = DatasetLock::acquire(&root, "tile", false).unwrap_err();
        let LockError::Held { owner: Some(owner), .. } = &err else { panic!("{err:?}") };
        assert_eq!(owner.pid, std::process::id());
        assert_eq!(owner.command, "bcss download");
        let text = err.to_string();
        assert!(text.contains("in use by another run") && text.contains("bcss download"), "{text}");
        assert!(text.contains(&format!("pid {}", std::process::id())) && text.contains(LOCK_FILE), "{text}");
        assert_eq!(DatasetLock::recorded_owner(&root).unwrap(), **owner);
        let held = DatasetLock::holder(&root).expect("held").expect("its record");
        assert_eq!(held.command, "bcss download");
        drop(first);
        assert!(DatasetLock::holder(&root).is_none(), "released");
        let again = DatasetLock::acquire(&root, "tile", false).unwrap();
        assert_eq!(DatasetLock::recorded_owner(&root).unwrap().command, "bcss tile", "the record is replaced");
        drop(again);
        assert!(root.join(LOCK_FILE).exists(), "the file stays; only the OS lock matters");
    }

    #[test]
    fn a_waiting_run_gets_the_lock_when_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let first = DatasetLock::acquire(&root, "download", false).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let root = root.clone();
            std::thread::spawn(move || {
                let lock = DatasetLock::acquire(&root, "extract", true).unwrap();
                tx.send(()).unwrap();
                lock
            })
        };
        assert!(rx.recv_timeout(std::time::Duration::from_millis(300)).is_err(), "still waiting");
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the waiter got the lock");
        let lock = waiter.join().unwrap();
        assert_eq!(DatasetLock::recorded_owner(&root).unwrap().command, "bcss extract");
        drop(lock);
    }

    #[test]
    fn a_leftover_file_without_a_holder_does_not_block() {
        // A killed run leaves its file and record; the OS lock went with the process.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(LOCK_FILE),
            r#"{"pid": 1, "host": "h", "command": "bcss download", "started": "2020-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let lock = DatasetLock::acquire(dir.path(), "download", false).unwrap();
        assert_eq!(DatasetLock::recorded_owner(dir.path()).unwrap().pid, std::process::id());
        drop(lock);
    }

    #[test]
    fn an_unusable_root_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let err = DatasetLock::acquire(&file, "download", false).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err:?}");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_787_310_245), "2026-08-21T11:04:05Z");
    }
}
