//! A sparse local copy of a remote slide: a file of the slide's full size holding only the byte
//! ranges fetched so far (holes elsewhere), which OpenSlide opens and reads like the original.
//!
//! **Planning** (which bytes a read needs, from a [`Layout`]) is the crate `bcss-tiff`'s:
//! `open_ranges` (header, IFDs, tag arrays, `JPEGTables`, tile (0,0) of every tiled level, the
//! smallest level, which OpenSlide hashes into `openslide.quickhash-1`) and `tiles_for`, the
//! tiles a rectangle of one level touches.
//!
//! **Loud failure.** An unfetched tile reads as zeros. A JPEG or JPEG 2000 decoder rejects that
//! ("Not a JPEG file: starts with 0x00 0x00"), so a read that strays outside what was fetched
//! fails instead of returning wrong pixels. An uncompressed, LZW or deflate tile of zeros could
//! decode silently, so `tiles_for` refuses those levels (`PlanError::Compression`).
//!
//! **The cache** ([`SparseSlide`]): `<cache>/<file_id>.svs` plus `<file_id>.ranges`, a JSON
//! record of the byte ranges present, keyed by the file's size and MD5. The record is rewritten
//! (temporary file, fsync, rename) only after the bytes it adds were written and fsynced, so a
//! crash never records bytes that are not there. [`SparseSlide::ensure`] fetches only what is
//! missing, merging gaps below `MAX_GAP` and capping a request at `MAX_REQUEST`. Within a
//! process, every `SparseSlide` of one cache file shares one lock, so several threads may call
//! `ensure` on the same slide; fetches of one slide then run one at a time. Processes sharing a
//! cache directory (`--gdc-cache`) take `<file_id>.lock` (an advisory file lock) around every
//! change, and the record on disk, re-read under that lock, is what the file holds.
//!
//! **Files and budgets.** The copy, its lock file and everything read back are opened through
//! [`crate::files`]: a planted symbolic link, FIFO, device or file with a second hard link at
//! `<id>.svs` or `<id>.lock` fails the slide (never followed, never resized); the record and
//! the layout are replaced by rename and read back with a size budget. [`SparseSlide::ensure`]
//! takes a budget and fetches nothing when what is missing exceeds it
//! ([`SparseError::OverBudget`]); the GDC pipeline gives opening `MAX_METADATA` plus tile
//! (0, 0) of each level, and a ROI its planned tiles at 2 bytes per RGB sample plus 128 KiB
//! each (`read_budget`).
//!
//! **The layout** of each file ([`SparseSlide::layout`]) is parsed once from the network into
//! memory (the parser reads ahead in 64 KiB chunks that end anywhere, inside tiles too, so those
//! bytes are never written to the sparse file) and kept as `<file_id>.layout.json`; a kept
//! layout is used only after [`bcss_tiff::validate`] accepts it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::gdc::{GdcError, GdcFile};
use crate::files::{self, WriteMode};
use bcss_tiff::{coalesce, merge, Layout, MAX_GAP, MAX_REQUEST};

/// The largest `.ranges` record or `.layout.json` read back (a record of a real slide is a few
/// KB; a layout, every tile offset and byte count as JSON, at most a few tens of MB).
const MAX_RECORD_BYTES: u64 = 128 << 20;

/// `wanted` minus `present` (both sorted and disjoint).
fn subtract(wanted: &[Range<u64>], present: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    for w in wanted {
        let mut start = w.start;
        for p in present.iter().filter(|p| p.end > w.start && p.start < w.end) {
            if p.start > start {
                out.push(start..p.start);
            }
            start = start.max(p.end);
        }
        if start < w.end {
            out.push(start..w.end);
        }
    }
    out
}

/// Why the sparse cache failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SparseError {
    /// A local file could not be read or written.
    #[error(transparent)]
    Io(#[from] files::FileError),
    /// The file id cannot name a cache file.
    #[error("file id `{id}` cannot name a cache file")]
    BadId {
        /// The id.
        id: String,
    },
    /// Another version of the file is open in this process.
    #[error("`{path}` is in use for another version of the file")]
    InUse {
        /// The cache file.
        path: PathBuf,
    },
    /// Fetching a range failed.
    #[error("failed to fetch bytes {start}..{end} of `{name}`")]
    Fetch {
        /// The file name.
        name: String,
        /// First byte.
        start: u64,
        /// End (exclusive).
        end: u64,
        /// The GDC's error (boxed, typed: the error of every cache operation carries this type).
        #[source]
        source: Box<super::gdc::GdcError>,
    },
    /// The file's TIFF structure is unusable.
    #[error("TIFF structure of `{name}`")]
    Layout {
        /// The file name.
        name: String,
        /// What is wrong.
        #[source]
        source: bcss_tiff::TiffError,
    },
    /// What a read needs from the server is over the budget its caller set (a hostile or
    /// broken TIFF claiming huge tiles or tag arrays): nothing was fetched.
    #[error("reading `{name}` needs {need} bytes from the server, over the limit of {budget} bytes for this read")]
    OverBudget {
        /// The file name.
        name: String,
        /// The bytes the missing ranges would fetch.
        need: u64,
        /// The budget.
        budget: u64,
    },
    /// The fetcher returned another length than asked for.
    #[error("asked for bytes {start}..{end} of `{name}`, got {got} bytes")]
    ShortFetch {
        /// The file name.
        name: String,
        /// First byte.
        start: u64,
        /// End (exclusive).
        end: u64,
        /// Length returned.
        got: u64,
    },
}

/// What the TIFF parser is told when a fetch failed: the fetch's own error is kept aside.
#[derive(Debug, thiserror::Error)]
#[error("the fetch failed")]
struct FetchFailed;

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SparseError + 'a {
    move |source| SparseError::Io(files::FileError::of(action, path)(source))
}

/// Replaces `path` with `json` whole: written to a fresh temporary file beside it (`tempfile`
/// gives every writer its own name, so two processes sharing a cache never write one file),
/// synced, renamed over it, and the rename made durable where the directory can be synced.
fn write_json(path: &Path, json: &[u8]) -> Result<(), SparseError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_err("create a temporary file in", dir))?;
    tmp.write_all(json).map_err(io_err("write", tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_err("sync", tmp.path()))?;
    tmp.persist(path).map_err(|e| SparseError::Io(files::FileError::of("replace", path)(e.error)))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `<id>.lock` beside `<id>.svs`.
fn lock_path(svs: &Path) -> PathBuf {
    svs.with_extension("lock")
}

/// An exclusive advisory lock on a file, held until dropped: one process at a time changes a
/// cache entry (threads of one process are already serialised by the entry's mutex).
struct FileLock(File);

impl FileLock {
    fn acquire(path: &Path) -> Result<FileLock, SparseError> {
        // Never through a planted link or into a FIFO (`files::open_write`).
        let f = files::open_write(path, WriteMode::Keep, false).map_err(io_err("open", path))?;
        f.lock().map_err(io_err("lock", path))?;
        Ok(FileLock(f))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

fn remove_if_present(path: &Path) -> Result<(), SparseError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err("remove", path)(e)),
        _ => Ok(()),
    }
}

/// The ranges a record vouches for, when it is this file's and well formed.
fn load_record(record: &Path, file: &GdcFile) -> Option<Vec<Range<u64>>> {
    files::read(record, MAX_RECORD_BYTES)
        .ok()
        .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
        .filter(|r| r.file_id == file.id && r.size == file.size && r.md5.eq_ignore_ascii_case(&file.md5))
        .map(|r| r.present.into_iter().map(|(a, b)| a..b).collect::<Vec<_>>())
        .filter(|p| p.iter().all(|r| r.start < r.end && r.end <= file.size))
        .map(merge)
}

/// What the `.ranges` record holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    file_id: String,
    size: u64,
    md5: String,
    /// Sorted, disjoint `[start, end)` pairs.
    present: Vec<(u64, u64)>,
}

/// The shared state of one cache file in this process.
#[derive(Debug)]
struct Entry {
    size: u64,
    md5: String,
    present: Mutex<Vec<Range<u64>>>,
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Weak<Entry>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Weak<Entry>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A sparse local copy of one remote file.
#[derive(Debug)]
pub struct SparseSlide {
    file: GdcFile,
    path: PathBuf,
    record: PathBuf,
    handle: File,
    entry: Arc<Entry>,
    max_gap: u64,
    max_request: u64,
}

impl SparseSlide {
    /// Opens (or creates) the sparse copy of `file` under `cache_dir`: `<id>.svs` of the file's
    /// size and `<id>.ranges`. A record for another size or MD5, or an unreadable one, starts
    /// the copy afresh.
    pub fn open(cache_dir: &Path, file: &GdcFile) -> Result<SparseSlide, SparseError> {
        if !super::gdc::is_safe_id(&file.id) {
            return Err(SparseError::BadId { id: file.id.clone() });
        }
        std::fs::create_dir_all(cache_dir).map_err(io_err("create", cache_dir))?;
        let path = cache_dir.join(format!("{}.svs", file.id));
        let record = cache_dir.join(format!("{}.ranges", file.id));
        // Resized and written in place: never through a planted link, never into a FIFO, a
        // device or a file with a second name (`files::open_write` refuses them all).
        let handle = files::open_write(&path, WriteMode::Keep, true).map_err(io_err("open", &path))?;
        let key = std::fs::canonicalize(&path).map_err(io_err("open", &path))?;
        let mut reg = registry().lock().expect("sparse registry");
        reg.retain(|_, e| e.strong_count() > 0);
        if let Some(entry) = reg.get(&key).and_then(Weak::upgrade) {
            if entry.size != file.size || !entry.md5.eq_ignore_ascii_case(&file.md5) {
                return Err(SparseError::InUse { path });
            }
            return Ok(SparseSlide {
                file: file.clone(),
                path,
                record,
                handle,
                entry,
                max_gap: MAX_GAP,
                max_request: MAX_REQUEST,
            });
        }
        let lock = lock_path(&path);
        let _guard = FileLock::acquire(&lock)?;
        let present = load_record(&record, file);
        let len = handle.metadata().map_err(io_err("read", &path))?.len();
        let present = match present {
            Some(p) if len == file.size => p,
            _ => {
                // A fresh start: nothing recorded is trusted, the old bytes become holes. The
                // record goes first, so a crash in between never leaves one that vouches for
                // the holes.
                remove_if_present(&record)?;
                handle.set_len(0).map_err(io_err("truncate", &path))?;
                handle.set_len(file.size).map_err(io_err("resize", &path))?;
                handle.sync_all().map_err(io_err("sync", &path))?;
                Vec::new()
            }
        };
        let entry = Arc::new(Entry { size: file.size, md5: file.md5.clone(), present: Mutex::new(present) });
        reg.insert(key, Arc::downgrade(&entry));
        Ok(SparseSlide { file: file.clone(), path, record, handle, entry, max_gap: MAX_GAP, max_request: MAX_REQUEST })
    }

    /// Changes how [`ensure`](Self::ensure) groups missing ranges into requests (default
    /// `MAX_GAP`, `MAX_REQUEST`); a `max_gap` of 0 fetches exactly what is missing.
    #[cfg(test)]
    pub fn with_coalescing(mut self, max_gap: u64, max_request: u64) -> SparseSlide {
        self.max_gap = max_gap;
        self.max_request = max_request.max(1);
        self
    }

    /// The file's TIFF layout: from `<id>.layout.json` when an earlier run parsed it, else
    /// parsed through `fetch` (into memory only: the parser's read-ahead ends inside tiles, and
    /// a partial tile must never be written to the copy) and kept.
    pub fn layout(&self, fetch: &dyn Fn(Range<u64>) -> Result<Vec<u8>, GdcError>) -> Result<Layout, SparseError> {
        // One parse per file: threads of this process wait on the entry, other processes on the
        // lock file, then find the layout kept.
        let _threads = self.entry.present.lock().expect("sparse entry");
        let _processes = FileLock::acquire(&lock_path(&self.path))?;
        let kept = self.path.with_extension("layout.json");
        if let Some(layout) = files::read(&kept, MAX_RECORD_BYTES)
            .ok()
            .and_then(|b| serde_json::from_slice::<Layout>(&b).ok())
            .filter(|l| l.file_size == self.file.size && bcss_tiff::validate(l).is_ok())
        {
            return Ok(layout);
        }
        // A failed fetch is kept whole (typed) and reported as the fetch it is, not as a TIFF
        // the parser could not read.
        let mut failed: Option<(Range<u64>, GdcError)> = None;
        let mut read_at = |offset: u64, len: u64| {
            fetch(offset..offset + len).map_err(|e| {
                failed = Some((offset..offset + len, e));
                FetchFailed
            })
        };
        let parsed = bcss_tiff::parse(self.file.size, &mut read_at);
        let layout = match (parsed, failed) {
            (Ok(layout), _) => layout,
            (Err(_), Some((r, source))) => {
                let source = Box::new(source);
                return Err(SparseError::Fetch { name: self.file.name.clone(), start: r.start, end: r.end, source });
            }
            (Err(source), None) => return Err(SparseError::Layout { name: self.file.name.clone(), source }),
        };
        write_json(&kept, &serde_json::to_vec(&layout).expect("a layout serialises"))?;
        Ok(layout)
    }

    /// The sparse file, for OpenSlide.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The byte ranges present, sorted and disjoint.
    #[cfg(test)]
    pub fn present(&self) -> Vec<Range<u64>> {
        self.entry.present.lock().expect("sparse entry").clone()
    }

    /// Makes `ranges` present, fetching only what is missing with `fetch(range)`, which must
    /// return exactly that range's bytes. Returns the bytes fetched now. When the requests for
    /// what is missing (merged gaps included) add up to more than `budget` bytes, nothing is
    /// fetched: [`SparseError::OverBudget`]. On a fetch error nothing of this call is recorded
    /// (see the body). Safe for several threads and, through a lock file, several processes
    /// sharing the cache.
    pub fn ensure(
        &self,
        ranges: &[Range<u64>],
        budget: u64,
        fetch: &dyn Fn(Range<u64>) -> Result<Vec<u8>, GdcError>,
    ) -> Result<u64, SparseError> {
        let mut present = self.entry.present.lock().expect("sparse entry");
        // Another process sharing the cache may have added ranges (or started the copy afresh):
        // under the file lock, the record on disk is what the file holds.
        let _guard = FileLock::acquire(&lock_path(&self.path))?;
        let len = self.handle.metadata().map_err(io_err("read", &self.path))?.len();
        *present = match load_record(&self.record, &self.file) {
            Some(p) if len == self.file.size => p,
            _ if len == self.file.size => Vec::new(),
            _ => {
                remove_if_present(&self.record)?;
                self.handle.set_len(0).map_err(io_err("truncate", &self.path))?;
                self.handle.set_len(self.file.size).map_err(io_err("resize", &self.path))?;
                Vec::new()
            }
        };
        let size = self.file.size;
        let wanted = merge(ranges.iter().map(|r| r.start.min(size)..r.end.min(size)).collect());
        let missing = subtract(&wanted, &present);
        let mut done = Vec::new();
        let mut fetched = 0u64;
        let mut failure = None;
        let requests = coalesce(&missing, self.max_gap, self.max_request);
        let need: u64 = requests.iter().map(|r| r.end - r.start).sum();
        if need > budget {
            return Err(SparseError::OverBudget { name: self.file.name.clone(), need, budget });
        }
        for req in requests {
            let data = match fetch(req.clone()) {
                Ok(d) => d,
                Err(e) => {
                    failure = Some(SparseError::Fetch {
                        name: self.file.name.clone(),
                        start: req.start,
                        end: req.end,
                        source: Box::new(e),
                    });
                    break;
                }
            };
            if data.len() as u64 != req.end - req.start {
                failure = Some(SparseError::ShortFetch {
                    name: self.file.name.clone(),
                    start: req.start,
                    end: req.end,
                    got: data.len() as u64,
                });
                break;
            }
            fetched += data.len() as u64;
            // Only the bytes asked for are written: a merged gap may hold parts of tiles nobody
            // asked for, and a part of a tile must never be in the copy.
            for piece in missing.iter().filter(|m| m.start < req.end && req.start < m.end) {
                let (a, b) = (piece.start.max(req.start), piece.end.min(req.end));
                let mut h = &self.handle;
                h.seek(SeekFrom::Start(a)).map_err(io_err("seek", &self.path))?;
                h.write_all(&data[(a - req.start) as usize..(b - req.start) as usize])
                    .map_err(io_err("write", &self.path))?;
                done.push(a..b);
            }
        }
        // After a failure nothing of this call is recorded: a request cut at the size cap may
        // end inside a tile, and a recorded half tile could decode without an error. The bytes
        // stay on disk, unrecorded, and are fetched again whole next time.
        if failure.is_none() && !done.is_empty() {
            self.handle.sync_data().map_err(io_err("sync", &self.path))?;
            let mut all = present.clone();
            all.extend(done);
            let all = merge(all);
            self.write_record(&all)?;
            *present = all;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(fetched),
        }
    }

    fn write_record(&self, present: &[Range<u64>]) -> Result<(), SparseError> {
        let record = Record {
            file_id: self.file.id.clone(),
            size: self.file.size,
            md5: self.file.md5.clone(),
            present: present.iter().map(|r| (r.start, r.end)).collect(),
        };
        write_json(&self.record, &serde_json::to_vec(&record).expect("a record serialises"))
    }
}

#[cfg(test)]
#[expect(clippy::single_range_in_vec_init, reason = "lists of byte ranges, not ranges of numbers")]
mod tests {
    use super::*;
    use crate::model::Rect;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn file_for(data: &[u8], id: &str) -> GdcFile {
        GdcFile {
            id: id.into(),
            name: format!("{id}.svs"),
            md5: "0".repeat(32),
            size: data.len() as u64,
            state: String::new(),
        }
    }

    #[test]
    fn subtracting_leaves_what_is_missing() {
        assert_eq!(subtract(&[0..100], &[10..20, 50..60]), [0..10, 20..50, 60..100]);
        assert_eq!(subtract(&[0..100], &[0..100]), Vec::<Range<u64>>::new());
    }

    #[test]
    fn ensure_fetches_only_what_is_missing_and_records_it() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8 + 1).collect();
        let file = file_for(&data, "abc-1");
        let calls = AtomicU64::new(0);
        let fetch = |r: Range<u64>| -> Result<Vec<u8>, GdcError> {
            calls.fetch_add(1, Ordering::Relaxed);
            Ok(data[r.start as usize..r.end as usize].to_vec())
        };
        let slide = SparseSlide::open(dir.path(), &file).unwrap();
        assert_eq!(std::fs::metadata(slide.path()).unwrap().len(), 1_000_000);
        // Two ranges 1000 bytes apart: one request.
        assert_eq!(slide.ensure(&[0..100, 1100..1200], u64::MAX, &fetch).unwrap(), 1200);
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        // The gap was fetched with them but not kept: only what was asked for is in the copy.
        assert_eq!(slide.present(), [0..100, 1100..1200]);
        assert_eq!(slide.ensure(&[50..100, 1100..1150], u64::MAX, &fetch).unwrap(), 0, "already there");
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert_eq!(slide.ensure(&[100..1100], u64::MAX, &fetch).unwrap(), 1000, "the gap, now asked for");
        assert_eq!(slide.ensure(&[900_000..2_000_000], u64::MAX, &fetch).unwrap(), 100_000, "clipped to the file");
        // Over the caller's budget: nothing fetched, nothing recorded.
        let before = calls.load(Ordering::Relaxed);
        let err = slide.ensure(&[300_000..400_000], 99_999, &fetch).unwrap_err();
        assert!(matches!(err, SparseError::OverBudget { need: 100_000, budget: 99_999, .. }), "{err}");
        assert!(err.to_string().contains("over the limit of 99999 bytes"), "{err}");
        assert_eq!(calls.load(Ordering::Relaxed), before);
        assert_eq!(slide.ensure(&[300_000..400_000], 100_000, &fetch).unwrap(), 100_000);
        drop(slide);

        // A failing fetch records nothing of its call (a request cut at the size cap may end
        // inside a tile): what it wrote stays unrecorded and is fetched again.
        let slide = SparseSlide::open(dir.path(), &file).unwrap();
        assert_eq!(slide.present(), [0..1200, 300_000..400_000, 900_000..1_000_000]);
        let n = AtomicU64::new(0);
        let flaky = |r: Range<u64>| -> Result<Vec<u8>, GdcError> {
            if n.fetch_add(1, Ordering::Relaxed) == 1 {
                return Err(GdcError::Unexpected { url: "u".into(), reason: "connection reset".into() });
            }
            Ok(data[r.start as usize..r.end as usize].to_vec())
        };
        let err = slide.ensure(&[200_000..200_100, 500_000..500_100], u64::MAX, &flaky).unwrap_err();
        assert!(err.to_string().contains("500000..500100"), "{err}");
        drop(slide);
        let slide = SparseSlide::open(dir.path(), &file).unwrap();
        assert_eq!(slide.present(), [0..1200, 300_000..400_000, 900_000..1_000_000]);
        let on_disk = std::fs::read(slide.path()).unwrap();
        assert!(on_disk[500_000..500_100].iter().all(|&b| b == 0), "a hole");
        // A short answer is an error, not a record.
        let short = |_: Range<u64>| -> Result<Vec<u8>, GdcError> { Ok(vec![1, 2, 3]) };
        assert!(matches!(slide.ensure(&[600_000..600_010], u64::MAX, &short), Err(SparseError::ShortFetch { .. })));
        assert!(!slide.present().iter().any(|r| r.contains(&600_000)));
        drop(slide);

        // Another version of the file (other md5) starts afresh.
        let other = GdcFile { md5: "1".repeat(32), ..file.clone() };
        let slide = SparseSlide::open(dir.path(), &other).unwrap();
        assert!(slide.present().is_empty());
        assert!(std::fs::read(slide.path()).unwrap().iter().all(|&b| b == 0));
        assert!(matches!(
            SparseSlide::open(dir.path(), &GdcFile { id: "../x".into(), ..file }),
            Err(SparseError::BadId { .. })
        ));
    }

    #[test]
    fn threads_share_one_slide() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let file = file_for(&data, "threads-1");
        let fetched = AtomicU64::new(0);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (file, data, fetched, dir) = (&file, &data, &fetched, dir.path());
                s.spawn(move || {
                    // Each thread opens its own handle; overlapping wants.
                    let slide = SparseSlide::open(dir, file).unwrap();
                    let want = [t * 500_000..t * 500_000 + 1_500_000];
                    let fetch = |r: Range<u64>| -> Result<Vec<u8>, GdcError> {
                        Ok(data[r.start as usize..r.end as usize].to_vec())
                    };
                    fetched.fetch_add(slide.ensure(&want, u64::MAX, &fetch).unwrap(), Ordering::Relaxed);
                });
            }
        });
        assert_eq!(fetched.load(Ordering::Relaxed), 3_000_000, "each byte fetched once");
        let slide = SparseSlide::open(dir.path(), &file).unwrap();
        assert_eq!(slide.present(), [0..3_000_000]);
        assert_eq!(&std::fs::read(slide.path()).unwrap()[..3_000_000], &data[..3_000_000]);
    }

    #[cfg(feature = "openslide")]
    #[test]
    fn a_sparse_copy_reads_like_the_slide_and_fails_loudly_outside_it() {
        use crate::source::local::LocalSlide;
        use std::os::unix::fs::FileExt;
        let full =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slide/TCGA-SY-TEST-01Z-00-DX1.FIXTURE.svs");
        let original = File::open(&full).unwrap();
        let size = original.metadata().unwrap().len();
        let reads = AtomicU64::new(0);
        let mut read_at = |o: u64, n: u64| -> Result<Vec<u8>, std::io::Error> {
            reads.fetch_add(1, Ordering::Relaxed);
            let mut b = vec![0u8; n as usize];
            original.read_exact_at(&mut b, o)?;
            Ok(b)
        };
        let layout = bcss_tiff::parse(size, &mut read_at).unwrap();
        assert!(reads.load(Ordering::Relaxed) <= 4, "{} reads", reads.load(Ordering::Relaxed));
        assert!(layout.ifds[0].description.as_deref().unwrap().starts_with("Aperio"));
        let levels = layout.tiled_levels();
        assert_eq!(levels[0], 0, "the full-resolution level comes first");
        assert_eq!((layout.ifds[0].width, layout.ifds[0].height), (3000, 2000));

        let dir = tempfile::tempdir().unwrap();
        let file = GdcFile {
            id: "fixture-1".into(),
            name: "fixture.svs".into(),
            md5: "0".repeat(32),
            size,
            state: String::new(),
        };
        // Exactly what is planned (no gap filling), so the region below stays unfetched.
        let sparse = SparseSlide::open(dir.path(), &file).unwrap().with_coalescing(0, MAX_REQUEST);
        let roi = Rect { left: 1000, top: 500, right: 1600, bottom: 900 };
        let mut want = bcss_tiff::open_ranges(&layout);
        want.extend(bcss_tiff::tiles_for(&layout, 0, roi).unwrap());
        let fetch = |r: Range<u64>| -> Result<Vec<u8>, GdcError> {
            let mut b = vec![0u8; (r.end - r.start) as usize];
            original.read_exact_at(&mut b, r.start).map_err(GdcError::io("read", &full))?;
            Ok(b)
        };
        let fetched = sparse.ensure(&want, u64::MAX, &fetch).unwrap();
        assert!(fetched < size / 2, "{fetched} of {size} bytes");

        let complete = LocalSlide::open(&full).unwrap();
        let copy = LocalSlide::open(sparse.path()).unwrap();
        assert_eq!(copy.geometry(), complete.geometry());
        let (w, h) = (roi.width(), roi.height());
        let levels = complete.geometry().levels;
        let a = complete.read_region(roi, levels - 1, w, h).unwrap();
        let b = copy.read_region(roi, levels - 1, w, h).unwrap();
        assert_eq!(a.data, b.data, "identical pixels from the sparse copy");

        // Tiles that were not fetched: an error, not zeros.
        let elsewhere = Rect { left: 2300, top: 1400, right: 2600, bottom: 1700 };
        let present = sparse.present();
        let missing = bcss_tiff::tiles_for(&layout, 0, elsewhere).unwrap();
        assert!(missing.iter().all(|t| !present.iter().any(|p| p.start < t.end && t.start < p.end)));
        let err = copy.read_region(elsewhere, levels - 1, 300, 300);
        assert!(err.is_err(), "read zeros instead of failing");
    }

    #[test]
    fn a_lost_copy_never_inherits_its_record() {
        // The user deletes the sparse file but not its record; a run starts afresh and is
        // killed before it fetches anything: the next open must not trust the old record.
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8 + 1).collect();
        let file = file_for(&data, "lost-1");
        let fetch =
            |r: Range<u64>| -> Result<Vec<u8>, GdcError> { Ok(data[r.start as usize..r.end as usize].to_vec()) };
        let slide = SparseSlide::open(dir.path(), &file).unwrap();
        slide.ensure(&[0..50_000], u64::MAX, &fetch).unwrap();
        let path = slide.path().to_path_buf();
        drop(slide);
        std::fs::remove_file(&path).unwrap();
        let slide = SparseSlide::open(dir.path(), &file).unwrap();
        assert!(slide.present().is_empty());
        drop(slide);
        let slide = SparseSlide::open(dir.path(), &file).unwrap();
        assert!(slide.present().is_empty(), "the old record was removed with the fresh start");
        // Another process sharing the cache writes bytes and then its record (as `ensure` does):
        // `ensure` here re-reads the record under the lock instead of fetching again.
        {
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new().write(true).open(slide.path()).unwrap();
            f.write_all_at(&data[20_000..30_000], 20_000).unwrap();
            let record = Record {
                file_id: file.id.clone(),
                size: file.size,
                md5: file.md5.clone(),
                present: vec![(20_000, 30_000)],
            };
            std::fs::write(dir.path().join("lost-1.ranges"), serde_json::to_vec(&record).unwrap()).unwrap();
        }
        let calls = AtomicU64::new(0);
        let counting = |r: Range<u64>| -> Result<Vec<u8>, GdcError> {
            calls.fetch_add(1, Ordering::Relaxed);
            Ok(data[r.start as usize..r.end as usize].to_vec())
        };
        assert_eq!(slide.ensure(&[20_000..30_000], u64::MAX, &counting).unwrap(), 0);
        assert_eq!(calls.load(Ordering::Relaxed), 0, "the other process's bytes were used");
        assert_eq!(slide.ensure(&[0..10_000], u64::MAX, &counting).unwrap(), 10_000);
        assert_eq!(slide.present(), [0..10_000, 20_000..30_000], "both kept in the record");
    }

    #[test]
    fn planted_links_and_fifos_in_the_cache_are_refused_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        std::fs::create_dir(&cache).unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, b"precious").unwrap();
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8 + 1).collect();
        let fetch =
            |r: Range<u64>| -> Result<Vec<u8>, GdcError> { Ok(data[r.start as usize..r.end as usize].to_vec()) };
        let link = |id: &str, ext: &str| {
            let p = cache.join(format!("{id}.{ext}"));
            std::os::unix::fs::symlink(&outside, &p).unwrap();
            p
        };
        // The sparse copy itself, and its lock file: the ROI fails, the target keeps its bytes.
        let f = file_for(&data, "link-svs");
        link("link-svs", "svs");
        let err = SparseSlide::open(&cache, &f).unwrap_err();
        assert!(crate::report::error_chain(&err).contains("symbolic link"), "{}", crate::report::error_chain(&err));
        let f = file_for(&data, "link-lock");
        link("link-lock", "lock");
        let err = SparseSlide::open(&cache, &f).unwrap_err();
        assert!(crate::report::error_chain(&err).contains("symbolic link"), "{}", crate::report::error_chain(&err));
        // A hard link to a file elsewhere: another name for the same bytes.
        let f = file_for(&data, "hard-svs");
        std::fs::hard_link(&outside, cache.join("hard-svs.svs")).unwrap();
        let err = SparseSlide::open(&cache, &f).unwrap_err();
        assert!(crate::report::error_chain(&err).contains("hard links"), "{}", crate::report::error_chain(&err));
        // A FIFO as the copy fails at once instead of blocking.
        let f = file_for(&data, "fifo-svs");
        assert!(std::process::Command::new("mkfifo").arg(cache.join("fifo-svs.svs")).status().unwrap().success());
        assert!(crate::report::error_chain(&SparseSlide::open(&cache, &f).unwrap_err()).contains("FIFO"));
        // The record and the kept layout are replaced (renamed over), never written through.
        let f = file_for(&data, "link-rec");
        let rec = link("link-rec", "ranges");
        let kept = link("link-rec", "layout.json");
        let slide = SparseSlide::open(&cache, &f).unwrap();
        slide.ensure(&[0..100], u64::MAX, &fetch).unwrap();
        assert!(!std::fs::symlink_metadata(&rec).unwrap().file_type().is_symlink(), "the link was replaced");
        let _ = slide.layout(&fetch);
        assert!(std::fs::symlink_metadata(&kept).unwrap().file_type().is_symlink() || kept.is_file());
        assert_eq!(std::fs::read(&outside).unwrap(), b"precious");
        assert_eq!(std::fs::metadata(&outside).unwrap().len(), 8, "never resized");
    }

    #[test]
    fn the_layout_is_parsed_from_memory_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let svs = dir.path().join("real.svs");
        bcss_testserver::svs::write_svs(&svs, &bcss_testserver::svs::SvsSpec::new(600, 300)).unwrap();
        let data = std::fs::read(&svs).unwrap();
        let file = file_for(&data, "layout-1");
        let calls = AtomicU64::new(0);
        let fetch = |r: Range<u64>| -> Result<Vec<u8>, GdcError> {
            calls.fetch_add(1, Ordering::Relaxed);
            Ok(data[r.start as usize..(r.end as usize).min(data.len())].to_vec())
        };
        let slide = SparseSlide::open(dir.path(), &file).unwrap();
        let layout = slide.layout(&fetch).unwrap();
        assert!(calls.load(Ordering::Relaxed) > 0);
        assert!(slide.present().is_empty(), "the parser's reads are not written to the copy");
        let before = calls.load(Ordering::Relaxed);
        assert_eq!(slide.layout(&fetch).unwrap(), layout);
        assert_eq!(calls.load(Ordering::Relaxed), before, "kept: no fetch the second time");
    }
}
