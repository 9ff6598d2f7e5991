//! Test helpers: a temporary directory and a command builder for the `bcss` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `bcss` binary under test.
pub fn bcss() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bcss"));
    cmd.env_remove("BCSS_API_KEY").env_remove("BCSS_API_URL").env_remove("BCSS_FOLDER_ID").env_remove("BCSS_OUT").env_remove("BCSS_PASSWORD");
    cmd.env("BCSS_RETRY_BASE_MS", "5").env("NO_COLOR", "1");
    cmd
}

/// Runs a command and returns its output, with stdout and stderr as text.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output { status, stdout, stderr } = cmd.output().expect("bcss runs");
    Run { code: status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&stdout).into_owned(), stderr: String::from_utf8_lossy(&stderr).into_owned() }
}

/// A temporary directory kept for the test's lifetime.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir { tmp: tempfile::tempdir().expect("temp dir") }
    }
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, content).expect("write test file");
        p
    }
}

/// Every file under `root`, relative, sorted.
pub fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    walk(root, root, &mut out);
    out.sort();
    out
}
