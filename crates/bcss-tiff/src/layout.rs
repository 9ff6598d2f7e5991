//! The byte layout of a TIFF file (classic or BigTIFF, either byte order), read through a
//! `read_at(offset, len)` callback so that it works over HTTP ranges as well as a local file.
//!
//! [`parse`] walks the chain of image file directories (IFDs) and returns a [`Layout`]: every
//! byte range that is not pixel data (the header, each IFD, every out-of-line tag value, such as
//! the `TileOffsets`/`TileByteCounts` arrays, `JPEGTables` and `ImageDescription`), and for each
//! IFD its size, tiling, compression and the offsets and byte counts of its tiles or strips.
//! That is what a sparse copy of a slide needs (bcss's `source::sparse`, planned by [`crate::plan`]).
//!
//! Reads are few: each read fetches at least `READ_AHEAD` bytes and later reads are served
//! from what was fetched, since an IFD and its tag values usually sit together.
//!
//! Hostile files: the IFD chain is guarded against loops and lengths (`MAX_IFDS`), entry
//! counts against `MAX_ENTRIES`, every offset and length against the file size (with checked
//! arithmetic): errors, never a panic or an allocation of a size the file claims. Only the main
//! IFD chain is walked (no SubIFDs, no EXIF directory): OpenSlide's TIFF-family readers take
//! their levels from the main chain.
//!
//! **Budgets** (a sparse copy fetches every metadata range, so what the file claims must be
//! bounded before anything is read or fetched):
//! - the directories and every out-of-line tag value together, whatever the tag, at most
//!   [`MAX_METADATA`] (16 MiB) per file: each tag's `count x type size` is added and checked
//!   before its value is read or its range recorded (a real slide's are a few MB: the offset
//!   and byte-count arrays of ~300 000 tiles);
//! - integer arrays (tile and strip offsets, byte counts) at most `MAX_VALUES` values in all,
//!   checked from the count before reading: 4 Mi values, 32 MiB as `u64`; an array is read
//!   in pieces of at most `ARRAY_PIECE` (1 MiB) decoded as they come, never held whole as
//!   bytes, so a parse holds at most `MAX_READ_TOTAL` (64 MiB) of read-ahead plus those values;
//! - tiles at most `MAX_TILE_SIDE` (2048) pixels a side, and each tile's byte count at most
//!   [`max_tile_bytes`]: 2 bytes per 8-bit RGB sample plus `TILE_SLACK` (64 KiB), far above
//!   what JPEG or JPEG 2000 makes of a tile (a few percent to half of the raw bytes);
//! - [`validate`] checks a kept layout (read back from disk) against the same limits.
//!
//! Invariant: reads through the callback only; does no other I/O.

use std::collections::HashSet;
use std::ops::Range;

/// The least each read through the callback fetches (when the file is that long).
pub(crate) const READ_AHEAD: u64 = 64 << 10;
/// The most IFDs followed.
pub(crate) const MAX_IFDS: usize = 1024;
/// The most entries in one IFD.
pub(crate) const MAX_ENTRIES: u64 = 4096;
/// The most bytes of directories and out-of-line tag values in one file (all directories,
/// every tag): what a sparse copy fetches before reading a pixel.
pub const MAX_METADATA: u64 = 16 << 20;
/// The most bytes read through the callback for one layout, read-ahead and reads served from
/// memory included (a bound on time and memory).
const MAX_READ_TOTAL: u64 = 64 << 20;
/// An array longer than this is read in pieces of this size, decoded as they come.
const ARRAY_PIECE: u64 = 1 << 20;
/// At most this many integer values in all directories together (each kept as a `u64`): 4 Mi,
/// ten times the ~400 000 tile offsets and byte counts of the largest whole-slide image, and
/// 32 MiB of memory at most, however the file packs them (1-byte values widen 8 times). Checked
/// from each tag's count before its values are read.
pub(crate) const MAX_VALUES: usize = 4 << 20;
/// The largest tile side read by ranges (Aperio writes 240 or 256, other scanners up to 1024).
pub const MAX_TILE_SIDE: u64 = 2048;
/// How much of an `ImageDescription` is kept (Aperio's is under 1 KB).
const DESCRIPTION_KEPT: u64 = 8 << 10;
/// Bytes a tile may hold beyond 2 per 8-bit RGB sample (codec headers, tables, markers).
const TILE_SLACK: u64 = 64 << 10;

/// The most bytes a `w x h` tile may hold: 2 bytes per 8-bit RGB sample (`w * h * 3 * 2`)
/// plus 64 KiB. JPEG and JPEG 2000 tiles of a slide are far smaller; a byte count above this
/// is a broken or hostile file, never fetched.
pub fn max_tile_bytes(w: u64, h: u64) -> u64 {
    w.saturating_mul(h).saturating_mul(6).saturating_add(TILE_SLACK)
}

/// `Compression` values whose tiles fail to decode when they are all zeros (an unfetched tile
/// of a sparse copy): JPEG (7) and JPEG 2000 (Aperio 33003, 33005; 34712).
pub const LOUD_COMPRESSIONS: &[u16] = &[7, 33003, 33005, 34712];

/// Why a TIFF layout could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TiffError {
    /// The callback failed.
    #[error("failed to read bytes {offset}..{} of the file", offset + len)]
    Read {
        /// First byte.
        offset: u64,
        /// Length.
        len: u64,
        /// The callback's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The callback returned another length than asked for.
    #[error("asked for {len} bytes at {offset}, got {got}")]
    ShortRead {
        /// First byte.
        offset: u64,
        /// Length asked for.
        len: u64,
        /// Length returned.
        got: u64,
    },
    /// Not a TIFF (bad byte-order mark or version).
    #[error("not a TIFF file: {reason}")]
    NotTiff {
        /// What was wrong.
        reason: String,
    },
    /// The structure is broken or hostile.
    #[error("malformed TIFF at byte {offset}: {reason}")]
    Malformed {
        /// Where.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
}

/// One image file directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ifd {
    /// Where the IFD starts.
    pub offset: u64,
    /// `ImageWidth`.
    pub width: u64,
    /// `ImageLength`.
    pub height: u64,
    /// `Compression` (1 when absent).
    pub compression: u16,
    /// `TileWidth` x `TileLength` when tiled.
    pub tile: Option<(u64, u64)>,
    /// `RowsPerStrip` when stripped (the image height when absent).
    pub rows_per_strip: Option<u64>,
    /// `TileOffsets` (or `StripOffsets`).
    pub offsets: Vec<u64>,
    /// `TileByteCounts` (or `StripByteCounts`), as many as `offsets`.
    pub byte_counts: Vec<u64>,
    /// `ImageDescription`'s first `DESCRIPTION_KEPT` (8 KiB) bytes (Aperio's starts with
    /// `Aperio` and names its `Filename`), lossy UTF-8.
    pub description: Option<String>,
}

impl Ifd {
    /// Tiles per row (0 when stripped).
    pub fn tiles_across(&self) -> u64 {
        self.tile.map_or(0, |(tw, _)| self.width.div_ceil(tw))
    }
    /// Rows of tiles (0 when stripped).
    pub fn tiles_down(&self) -> u64 {
        self.tile.map_or(0, |(_, th)| self.height.div_ceil(th))
    }
    /// The bytes of tile or strip `i`; `None` for a zero-length (absent) one or an index past
    /// the end.
    pub fn chunk(&self, i: usize) -> Option<Range<u64>> {
        let (o, n) = (*self.offsets.get(i)?, *self.byte_counts.get(i)?);
        (n > 0).then(|| o..o + n)
    }
}

/// The byte layout of a TIFF file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Layout {
    /// The file's size.
    pub file_size: u64,
    /// BigTIFF (version 43) rather than classic (42).
    pub bigtiff: bool,
    /// `II` rather than `MM`.
    pub little_endian: bool,
    /// The IFDs in chain order.
    pub ifds: Vec<Ifd>,
    /// Every non-pixel byte range (header, IFDs, out-of-line values), sorted and coalesced.
    pub metadata: Vec<Range<u64>>,
}

impl Layout {
    /// The tiled IFDs by decreasing area (ties in chain order): OpenSlide's level order for an
    /// Aperio slide.
    pub fn tiled_levels(&self) -> Vec<usize> {
        let mut levels: Vec<usize> = (0..self.ifds.len()).filter(|&i| self.ifds[i].tile.is_some()).collect();
        levels.sort_by_key(|&i| std::cmp::Reverse(self.ifds[i].width.saturating_mul(self.ifds[i].height)));
        levels
    }
}

/// Sorts ranges and merges those that overlap or touch; drops empty ones.
pub fn merge(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.retain(|r| r.start < r.end);
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

struct Reader<'a, E> {
    size: u64,
    read_at: &'a mut dyn FnMut(u64, u64) -> Result<Vec<u8>, E>,
    chunks: Vec<(u64, Vec<u8>)>,
    total: u64,
}

impl<E: std::error::Error + Send + Sync + 'static> Reader<'_, E> {
    fn bytes(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, TiffError> {
        let end = offset.checked_add(len).filter(|&e| e <= self.size).ok_or_else(|| TiffError::Malformed {
            offset,
            reason: format!("{len} bytes at {offset} run past the end of the file ({} bytes)", self.size),
        })?;
        if let Some((start, data)) =
            self.chunks.iter().find(|(start, data)| *start <= offset && end <= start + data.len() as u64)
        {
            // Reads served from memory count too: a file whose directories all point at the same
            // bytes must not make the parser copy them without end.
            self.total += len;
            if self.total > MAX_READ_TOTAL {
                return Err(TiffError::Malformed { offset, reason: read_total_reason() });
            }
            let at = (offset - start) as usize;
            return Ok(data[at..at + len as usize].to_vec());
        }
        let want = len.max(READ_AHEAD).min(self.size - offset);
        self.total += want;
        if self.total > MAX_READ_TOTAL {
            return Err(TiffError::Malformed { offset, reason: read_total_reason() });
        }
        let data =
            (self.read_at)(offset, want).map_err(|e| TiffError::Read { offset, len: want, source: Box::new(e) })?;
        if data.len() as u64 != want {
            return Err(TiffError::ShortRead { offset, len: want, got: data.len() as u64 });
        }
        let out = data[..len as usize].to_vec();
        self.chunks.push((offset, data));
        Ok(out)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> Reader<'_, E> {
    /// Reads `len` bytes at `offset` and hands them to `each` in pieces: from memory when a
    /// chunk read earlier covers them, else straight from the callback, `ARRAY_PIECE` bytes at
    /// a time (a multiple of every value size), none of them kept.
    fn pieces(&mut self, offset: u64, len: u64, each: &mut dyn FnMut(&[u8])) -> Result<(), TiffError> {
        if len <= READ_AHEAD {
            each(&self.bytes(offset, len)?);
            return Ok(());
        }
        let end = offset.checked_add(len).filter(|&e| e <= self.size).ok_or_else(|| TiffError::Malformed {
            offset,
            reason: format!("{len} bytes at {offset} run past the end of the file ({} bytes)", self.size),
        })?;
        let mut at = offset;
        while at < end {
            let want = (end - at).min(ARRAY_PIECE);
            self.total += want;
            if self.total > MAX_READ_TOTAL {
                return Err(TiffError::Malformed { offset, reason: read_total_reason() });
            }
            let data =
                (self.read_at)(at, want).map_err(|e| TiffError::Read { offset: at, len: want, source: Box::new(e) })?;
            if data.len() as u64 != want {
                return Err(TiffError::ShortRead { offset: at, len: want, got: data.len() as u64 });
            }
            each(&data);
            at += want;
        }
        Ok(())
    }
}

fn read_total_reason() -> String {
    format!("the directories make the reader read more than {MAX_READ_TOTAL} bytes")
}

#[derive(Clone, Copy)]
struct Order {
    little: bool,
}

impl Order {
    fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.little {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    }
    fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    }
    fn u64(self, b: &[u8]) -> u64 {
        let a: [u8; 8] = b[..8].try_into().expect("8 bytes");
        if self.little {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    }
}

/// Bytes per value of a TIFF field type; `None` for an unknown type.
fn type_size(t: u16) -> Option<u64> {
    Some(match t {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => return None,
    })
}

/// Whether type `t` is an unsigned integer type [`uints`] decodes (BYTE, SHORT, LONG, LONG8,
/// IFD, IFD8).
fn is_uint(t: u16) -> bool {
    matches!(t, 1 | 3 | 4 | 13 | 16 | 18)
}

/// Appends the unsigned integers of type `t` (see [`is_uint`]) in `bytes` to `out`.
fn uints(order: Order, t: u16, bytes: &[u8], out: &mut Vec<u64>) {
    match t {
        3 => out.extend(bytes.chunks_exact(2).map(|c| u64::from(order.u16(c)))),
        4 | 13 => out.extend(bytes.chunks_exact(4).map(|c| u64::from(order.u32(c)))),
        16 | 18 => out.extend(bytes.chunks_exact(8).map(|c| order.u64(c))),
        1 => out.extend(bytes.iter().map(|&b| u64::from(b))),
        _ => {}
    }
}

const TAG_WIDTH: u16 = 256;
const TAG_HEIGHT: u16 = 257;
const TAG_COMPRESSION: u16 = 259;
const TAG_DESCRIPTION: u16 = 270;
const TAG_STRIP_OFFSETS: u16 = 273;
const TAG_ROWS_PER_STRIP: u16 = 278;
const TAG_STRIP_BYTE_COUNTS: u16 = 279;
const TAG_TILE_WIDTH: u16 = 322;
const TAG_TILE_LENGTH: u16 = 323;
const TAG_TILE_OFFSETS: u16 = 324;
const TAG_TILE_BYTE_COUNTS: u16 = 325;

/// Reads the layout of a TIFF file of `file_size` bytes through `read_at(offset, len)`, which
/// must return exactly `len` bytes.
pub fn parse<E: std::error::Error + Send + Sync + 'static>(
    file_size: u64,
    read_at: &mut dyn FnMut(u64, u64) -> Result<Vec<u8>, E>,
) -> Result<Layout, TiffError> {
    let mut r = Reader { size: file_size, read_at, chunks: Vec::new(), total: 0 };
    let mut decoded: usize = 0;
    if file_size < 8 {
        return Err(TiffError::NotTiff { reason: format!("{file_size} bytes") });
    }
    let head = r.bytes(0, 8)?;
    let order = match &head[..2] {
        b"II" => Order { little: true },
        b"MM" => Order { little: false },
        _ => return Err(TiffError::NotTiff { reason: "no `II` or `MM` byte-order mark".into() }),
    };
    let (bigtiff, header_len, mut next) = match order.u16(&head[2..4]) {
        42 => (false, 8, u64::from(order.u32(&head[4..8]))),
        43 => {
            let h = r.bytes(0, 16)?;
            if order.u16(&h[4..6]) != 8 || order.u16(&h[6..8]) != 0 {
                return Err(TiffError::NotTiff { reason: "BigTIFF with an offset size other than 8".into() });
            }
            (true, 16, order.u64(&h[8..16]))
        }
        v => return Err(TiffError::NotTiff { reason: format!("version {v}, not 42 or 43") }),
    };
    let (count_len, entry_len, value_len) = if bigtiff { (8u64, 20u64, 8u64) } else { (2, 12, 4) };
    let mut metadata = Vec::new();
    metadata.push(0..header_len);
    // Bytes of directories and out-of-line values so far, against MAX_METADATA.
    let mut claimed = header_len;
    let mut ifds = Vec::new();
    let mut seen = HashSet::new();
    while next != 0 {
        let offset = next;
        if ifds.len() >= MAX_IFDS {
            return Err(TiffError::Malformed { offset, reason: format!("more than {MAX_IFDS} IFDs") });
        }
        if !seen.insert(offset) {
            return Err(TiffError::Malformed { offset, reason: "the IFD chain loops".into() });
        }
        if offset < header_len {
            return Err(TiffError::Malformed { offset, reason: "an IFD inside the header".into() });
        }
        let count_bytes = r.bytes(offset, count_len)?;
        let n = if bigtiff { order.u64(&count_bytes) } else { u64::from(order.u16(&count_bytes)) };
        if n == 0 || n > MAX_ENTRIES {
            return Err(TiffError::Malformed { offset, reason: format!("an IFD of {n} entries") });
        }
        let ifd_len = count_len + n * entry_len + value_len;
        claimed += ifd_len;
        if claimed > MAX_METADATA {
            return Err(TiffError::Malformed { offset, reason: over_metadata(claimed) });
        }
        let bytes = r.bytes(offset, ifd_len)?;
        metadata.push(offset..offset + ifd_len);
        let mut ifd = Ifd {
            offset,
            width: 0,
            height: 0,
            compression: 1,
            tile: None,
            rows_per_strip: None,
            offsets: Vec::new(),
            byte_counts: Vec::new(),
            description: None,
        };
        let (mut tw, mut th) = (None, None);
        let (mut tile_offsets, mut tile_counts, mut strip_offsets, mut strip_counts) = (None, None, None, None);
        for e in 0..n {
            let at = (count_len + e * entry_len) as usize;
            let entry = &bytes[at..at + entry_len as usize];
            let tag = order.u16(&entry[0..2]);
            let typ = order.u16(&entry[2..4]);
            let (count, field) = if bigtiff {
                (order.u64(&entry[4..12]), &entry[12..20])
            } else {
                (u64::from(order.u32(&entry[4..8])), &entry[8..12])
            };
            let Some(size) = type_size(typ) else {
                tracing::debug!(tag, typ, "TIFF tag of unknown type skipped");
                continue;
            };
            let malformed = |reason: String| TiffError::Malformed { offset: offset + at as u64, reason };
            let total =
                count.checked_mul(size).ok_or_else(|| malformed(format!("tag {tag}: {count} values overflow")))?;
            let value_at = if total <= value_len {
                None
            } else {
                let o = if bigtiff { order.u64(field) } else { u64::from(order.u32(field)) };
                // Checked before anything is read or recorded: every recorded range is fetched.
                claimed = claimed.saturating_add(total);
                if claimed > MAX_METADATA {
                    return Err(malformed(format!("tag {tag}: {total} bytes of values; {}", over_metadata(claimed))));
                }
                if o.checked_add(total).is_none_or(|end| end > file_size) {
                    return Err(malformed(format!("tag {tag}: {total} bytes at {o} run past the end of the file")));
                }
                metadata.push(o..o + total);
                Some(o)
            };
            let wanted = matches!(
                tag,
                TAG_WIDTH
                    | TAG_HEIGHT
                    | TAG_COMPRESSION
                    | TAG_DESCRIPTION
                    | TAG_STRIP_OFFSETS
                    | TAG_ROWS_PER_STRIP
                    | TAG_STRIP_BYTE_COUNTS
                    | TAG_TILE_WIDTH
                    | TAG_TILE_LENGTH
                    | TAG_TILE_OFFSETS
                    | TAG_TILE_BYTE_COUNTS
            );
            if !wanted {
                continue;
            }
            if tag == TAG_DESCRIPTION {
                let shown = total.min(DESCRIPTION_KEPT);
                let text = match value_at {
                    None => field[..shown as usize].to_vec(),
                    Some(o) => r.bytes(o, shown)?,
                };
                let text = String::from_utf8_lossy(&text).trim_end_matches('\0').to_string();
                ifd.description = Some(text);
                continue;
            }
            if !is_uint(typ) {
                return Err(malformed(format!("tag {tag}: type {typ} is not an integer type")));
            }
            // From the count, before a byte is read or a value allocated.
            decoded = decoded.saturating_add(usize::try_from(count).unwrap_or(usize::MAX));
            if decoded > MAX_VALUES {
                return Err(malformed(format!("the directories hold more than {MAX_VALUES} values")));
            }
            let mut values = Vec::with_capacity(count as usize);
            match value_at {
                None => uints(order, typ, &field[..total as usize], &mut values),
                Some(o) => r.pieces(o, total, &mut |piece| uints(order, typ, piece, &mut values))?,
            }
            let first = || values.first().copied().ok_or_else(|| malformed(format!("tag {tag} has no value")));
            match tag {
                TAG_WIDTH => ifd.width = first()?,
                TAG_HEIGHT => ifd.height = first()?,
                TAG_COMPRESSION => {
                    ifd.compression =
                        u16::try_from(first()?).map_err(|_| malformed("compression out of range".into()))?
                }
                TAG_ROWS_PER_STRIP => ifd.rows_per_strip = Some(first()?),
                TAG_TILE_WIDTH => tw = Some(first()?),
                TAG_TILE_LENGTH => th = Some(first()?),
                TAG_TILE_OFFSETS => tile_offsets = Some(values),
                TAG_TILE_BYTE_COUNTS => tile_counts = Some(values),
                TAG_STRIP_OFFSETS => strip_offsets = Some(values),
                TAG_STRIP_BYTE_COUNTS => strip_counts = Some(values),
                _ => {}
            }
        }
        let malformed = |reason: String| TiffError::Malformed { offset, reason };
        if ifd.width == 0 || ifd.height == 0 {
            return Err(malformed(format!("an image of {}x{} pixels", ifd.width, ifd.height)));
        }
        let (offsets, counts) = match (tw, th) {
            (Some(w), Some(h)) => {
                if w == 0 || h == 0 {
                    return Err(malformed(format!("tiles of {w}x{h} pixels")));
                }
                ifd.tile = Some((w, h));
                (tile_offsets, tile_counts)
            }
            (None, None) => (strip_offsets, strip_counts),
            _ => return Err(malformed("TileWidth without TileLength, or the reverse".into())),
        };
        let (Some(offsets), Some(counts)) = (offsets, counts) else {
            return Err(malformed("no tile or strip offsets and byte counts".into()));
        };
        if offsets.len() != counts.len() {
            return Err(malformed(format!("{} offsets but {} byte counts", offsets.len(), counts.len())));
        }
        if ifd.tile.is_some() {
            let need = ifd.tiles_across().saturating_mul(ifd.tiles_down());
            if (offsets.len() as u64) < need {
                return Err(malformed(format!("{} tiles listed, {need} needed", offsets.len())));
            }
        }
        ifd.offsets = offsets;
        ifd.byte_counts = counts;
        check_chunks(&ifd, file_size).map_err(malformed)?;
        ifds.push(ifd);
        let link = r.bytes(offset + count_len + n * entry_len, value_len)?;
        next = if bigtiff { order.u64(&link) } else { u64::from(order.u32(&link)) };
    }
    if ifds.is_empty() {
        return Err(TiffError::Malformed { offset: header_len, reason: "no IFD".into() });
    }
    Ok(Layout { file_size, bigtiff, little_endian: order.little, ifds, metadata: merge(metadata) })
}

fn over_metadata(claimed: u64) -> String {
    format!("the directories and their tag values come to {claimed} bytes or more, over the limit of {MAX_METADATA} bytes per slide for reading by ranges; download the whole slide instead")
}

/// The chunks (tiles or strips) of `ifd` lie inside the file, and tiles are of a size and
/// byte count within the budgets (module docs).
fn check_chunks(ifd: &Ifd, file_size: u64) -> Result<(), String> {
    if ifd.offsets.len() != ifd.byte_counts.len() {
        return Err(format!("{} offsets but {} byte counts", ifd.offsets.len(), ifd.byte_counts.len()));
    }
    let tile_limit = match ifd.tile {
        Some((w, h)) if w > MAX_TILE_SIDE || h > MAX_TILE_SIDE => {
            return Err(format!(
                "tiles of {w}x{h} pixels, over the limit of {MAX_TILE_SIDE} pixels a side for reading by ranges; download the whole slide instead"
            ))
        }
        Some((w, h)) => Some(max_tile_bytes(w, h)),
        None => None,
    };
    for (i, (o, n)) in ifd.offsets.iter().zip(&ifd.byte_counts).enumerate() {
        if *n > 0 && o.checked_add(*n).is_none_or(|end| end > file_size) {
            return Err(format!("a tile or strip of {n} bytes at {o} runs past the end of the file"));
        }
        if let (Some(limit), Some((w, h))) = (tile_limit, ifd.tile) {
            if *n > limit {
                return Err(format!(
                    "tile {i} claims {n} bytes, over the limit of {limit} bytes for a {w}x{h} tile (2 bytes per 8-bit RGB sample + 64 KiB)"
                ));
            }
        }
    }
    Ok(())
}

/// Checks a layout (one kept on disk, say) against the limits [`parse`] applies: metadata of
/// at most [`MAX_METADATA`] bytes inside the file, at most `MAX_VALUES` offsets and byte
/// counts, tiles within [`MAX_TILE_SIDE`] and [`max_tile_bytes`]. Returns what is wrong.
pub fn validate(layout: &Layout) -> Result<(), TiffError> {
    let malformed = |offset: u64, reason: String| TiffError::Malformed { offset, reason };
    let mut claimed = 0u64;
    for r in &layout.metadata {
        if r.start > r.end || r.end > layout.file_size {
            return Err(malformed(r.start, format!("metadata {}..{} outside the file", r.start, r.end)));
        }
        claimed += r.end - r.start;
    }
    if claimed > MAX_METADATA {
        return Err(malformed(0, over_metadata(claimed)));
    }
    let values: usize = layout.ifds.iter().map(|i| i.offsets.len() + i.byte_counts.len()).sum();
    if values > MAX_VALUES {
        return Err(malformed(0, format!("the directories hold more than {MAX_VALUES} values")));
    }
    for ifd in &layout.ifds {
        check_chunks(ifd, layout.file_size).map_err(|reason| malformed(ifd.offset, reason))?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small TIFF written by hand: classic or BigTIFF, either byte order. IFD 0 is tiled
    /// (`w x h`, 256-pixel tiles, `compression`), IFD 1 a single strip; pixel data are
    /// recognisable bytes (tile `i` is filled with `i + 1`).
    pub(crate) fn build_tiff(big: bool, little: bool, w: u64, h: u64, compression: u16) -> Vec<u8> {
        let put = |out: &mut Vec<u8>, v: u64, n: usize| {
            let b = v.to_le_bytes();
            if little {
                out.extend_from_slice(&b[..n]);
            } else {
                out.extend(b[..n].iter().rev());
            }
        };
        let (vl, cl, el) = if big { (8usize, 8usize, 20usize) } else { (4, 2, 12) };
        let long_type = if big { 16u64 } else { 4 };
        let tiles = (w.div_ceil(256) * h.div_ceil(256)) as usize;
        let mut out: Vec<u8> = Vec::new();
        out.extend_from_slice(if little { b"II" } else { b"MM" });
        if big {
            put(&mut out, 43, 2);
            put(&mut out, 8, 2);
            put(&mut out, 0, 2);
            put(&mut out, 0, 8); // first IFD, patched below
        } else {
            put(&mut out, 42, 2);
            put(&mut out, 0, 4);
        }
        // Pixel data: tiles of 100 bytes, then a strip of 50.
        let data_start = out.len() as u64;
        for i in 0..tiles {
            out.extend(std::iter::repeat_n((i % 255) as u8 + 1, 100));
        }
        let strip_at = out.len() as u64;
        out.extend(std::iter::repeat_n(0xEE, 50));
        // Out-of-line arrays.
        let offsets_at = out.len() as u64;
        for i in 0..tiles {
            put(&mut out, data_start + 100 * i as u64, vl);
        }
        let counts_at = out.len() as u64;
        for _ in 0..tiles {
            put(&mut out, 100, vl);
        }
        let desc = b"Aperio Image Library v12.0.15 \n256x256 [0,0 256x256] JPEG/RGB Q=70|AppMag = 40|MPP = 0.25\0";
        let desc_at = out.len() as u64;
        out.extend_from_slice(desc);
        if out.len() % 2 == 1 {
            out.push(0);
        }
        let ifd0 = out.len() as u64;
        let entry = |out: &mut Vec<u8>, tag: u64, typ: u64, count: u64, value: u64| {
            put(out, tag, 2);
            put(out, typ, 2);
            put(out, count, vl);
            // SHORT values sit at the start of the field.
            if typ == 3 && count == 1 {
                put(out, value, 2);
                put(out, 0, vl - 2);
            } else {
                put(out, value, vl);
            }
        };
        let entries0: Vec<(u64, u64, u64, u64)> = vec![
            (256, long_type, 1, w),
            (257, long_type, 1, h),
            (259, 3, 1, u64::from(compression)),
            (270, 2, desc.len() as u64, desc_at),
            (322, 3, 1, 256),
            (323, 3, 1, 256),
            (324, long_type, tiles as u64, if tiles * vl > vl { offsets_at } else { data_start }),
            (325, long_type, tiles as u64, if tiles * vl > vl { counts_at } else { 100 }),
        ];
        put(&mut out, entries0.len() as u64, cl);
        for (t, ty, c, v) in &entries0 {
            entry(&mut out, *t, *ty, *c, *v);
        }
        let ifd1 = out.len() as u64 + vl as u64;
        put(&mut out, ifd1, vl);
        let entries1: Vec<(u64, u64, u64, u64)> = vec![
            (256, 3, 1, 10),
            (257, 3, 1, 5),
            (259, 3, 1, 5),
            (273, long_type, 1, strip_at),
            (278, 3, 1, 5),
            (279, long_type, 1, 50),
        ];
        put(&mut out, entries1.len() as u64, cl);
        for (t, ty, c, v) in &entries1 {
            entry(&mut out, *t, *ty, *c, *v);
        }
        put(&mut out, 0, vl);
        debug_assert_eq!(el, if big { 20 } else { 12 });
        // Patch the first-IFD offset.
        let mut first = Vec::new();
        put(&mut first, ifd0, vl);
        let at = if big { 8 } else { 4 };
        out[at..at + vl].copy_from_slice(&first);
        out
    }

    pub(crate) fn read_vec(data: &[u8]) -> impl FnMut(u64, u64) -> Result<Vec<u8>, std::io::Error> + '_ {
        move |o, n| Ok(data[o as usize..(o + n) as usize].to_vec())
    }

    #[test]
    fn parses_classic_and_bigtiff_in_both_byte_orders() {
        for (big, little) in [(false, true), (false, false), (true, true), (true, false)] {
            let data = build_tiff(big, little, 600, 300, 7);
            let layout = parse(data.len() as u64, &mut read_vec(&data)).unwrap();
            assert_eq!((layout.bigtiff, layout.little_endian), (big, little));
            assert_eq!(layout.ifds.len(), 2);
            let l0 = &layout.ifds[0];
            assert_eq!((l0.width, l0.height, l0.tile, l0.compression), (600, 300, Some((256, 256)), 7));
            assert_eq!((l0.tiles_across(), l0.tiles_down()), (3, 2));
            assert_eq!(l0.offsets.len(), 6);
            assert!(l0.description.as_deref().unwrap().starts_with("Aperio"));
            for i in 0..6 {
                let c = l0.chunk(i).unwrap();
                assert!(data[c.start as usize..c.end as usize].iter().all(|&b| b == i as u8 + 1), "tile {i}");
            }
            let l1 = &layout.ifds[1];
            assert_eq!((l1.tile, l1.rows_per_strip, l1.compression), (None, Some(5), 5));
            assert!(data[l1.chunk(0).unwrap().start as usize..][..50].iter().all(|&b| b == 0xEE));
            // Metadata never includes a pixel byte, and covers the header and both IFDs.
            for r in &layout.metadata {
                for i in 0..6 {
                    let c = l0.chunk(i).unwrap();
                    assert!(r.end <= c.start || r.start >= c.end, "{r:?} overlaps tile {i}");
                }
            }
            assert_eq!(layout.metadata[0].start, 0);
            assert!(layout.metadata.iter().any(|r| r.contains(&l0.offset) && r.contains(&l1.offset)));
            assert_eq!(layout.tiled_levels(), [0]);
        }
    }

    fn expect_malformed(data: &[u8]) -> String {
        match parse(data.len() as u64, &mut read_vec(data)) {
            Err(e @ (TiffError::Malformed { .. } | TiffError::NotTiff { .. })) => e.to_string(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn directories_sharing_one_huge_array_are_refused_before_memory_runs_out() {
        // 1024 directories, each pointing its tile offsets and byte counts at the same 32 KiB of
        // 1-byte values: 64 Mi values (512 MiB as u64) from a file of 50 KiB.
        const N: u32 = 32 * 1024;
        let mut d: Vec<u8> = b"II".to_vec();
        d.extend_from_slice(&42u16.to_le_bytes());
        d.extend_from_slice(&(8 + N).to_le_bytes());
        d.extend(std::iter::repeat_n(0u8, N as usize));
        for i in 0..1024u32 {
            let at = d.len() as u32;
            d.extend_from_slice(&6u16.to_le_bytes());
            let mut entry = |tag: u16, typ: u16, count: u32, value: u32| {
                d.extend_from_slice(&tag.to_le_bytes());
                d.extend_from_slice(&typ.to_le_bytes());
                d.extend_from_slice(&count.to_le_bytes());
                d.extend_from_slice(&value.to_le_bytes());
            };
            entry(256, 4, 1, 16 * N);
            entry(257, 4, 1, 16);
            entry(322, 4, 1, 16);
            entry(323, 4, 1, 16);
            entry(324, 1, N, 8);
            entry(325, 1, N, 8);
            let next = if i == 1023 { 0 } else { at + 2 + 6 * 12 + 4 };
            d.extend_from_slice(&next.to_le_bytes());
        }
        let err = expect_malformed(&d);
        assert!(err.contains(&format!("more than {MAX_VALUES} values")), "{err}");
    }

    #[test]
    fn hostile_files_are_errors() {
        assert!(expect_malformed(b"GIF89a..").contains("byte-order"));
        // First IFD past the end of the file.
        let mut d = build_tiff(false, true, 300, 300, 7);
        d[4..8].copy_from_slice(&(10_000_000u32).to_le_bytes());
        assert!(expect_malformed(&d).contains("past the end"));
        // IFD 1 links back to IFD 0: a loop.
        let d = build_tiff(false, true, 300, 300, 7);
        let layout = parse(d.len() as u64, &mut read_vec(&d)).unwrap();
        let (ifd0, ifd1) = (layout.ifds[0].offset, layout.ifds[1].offset);
        let mut looped = d.clone();
        let link = (ifd1 + 2 + 6 * 12) as usize;
        looped[link..link + 4].copy_from_slice(&(ifd0 as u32).to_le_bytes());
        assert!(expect_malformed(&looped).contains("loops"));
        // An absurd entry count.
        let mut absurd = d.clone();
        absurd[ifd0 as usize..ifd0 as usize + 2].copy_from_slice(&60000u16.to_le_bytes());
        assert!(expect_malformed(&absurd).contains("60000 entries"));
        // A count that overflows (BigTIFF: u64 count of DOUBLEs).
        let big = build_tiff(true, true, 300, 300, 7);
        let layout = parse(big.len() as u64, &mut read_vec(&big)).unwrap();
        let mut over = big.clone();
        let entry = layout.ifds[0].offset as usize + 8 + 3 * 20; // ImageDescription
        over[entry + 2..entry + 4].copy_from_slice(&12u16.to_le_bytes());
        over[entry + 4..entry + 12].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
        assert!(expect_malformed(&over).contains("overflow"));
        // A huge but not overflowing count: over the metadata budget, never allocated.
        let mut huge = big.clone();
        let entry = layout.ifds[0].offset as usize + 8 + 6 * 20; // TileOffsets
        huge[entry + 4..entry + 12].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(expect_malformed(&huge).contains(&format!("over the limit of {MAX_METADATA} bytes")));
        // Within the budget but past the end of the file.
        huge[entry + 4..entry + 12].copy_from_slice(&(1u64 << 20).to_le_bytes());
        assert!(expect_malformed(&huge).contains("past the end"));
        // A tile pointing past the end.
        let mut tile = d.clone();
        // The offsets array follows 4 tiles of 100 bytes and a strip of 50 (see `build_tiff`).
        let arr = 8 + 4 * 100 + 50;
        assert_eq!(
            u64::from(u32::from_le_bytes(d[arr..arr + 4].try_into().unwrap())),
            layout_of(&d).ifds[0].offsets[0]
        );
        tile[arr..arr + 4].copy_from_slice(&(u32::MAX - 10).to_le_bytes());
        assert!(expect_malformed(&tile).contains("past the end"));
        // Truncated files.
        for cut in [0, 7, 20, d.len() - 3] {
            assert!(parse(cut as u64, &mut read_vec(&d[..cut])).is_err(), "cut at {cut}");
        }
    }

    /// Parses `data` as the start of a file of `size` bytes whose rest is zeros (never
    /// allocated), returning the result and the most bytes asked for in one read and in all.
    fn parse_padded(data: &[u8], size: u64) -> (Result<Layout, TiffError>, u64, u64) {
        let (mut most, mut all) = (0u64, 0u64);
        let mut read = |o: u64, n: u64| -> Result<Vec<u8>, std::io::Error> {
            (most, all) = (most.max(n), all + n);
            let mut out = vec![0u8; n as usize];
            if (o as usize) < data.len() {
                let end = data.len().min((o + n) as usize);
                out[..end - o as usize].copy_from_slice(&data[o as usize..end]);
            }
            Ok(out)
        };
        let r = parse(size, &mut read);
        (r, most, all)
    }

    /// `build_tiff` (classic, little-endian, 600 x 300, JPEG) with IFD 0's entry `index`
    /// replaced by `(tag, typ, count, value)`.
    fn with_entry(index: usize, tag: u16, typ: u16, count: u32, value: u32) -> Vec<u8> {
        let mut d = build_tiff(false, true, 600, 300, 7);
        let at = layout_of(&d).ifds[0].offset as usize + 2 + index * 12;
        d[at..at + 2].copy_from_slice(&tag.to_le_bytes());
        d[at + 2..at + 4].copy_from_slice(&typ.to_le_bytes());
        d[at + 4..at + 8].copy_from_slice(&count.to_le_bytes());
        d[at + 8..at + 12].copy_from_slice(&value.to_le_bytes());
        d
    }

    #[test]
    fn claims_over_the_budgets_are_refused_before_anything_is_read() {
        // A private tag of 2^32-1 DOUBLEs (32 GiB) in a file that long: refused from its count.
        let d = with_entry(3, 65000, 12, u32::MAX, 4096);
        let (r, most, all) = parse_padded(&d, 40 << 30);
        let err = r.unwrap_err().to_string();
        assert!(err.contains("tag 65000") && err.contains(&format!("over the limit of {MAX_METADATA} bytes")), "{err}");
        assert!(most <= READ_AHEAD && all <= 2 * READ_AHEAD, "read {all} bytes");

        // TileOffsets as 256 Mi BYTE values (2 GiB as u64): the budget, from the count.
        let len = d.len() as u32;
        let d = with_entry(6, 324, 1, 256 << 20, len);
        let (r, _, all) = parse_padded(&d, u64::from(len) + (256 << 20));
        assert!(r.unwrap_err().to_string().contains("over the limit"));
        assert!(all <= 2 * READ_AHEAD, "read {all} bytes");
        // 8 Mi BYTE values (8 MiB, within the metadata budget): over MAX_VALUES, still unread.
        let d = with_entry(6, 324, 1, 8 << 20, len);
        let (r, _, all) = parse_padded(&d, u64::from(len) + (8 << 20));
        assert!(r.unwrap_err().to_string().contains(&format!("more than {MAX_VALUES} values")));
        assert!(all <= 2 * READ_AHEAD, "read {all} bytes");

        // Tile 0 of 2^32-1 bytes in a file that long: over its pixel budget.
        let d = build_tiff(false, true, 600, 300, 7);
        let counts = 8 + 6 * 100 + 50 + 6 * 4; // see `build_tiff`: tiles, strip, offsets, counts
        assert_eq!(u32::from_le_bytes(d[counts..counts + 4].try_into().unwrap()), 100);
        let mut huge = d.clone();
        huge[counts..counts + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let (r, _, _) = parse_padded(&huge, 5 << 30);
        let err = r.unwrap_err().to_string();
        let limit = max_tile_bytes(256, 256);
        assert!(err.contains(&format!("tile 0 claims 4294967295 bytes, over the limit of {limit} bytes")), "{err}");
        // Tiles too large to read by ranges.
        let mut d = with_entry(4, 322, 4, 1, 65536);
        let at = layout_of(&build_tiff(false, true, 600, 300, 7)).ifds[0].offset as usize + 2 + 5 * 12;
        d[at + 2..at + 4].copy_from_slice(&4u16.to_le_bytes());
        d[at + 8..at + 12].copy_from_slice(&65536u32.to_le_bytes());
        assert!(expect_malformed(&d).contains("tiles of 65536x65536 pixels"));
    }

    #[test]
    fn long_arrays_are_read_in_pieces_and_kept_layouts_are_validated() {
        // 157 x 118 tiles: offset and byte-count arrays of 74 KB each, past the read-ahead.
        let data = build_tiff(false, true, 40_000, 30_000, 7);
        let (r, most, _) = parse_padded(&data, data.len() as u64);
        let layout = r.unwrap();
        assert!(most <= ARRAY_PIECE, "one read of {most} bytes");
        let l0 = &layout.ifds[0];
        assert_eq!(l0.offsets.len(), 157 * 118);
        assert!(l0.byte_counts.iter().all(|&n| n == 100));
        assert_eq!(l0.chunk(18_525).unwrap().start, 8 + 18_525 * 100);
        validate(&layout).unwrap();
        // A kept layout edited to claim a huge tile, or metadata past the budget, is refused.
        let mut bad = layout.clone();
        bad.ifds[0].byte_counts[3] = 1 << 31;
        bad.file_size = 1 << 40;
        assert!(validate(&bad).unwrap_err().to_string().contains("tile 3 claims"));
        let mut bad = layout.clone();
        bad.file_size = 1 << 40;
        bad.metadata.push(1 << 30..(1 << 30) + MAX_METADATA);
        assert!(validate(&bad).unwrap_err().to_string().contains("over the limit"));
    }

    fn layout_of(d: &[u8]) -> Layout {
        parse(d.len() as u64, &mut read_vec(d)).unwrap()
    }

    #[test]
    fn reads_are_few_and_large() {
        let data = build_tiff(false, true, 600, 300, 7);
        let mut calls = 0;
        let mut read = |o: u64, n: u64| -> Result<Vec<u8>, std::io::Error> {
            calls += 1;
            Ok(data[o as usize..(o + n) as usize].to_vec())
        };
        parse(data.len() as u64, &mut read).unwrap();
        assert_eq!(calls, 1, "a small file is read in one go");
    }
}
