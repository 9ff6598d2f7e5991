//! Atomic file writes: temporary name, hash while writing, fsync, rename. Every command writes
//! its files through [`write_atomic`] (or [`write_atomic_with`] for derived files that need no
//! fsync).
//!
//! A file appears under its final name only once complete. The temporary file is
//! `tempfile`'s (`NamedTempFile`: created exclusively with a random name, removed when dropped
//! on any error path, renamed by `persist`), named `.<final name>.<random>.part` in the same
//! directory, so the rename never crosses file systems and [`remove_stale_parts`] can clear what a
//! killed run left behind.

use std::io::{self, BufWriter, Write};
use std::path::Path;

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

/// Lower-case hex of bytes (the one definition is `model::hex`).
pub use bcss_model::hex;

/// How far a written file is made to survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// fsync before the rename: the dataset's files and records (the default).
    Synced,
    /// Rename only: derived files a rerun regenerates (tiles).
    Rename,
}

/// Writes `path` atomically: `write` fills a temporary file, which is synced and renamed over
/// `path` only if `write` succeeds. On any error the temporary file is removed and `path` is
/// untouched (an earlier complete file stays as it was).
pub fn write_atomic<E>(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<(), E>) -> Result<Written, E>
where
    E: From<io::Error>,
{
    write_atomic_with(path, Durability::Synced, write)
}

/// [`write_atomic`] with the choice of [`Durability`].
pub fn write_atomic_with<E>(
    path: &Path,
    durability: Durability,
    write: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<Written, E>
where
    E: From<io::Error>,
{
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".part");
    // tempfile creates its files 0600; a dataset's files are created as `File::create` does
    // (0666 less the umask, which the kernel applies to the mode given at creation).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let tmp = builder.tempfile_in(dir)?;
    let (file, tmp_path) = tmp.into_parts();
    let mut w = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
    // `tmp_path` removes the file when dropped, which every early return does.
    write(&mut w)?;
    let (buf, written) = w.finish();
    let file = buf.into_inner().map_err(|e| e.into_error())?;
    if durability == Durability::Synced {
        file.sync_all()?;
    }
    drop(file);
    tmp_path.persist(path).map_err(|e| e.error)?;
    Ok(written)
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
    let mut file = bcss_files::open_read(path)?;
    let mut w = HashingWriter::new(io::sink());
    io::copy(&mut file, &mut w)?;
    Ok(w.finish().1)
}

/// `dst` as a hard link to `src` when the file system allows, made under a temporary name and
/// renamed so `dst` is never partial; else an atomic copy ([`write_atomic`]). For a file copied
/// unchanged into a dataset (the masks of `bcss normalize`). Returns the size and hash of
/// `dst`, and whether it is a link.
pub fn link_or_copy(src: &Path, dst: &Path) -> std::io::Result<(Written, bool)> {
    let dir = dst.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.part",
        dst.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    // Only a regular file is linked: a link to a symbolic link would copy the link (pointing
    // anywhere) into the dataset, and a link to a FIFO would put a FIFO under the final name.
    // Anything else goes to the copy below, which reads through `files::open_read` (a user's
    // link to a regular file is followed; a special file is refused).
    let regular = std::fs::symlink_metadata(src).is_ok_and(|m| m.file_type().is_file());
    if regular && std::fs::hard_link(src, &tmp).is_ok() {
        // A rerun's `dst` may already be a link to `src`: rename then does nothing and leaves
        // the temporary name, which is removed either way.
        let renamed = std::fs::rename(&tmp, dst);
        let _ = std::fs::remove_file(&tmp);
        let linked = renamed.and_then(|()| hash_file(dst));
        if let Ok(w) = linked {
            return Ok((w, true));
        }
    }
    let written = write_atomic(dst, |w: &mut dyn Write| {
        let mut f = bcss_files::open_read(src)?;
        std::io::copy(&mut f, w).map(|_| ())
    })?;
    Ok((written, false))
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

    #[cfg(unix)]
    #[test]
    fn files_get_the_mode_file_create_gives_and_unsynced_writes_rename_too() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let path = dir.path().join("tile.png");
        write_atomic_with::<io::Error>(&path, Durability::Rename, |w| w.write_all(b"t")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), mode(&plain));
        assert_eq!(std::fs::read(&path).unwrap(), b"t");
        // A temporary file while writing is hidden and ends in `.part` (what remove_stale_parts clears).
        write_atomic::<io::Error>(&dir.path().join("b.png"), |_| {
            let names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert!(names.iter().any(|n| n.starts_with(".b.png.") && n.ends_with(".part")), "{names:?}");
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn stale_parts_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".x.png.1.0.part"), b"x").unwrap();
        std::fs::write(dir.path().join("keep.png"), b"x").unwrap();
        assert_eq!(remove_stale_parts(dir.path()).unwrap(), 1);
        assert!(dir.path().join("keep.png").exists());
    }

    #[test]
    fn link_or_copy_links_only_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("m.png"), dir.path().join("out.png"));
        std::fs::write(&src, b"mask").unwrap();
        let (w, linked) = link_or_copy(&src, &dst).unwrap();
        assert!(linked && w.bytes == 4);
        // A symbolic link is copied through (its target's bytes), never linked as a link.
        let l = dir.path().join("l.png");
        std::os::unix::fs::symlink(&src, &l).unwrap();
        let dst2 = dir.path().join("out2.png");
        let (_, linked) = link_or_copy(&l, &dst2).unwrap();
        assert!(!linked && !std::fs::symlink_metadata(&dst2).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&dst2).unwrap(), b"mask");
        // A FIFO is refused and nothing appears under the final name.
        let fifo = dir.path().join("f.png");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let dst3 = dir.path().join("out3.png");
        let e = link_or_copy(&fifo, &dst3).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        assert!(std::fs::symlink_metadata(&dst3).is_err());
    }
}
