//! Atomic file writes: temporary name, hash while writing, fsync, rename.
//!
//! A file appears under its final name only once complete. Temporary files are named
//! `.<final name>.<pid>.<n>.part` in the same directory (so the rename never crosses file systems)
//! and [`remove_stale_parts`] clears those a killed run left behind.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// Size and SHA-256 of a file as it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Bytes written.
    pub bytes: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// A writer that hashes and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), bytes: 0 }
    }
    /// The size and hash so far, and the inner writer.
    pub fn finish(self) -> (W, Written) {
        let sha256 = hex(&self.hasher.finalize());
        (self.inner, Written { bytes: self.bytes, sha256 })
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{n}.part", std::process::id()))
}

/// Writes `path` atomically: `write` fills a temporary file, which is synced and renamed over
/// `path` only if `write` succeeds. On any error the temporary file is removed and `path` is
/// untouched (an earlier complete file stays as it was).
pub fn write_atomic<E>(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<(), E>) -> Result<Written, E>
where
    E: From<io::Error>,
{
    let tmp = temp_path(path);
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
        write(&mut w)?;
        let (buf, written) = w.finish();
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        Ok(written)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes `.*.part` files left in `dir` by a killed run. Returns how many were removed.
///
/// It removes every temporary file, a live run's too: call it only while holding the root's
/// [`DatasetLock`](super::DatasetLock), when no other run writes there.
pub fn remove_stale_parts(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".part") && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Size and SHA-256 of an existing file, streamed.
pub fn hash_file(path: &Path) -> io::Result<Written> {
    let mut file = File::open(path)?;
    let mut w = HashingWriter::new(io::sink());
    io::copy(&mut file, &mut w)?;
    Ok(w.finish().1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_renames_and_failure_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        let w = write_atomic::<io::Error>(&path, |w| w.write_all(b"hello")).unwrap();
        assert_eq!(w.bytes, 5);
        assert_eq!(w.sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        let err = write_atomic::<io::Error>(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("cut"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
        assert_eq!(hash_file(&path).unwrap(), w);
    }

    #[test]
    fn stale_parts_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".x.png.1.0.part"), b"x").unwrap();
        std::fs::write(dir.path().join("keep.png"), b"x").unwrap();
        assert_eq!(remove_stale_parts(dir.path()).unwrap(), 1);
        assert!(dir.path().join("keep.png").exists());
    }
}
