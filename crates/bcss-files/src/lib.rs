//! Opening files as bcss must: the one place bcss's library crates open a file by path for
//! reading or for writing in place.
//!
//! Two rules, applied here so that no call site can forget them (issue 22):
//!
//! - **Reads never block and never read a special file.** [`open_read`] opens with `O_NONBLOCK`
//!   (a FIFO then opens at once instead of waiting for a writer) and refuses anything that is not
//!   a regular file (FIFO, socket, device, directory) with [`io::ErrorKind::InvalidInput`] and a
//!   message naming what it is. A symbolic link that a user made to a regular file is read:
//!   reading through a link changes nothing outside the dataset.
//! - **Writes never go through a link or into a special file bcss did not make.** [`open_write`]
//!   opens with `O_NOFOLLOW | O_NONBLOCK`, so a planted symbolic link as the last component fails
//!   (`ELOOP`) instead of being followed, a FIFO without a reader fails (`ENXIO`) instead of
//!   blocking, and then refuses what is not a regular file or is a regular file with a second hard
//!   link (another name, possibly outside the folder, for the same bytes). New files with final
//!   names are made by `bcss::dataset::atomic` (`tempfile`'s exclusive create + rename, which
//!   replaces a link rather than following it); this module is for the files bcss changes in
//!   place: lock files, a whole-slide download's `.part`, the GDC cache's sparse copies and records.
//!
//! Every size read whole has a budget: [`read`] and [`read_to_string`] take the most bytes the
//! caller accepts and check the file's size before allocating.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let table = dir.path().join("rois.csv");
//! std::fs::write(&table, ",xmin,ymin,xmax,ymax\n")?;
//! let text = bcss_files::read_to_string(&table, bcss_files::TABLE_FILE_LIMIT)?;
//! assert!(text.starts_with(",xmin"));
//! // Over the caller's budget: refused before anything is read.
//! assert!(bcss_files::read(&table, 4).is_err());
//! // A link planted where bcss writes: refused, not followed.
//! std::os::unix::fs::symlink(&table, dir.path().join("manifest.json"))?;
//! let planted = bcss_files::open_write(&dir.path().join("manifest.json"), bcss_files::WriteMode::Truncate, false);
//! assert!(planted.is_err());
//! # Ok::<(), std::io::Error>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

/// The most bytes an image or mask file read whole may have: a PNG of `bcss_model::MAX_PIXELS`
/// RGB pixels stored without compression, with its filter bytes and block headers, is under
/// 6.5 GiB; anything larger is not an image bcss could decode anyway.
pub const IMAGE_FILE_LIMIT: u64 = 13 << 29;

/// The most bytes a table bcss reads whole may have: `roiBounds.csv`, a GTCodes table, a class
/// map, a split file, a GDC manifest (the real ones are a few KB; a catalogue of a million ROIs
/// fits).
pub const TABLE_FILE_LIMIT: u64 = 64 << 20;

/// How [`open_write`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteMode {
    /// Open an existing file or create it; keep its bytes (position at the start).
    Keep,
    /// Open an existing file or create it, and truncate it to 0 bytes.
    Truncate,
    /// Open an existing file or create it; every write appends.
    Append,
}

/// Opens `path` for reading without blocking: a FIFO, socket, device or directory is refused with
/// [`io::ErrorKind::InvalidInput`] ("is a FIFO, not a regular file").
pub fn open_read(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    options.custom_flags(libc::O_NONBLOCK);
    let file = options.open(path)?;
    let meta = file.metadata()?;
    check_regular(&meta)?;
    // O_NONBLOCK has no effect on a regular file's reads (POSIX), so it is left set.
    Ok(file)
}

/// Reads all of `path` when it holds at most `limit` bytes, refusing special files (as
/// [`open_read`]) and larger files before allocating ([`io::ErrorKind::FileTooLarge`]-like
/// `InvalidData` error naming both sizes). A file that grows while being read is cut at the
/// limit and refused too.
pub fn read(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_read(path)?;
    let len = file.metadata()?.len();
    if len > limit {
        return Err(too_large(len, limit));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64, limit));
    }
    Ok(bytes)
}

/// [`read`] as UTF-8 text (invalid UTF-8 is [`io::ErrorKind::InvalidData`]).
pub fn read_to_string(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8 text"))
}

/// Opens (creating when absent) `path` for writing in place, never through a symbolic link (the
/// last component), never into a FIFO, device, socket or directory, and never into a file with
/// more than one hard link. A refusal is [`io::ErrorKind::InvalidInput`] with a message saying
/// what `path` is. `read` also opens it for reading.
pub fn open_write(path: &Path, mode: WriteMode, read: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(read).create(true);
    match mode {
        WriteMode::Keep => options.write(true),
        // Truncation happens after the checks below: a refused file keeps its bytes.
        WriteMode::Truncate => options.write(true),
        WriteMode::Append => options.append(true),
    };
    #[cfg(unix)]
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let file = options.open(path).map_err(refused_open)?;
    let meta = file.metadata()?;
    check_regular(&meta)?;
    #[cfg(unix)]
    if meta.nlink() > 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it has {} hard links (another name for the same file); bcss writes only files of its own",
                meta.nlink()
            ),
        ));
    }
    if mode == WriteMode::Truncate {
        file.set_len(0)?;
    }
    Ok(file)
}

/// Creates `path`, which must not exist (`O_EXCL`: never a link or a file someone else made), for
/// writing.
pub fn create_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.custom_flags(libc::O_NOFOLLOW);
    options.open(path)
}

/// Checks that `dir`, when it exists, is a real directory and not a symbolic link to one: the
/// folders bcss makes inside a dataset (`images/`, `wsis/`, ...) are written into by name, so a
/// planted link would send every file elsewhere. An absent `dir` is fine (the caller creates it).
/// The error does not name `dir` (the caller's context does).
pub fn check_own_dir(dir: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a symbolic link; bcss writes only into folders it made (replace the link by a folder)",
        )),
        Ok(m) if !m.is_dir() => Err(io::Error::new(io::ErrorKind::AlreadyExists, "it exists and is not a directory")),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// What kind of file `meta` describes, in words.
fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

fn check_regular(meta: &Metadata) -> io::Result<()> {
    if meta.is_file() {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("it is {}, not a regular file", kind(meta))))
    }
}

/// Turns the errors of an `O_NOFOLLOW | O_NONBLOCK` open into what they mean.
fn refused_open(e: io::Error) -> io::Error {
    #[cfg(unix)]
    match e.raw_os_error() {
        Some(libc::ELOOP) => {
            return io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a symbolic link; bcss does not write through links it did not make (remove it)",
            )
        }
        // O_WRONLY | O_NONBLOCK on a FIFO without a reader.
        Some(libc::ENXIO) => return io::Error::new(io::ErrorKind::InvalidInput, "it is a FIFO, not a regular file"),
        _ => {}
    }
    e
}

fn too_large(len: u64, limit: u64) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("it is {len} bytes, over the limit of {limit} bytes"))
}

/// A local file that could not be read or written: what was being done, the file and the OS
/// error (the one shape of such an error for the GDC client and its sparse cache).
#[derive(Debug, thiserror::Error)]
#[error("failed to {action} `{}`", path.display())]
pub struct FileError {
    /// What was being done (`open`, `write`, `rename`, ...).
    pub action: &'static str,
    /// The file.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

impl FileError {
    /// A closure that makes the error of `action` on `path` from an I/O error.
    pub fn of<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FileError + 'a {
        move |source| FileError { action, path: path.to_path_buf(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn fifo(path: &Path) {
        let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
        assert!(status.success());
    }

    #[test]
    fn a_fifo_is_refused_at_once_for_reads_and_writes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.png");
        fifo(&p);
        let e = open_read(&p).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = read(&p, 10).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = open_write(&p, WriteMode::Keep, false).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
    }

    #[test]
    fn a_directory_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let e = open_read(dir.path()).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
    }

    #[test]
    fn writes_never_follow_a_link_and_leave_its_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"precious").unwrap();
        let link = dir.path().join(".bcss.lock");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        for mode in [WriteMode::Keep, WriteMode::Truncate, WriteMode::Append] {
            let e = open_write(&link, mode, true).unwrap_err();
            assert!(e.to_string().contains("symbolic link"), "{e}");
        }
        // A dangling link is not created through either.
        let dangling = dir.path().join("d");
        std::os::unix::fs::symlink(dir.path().join("new-outside"), &dangling).unwrap();
        assert!(open_write(&dangling, WriteMode::Truncate, false).is_err());
        assert!(create_new(&dangling).is_err());
        assert!(!dir.path().join("new-outside").exists());
        assert_eq!(std::fs::read(&outside).unwrap(), b"precious");
    }

    #[test]
    fn a_second_hard_link_is_refused_before_truncating() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"keep").unwrap();
        std::fs::hard_link(&a, dir.path().join("b")).unwrap();
        let e = open_write(&dir.path().join("b"), WriteMode::Truncate, false).unwrap_err();
        assert!(e.to_string().contains("hard links"), "{e}");
        assert_eq!(std::fs::read(&a).unwrap(), b"keep");
    }

    #[test]
    fn own_files_open_in_each_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        open_write(&p, WriteMode::Append, false).unwrap().write_all(b"ab").unwrap();
        open_write(&p, WriteMode::Append, false).unwrap().write_all(b"c").unwrap();
        assert_eq!(read(&p, 3).unwrap(), b"abc");
        let e = read(&p, 2).unwrap_err();
        assert!(e.to_string().contains("over the limit of 2 bytes"), "{e}");
        open_write(&p, WriteMode::Truncate, false).unwrap();
        assert_eq!(read(&p, 3).unwrap(), b"");
        // A link made by the user to a regular file is read.
        let l = dir.path().join("l");
        std::os::unix::fs::symlink(&p, &l).unwrap();
        assert_eq!(read_to_string(&l, 10).unwrap(), "");
    }

    #[test]
    fn own_dirs_are_real_directories() {
        let dir = tempfile::tempdir().unwrap();
        check_own_dir(&dir.path().join("absent")).unwrap();
        check_own_dir(dir.path()).unwrap();
        let l = dir.path().join("images");
        std::os::unix::fs::symlink("/tmp", &l).unwrap();
        assert!(check_own_dir(&l).unwrap_err().to_string().contains("symbolic link"));
    }
}
