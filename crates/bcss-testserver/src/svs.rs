//! Real Aperio-style SVS slides (tiled TIFF) that OpenSlide opens as `aperio`, written from a
//! [`SvsSpec`] with pixels that are a known function of base coordinates ([`pattern`]).
//!
//! # Layout
//!
//! As Aperio writes them: IFD 0 is the full-resolution level (tiled, `ImageDescription`
//! starting `Aperio Image Library` with `|AppMag = ..|MPP = ..`, from which OpenSlide takes
//! `openslide.objective-power` and `openslide.mpp-x/y`, and `|Filename = ..`: the barcode
//! before the first `.` of a file named `TCGA-...`, else `bcss-synthetic`), IFD 1 a small stripped, uncompressed
//! thumbnail (OpenSlide's aperio reader takes non-tiled IFD 1 as the `thumbnail` associated
//! image), then the lower levels, tiled. Tile data comes first in the file, level by level, and
//! every IFD with its tag arrays at the end (as the sparse-download spec expects: header and
//! IFDs are a few KB). Classic little-endian TIFF by default, BigTIFF on request.
//!
//! Tiles are full-size, edge tiles included (the pattern simply continues into the padding).
//! Codecs:
//! - [`TileCodec::Jpeg`]: compression 7, every tile a complete JFIF stream from libjpeg-turbo
//!   (4:4:4 YCbCr), `PhotometricInterpretation = YCbCr` (6) with `YCbCrSubSampling = 1,1`, which
//!   is what tells OpenSlide's direct JPEG path the stream is YCbCr (with `RGB` it would decode
//!   the planes as RGB, as for Aperio's own RGB-coded JPEGs). No `JPEGTables`.
//! - [`TileCodec::Jpeg2000`]: Aperio compression 33005 (JPEG 2000, RGB): each tile a raw J2K
//!   codestream with the reversible colour transform, written by OpenJPEG's `opj_compress`
//!   command (Debian `libopenjp2-tools`, installed by `scripts/setup-system.sh`), run once per
//!   level over a scratch directory next to the output file.
//!
//! # Level geometry
//!
//! Level `i` with downsample `d` is `ceil(width / d) x ceil(height / d)`; its pixel (x, y) is
//! the content at base pixel `(x d + d/2, y d + d/2)` (integer halves): point sampling, so a test
//! can predict every pixel of every level exactly (up to codec loss).
//!
//! # Mostly-blank slides stay small
//!
//! With [`Content::MostlyBlank`], a tile whose base footprint meets no textured rectangle is
//! blank (white); the blank tile of each level is encoded once and every blank tile's
//! `TileOffsets` entry points at those same bytes, so a 40000 x 30000 slide is a few hundred
//! KB. [`LevelInfo::tile_bytes`] still counts every tile's byte count (what a reader fetching all
//! tiles would read), [`LevelInfo::stored_bytes`] the distinct bytes in the file.
//!
//! Invariant: writes only the output file (and, for JPEG 2000, a scratch directory beside it
//! that it removes).

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use bcss_codec::RgbImage;
use bcss_model::Rect;

/// How tiles are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileCodec {
    /// TIFF compression 7, JFIF tiles at this libjpeg quality (1-100).
    Jpeg {
        /// Quality, 1-100.
        quality: u8,
    },
    /// Aperio compression 33005: JPEG 2000 codestreams, RGB (lossy, compression ratio 10).
    Jpeg2000,
}

/// What the slide shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// [`pattern`] everywhere.
    Pattern,
    /// White, except [`pattern`] inside these base rectangles.
    MostlyBlank {
        /// The textured rectangles.
        textured: Vec<Rect>,
    },
}

/// A slide to write.
#[derive(Debug, Clone, PartialEq)]
pub struct SvsSpec {
    /// Base width in pixels.
    pub width: u64,
    /// Base height in pixels.
    pub height: u64,
    /// Tile width and height (a multiple of 16, as TIFF requires: 240, 256, 512 ...).
    pub tile: u32,
    /// Downsample of each level, starting with 1 (e.g. `[1, 4, 16]`).
    pub levels: Vec<u32>,
    /// Microns per base pixel (`MPP`).
    pub mpp: f64,
    /// Objective power (`AppMag`; written as an integer when it is one).
    pub objective: f64,
    /// Tile compression.
    pub codec: TileCodec,
    /// The pixels.
    pub content: Content,
    /// Write BigTIFF instead of classic TIFF.
    pub bigtiff: bool,
}

impl SvsSpec {
    /// A `width x height` slide: 256-px JPEG (quality 90) tiles, levels `[1, 4, 16]`, 40x at
    /// 0.25 um/px, [`Content::Pattern`], classic TIFF.
    pub fn new(width: u64, height: u64) -> SvsSpec {
        SvsSpec {
            width,
            height,
            tile: 256,
            levels: vec![1, 4, 16],
            mpp: 0.25,
            objective: 40.0,
            codec: TileCodec::Jpeg { quality: 90 },
            content: Content::Pattern,
            bigtiff: false,
        }
    }

    /// The colour of the content at base pixel (bx, by) (any coordinates, also past the edges).
    pub fn colour(&self, bx: u64, by: u64) -> [u8; 3] {
        match &self.content {
            Content::Pattern => pattern(bx, by),
            Content::MostlyBlank { textured } => {
                if textured.iter().any(|r| r.contains(bx, by)) {
                    pattern(bx, by)
                } else {
                    [255, 255, 255]
                }
            }
        }
    }

    /// The colour of pixel (x, y) of the level with downsample `d` (see the module docs).
    pub fn level_colour(&self, d: u32, x: u64, y: u64) -> [u8; 3] {
        let d = u64::from(d);
        self.colour(x * d + d / 2, y * d + d / 2)
    }

    /// The size of the level with downsample `d`: `ceil(width / d) x ceil(height / d)`.
    pub fn level_size(&self, d: u32) -> (u64, u64) {
        (self.width.div_ceil(u64::from(d)), self.height.div_ceil(u64::from(d)))
    }
}

/// The textured test pattern at base pixel (bx, by): triangle waves, so neighbouring pixels
/// differ by at most a few levels (JPEG keeps it well) while every 512-pixel period and every
/// position inside it can be told apart:
/// `R = tri(bx)`, `G = tri(by)`, `B = tri((bx + 3 by) / 5)`, with
/// `tri(v) = v mod 256` on even 256-blocks and `255 - v mod 256` on odd ones.
pub fn pattern(bx: u64, by: u64) -> [u8; 3] {
    fn tri(v: u64) -> u8 {
        let m = (v % 256) as u8;
        if (v / 256).is_multiple_of(2) {
            m
        } else {
            255 - m
        }
    }
    [tri(bx), tri(by), tri((bx + 3 * by) / 5)]
}

/// One level as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelInfo {
    /// Its IFD index in the file (0, 2, 3, ...; IFD 1 is the thumbnail).
    pub ifd: usize,
    /// Its downsample.
    pub downsample: u32,
    /// Width in pixels.
    pub width: u64,
    /// Height in pixels.
    pub height: u64,
    /// Tiles per row.
    pub tiles_across: u64,
    /// Tile rows.
    pub tiles_down: u64,
    /// The sum of its `TileByteCounts` (shared blank tiles counted each time).
    pub tile_bytes: u64,
    /// The distinct tile bytes it holds in the file.
    pub stored_bytes: u64,
}

/// What [`write_svs`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvsInfo {
    /// The file size in bytes.
    pub file_size: u64,
    /// The levels, full resolution first.
    pub levels: Vec<LevelInfo>,
    /// The IFD index of the thumbnail (1).
    pub thumbnail_ifd: usize,
    /// Thumbnail width and height.
    pub thumbnail_size: (u64, u64),
    /// Byte offset of the first IFD (everything from there on is metadata).
    pub first_ifd_offset: u64,
}

/// TIFF field types used here.
const ASCII: u16 = 2;
const SHORT: u16 = 3;
const LONG: u16 = 4;
const LONG8: u16 = 16;

/// One IFD entry: tag, type, count, and the value bytes (little-endian).
struct Entry {
    tag: u16,
    kind: u16,
    count: u64,
    bytes: Vec<u8>,
}

fn shorts(tag: u16, v: &[u16]) -> Entry {
    Entry { tag, kind: SHORT, count: v.len() as u64, bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect() }
}

fn long(tag: u16, v: u32) -> Entry {
    Entry { tag, kind: LONG, count: 1, bytes: v.to_le_bytes().to_vec() }
}

fn ascii(tag: u16, s: &str) -> Entry {
    let mut bytes = s.as_bytes().to_vec();
    bytes.push(0);
    Entry { tag, kind: ASCII, count: bytes.len() as u64, bytes }
}

/// Offsets or byte counts: LONG in classic TIFF (refusing values past 4 GiB), LONG8 in BigTIFF.
fn offsets(tag: u16, v: &[u64], big: bool) -> io::Result<Entry> {
    if big {
        return Ok(Entry {
            tag,
            kind: LONG8,
            count: v.len() as u64,
            bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        });
    }
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for &x in v {
        let x = u32::try_from(x)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large for classic TIFF: set bigtiff"))?;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    Ok(Entry { tag, kind: LONG, count: v.len() as u64, bytes })
}

/// Serialises an IFD placed at `at`, with its out-of-line values right after it, and the next
/// IFD offset `next`. Returns the bytes (their length does not depend on `next`).
fn ifd_bytes(mut entries: Vec<Entry>, at: u64, next: u64, big: bool) -> Vec<u8> {
    entries.sort_by_key(|e| e.tag);
    let (count_len, entry_len, inline) = if big { (8, 20, 8) } else { (2, 12, 4) };
    let head_len = count_len + entries.len() as u64 * entry_len + inline as u64;
    let mut out = Vec::new();
    let mut extra: Vec<u8> = Vec::new();
    if big {
        out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    } else {
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    }
    for e in &entries {
        out.extend_from_slice(&e.tag.to_le_bytes());
        out.extend_from_slice(&e.kind.to_le_bytes());
        let mut value = vec![0u8; inline];
        if e.bytes.len() <= inline {
            value[..e.bytes.len()].copy_from_slice(&e.bytes);
        } else {
            let off = at + head_len + extra.len() as u64;
            value.copy_from_slice(&off.to_le_bytes()[..inline]);
            extra.extend_from_slice(&e.bytes);
            if extra.len() % 2 == 1 {
                extra.push(0);
            }
        }
        if big {
            out.extend_from_slice(&e.count.to_le_bytes());
        } else {
            out.extend_from_slice(&(e.count as u32).to_le_bytes());
        }
        out.extend_from_slice(&value);
    }
    out.extend_from_slice(&next.to_le_bytes()[..inline]);
    out.extend_from_slice(&extra);
    out
}

/// Counts bytes written through it.
struct Counted<W: Write> {
    inner: W,
    pos: u64,
}

impl<W: Write> Counted<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<u64> {
        let at = self.pos;
        self.inner.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(at)
    }
}

/// A level's tiles in the file.
struct Written {
    offsets: Vec<u64>,
    counts: Vec<u64>,
    stored: u64,
}

/// Writes a slide to `path` (replacing it). See the module docs for the layout.
pub fn write_svs(path: &Path, spec: &SvsSpec) -> io::Result<SvsInfo> {
    let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidInput, m.to_string());
    if spec.width == 0 || spec.height == 0 {
        return Err(invalid("empty slide"));
    }
    if spec.tile == 0 || !spec.tile.is_multiple_of(16) {
        return Err(invalid("tile size must be a positive multiple of 16"));
    }
    if spec.levels.first() != Some(&1) || spec.levels.windows(2).any(|w| w[1] <= w[0]) {
        return Err(invalid("levels must start at 1 and increase"));
    }
    if let TileCodec::Jpeg { quality } = spec.codec {
        if !(1..=100).contains(&quality) {
            return Err(invalid("JPEG quality must be 1-100"));
        }
    }
    let big = spec.bigtiff;
    let header_len: u64 = if big { 16 } else { 8 };
    let mut w = Counted { inner: BufWriter::with_capacity(1 << 20, File::create(path)?), pos: 0 };
    w.put(&vec![0u8; header_len as usize])?;

    // Tile data, level by level; the thumbnail strip after level 0.
    let mut written = Vec::new();
    let mut thumb = None;
    for (i, &d) in spec.levels.iter().enumerate() {
        written.push(write_level(&mut w, spec, d, path)?);
        if i == 0 {
            thumb = Some(write_thumbnail(&mut w, spec)?);
        }
    }
    let (thumb_off, thumb_w, thumb_h) = thumb.expect("levels has at least one entry");

    // IFDs: level 0, thumbnail, lower levels.
    let codec_name = match spec.codec {
        TileCodec::Jpeg { quality } => format!("JPEG/RGB Q={quality}"),
        TileCodec::Jpeg2000 => "J2K/KDU Q=70".to_string(),
    };
    let (w0, h0) = (spec.width, spec.height);
    let t = spec.tile;
    let mag =
        if spec.objective.fract() == 0.0 { format!("{}", spec.objective as i64) } else { spec.objective.to_string() };
    // A file named as a TCGA slide names its barcode, as the GDC's slides do.
    let stem = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let filename = match stem.split('.').next() {
        Some(barcode) if barcode.starts_with("TCGA-") => barcode.to_string(),
        _ => "bcss-synthetic".to_string(),
    };
    let desc0 = format!(
        "Aperio Image Library v12.0.15 \r\n{w0}x{h0} [0,100 {w0}x{h0}] ({t}x{t}) {codec_name}|AppMag = {mag}|StripeWidth = 2040|ScanScope ID = BCSS-STANDIN|Filename = {filename}|MPP = {}|Left = 25.0|Top = 23.0|OriginalWidth = {w0}|OriginalHeight = {h0}",
        spec.mpp
    );
    let mut ifds: Vec<Vec<Entry>> = Vec::new();
    for (i, (&d, wr)) in spec.levels.iter().zip(&written).enumerate() {
        let (lw, lh) = spec.level_size(d);
        let desc = if i == 0 {
            desc0.clone()
        } else {
            format!("Aperio Image Library v12.0.15 \r\n{w0}x{h0} -> {lw}x{lh} - ({t}x{t}) {codec_name}")
        };
        let (compression, photometric) = match spec.codec {
            TileCodec::Jpeg { .. } => (7, 6),
            TileCodec::Jpeg2000 => (33005, 2),
        };
        let mut e = vec![
            long(254, 0),
            long(256, to_u32(lw)?),
            long(257, to_u32(lh)?),
            shorts(258, &[8, 8, 8]),
            shorts(259, &[compression]),
            shorts(262, &[photometric]),
            ascii(270, &desc),
            shorts(277, &[3]),
            shorts(284, &[1]),
            long(322, t),
            long(323, t),
            offsets(324, &wr.offsets, big)?,
            offsets(325, &wr.counts, big)?,
        ];
        if photometric == 6 {
            e.push(shorts(530, &[1, 1]));
        }
        ifds.push(e);
        if i == 0 {
            let desc = format!(
                "Aperio Image Library v12.0.15 \r\n{w0}x{h0} -> {thumb_w}x{thumb_h} - |AppMag = {mag}|MPP = {}",
                spec.mpp
            );
            ifds.push(vec![
                long(254, 0),
                long(256, to_u32(thumb_w)?),
                long(257, to_u32(thumb_h)?),
                shorts(258, &[8, 8, 8]),
                shorts(259, &[1]),
                shorts(262, &[2]),
                ascii(270, &desc),
                offsets(273, &[thumb_off], big)?,
                shorts(277, &[3]),
                long(278, to_u32(thumb_h)?),
                offsets(279, &[thumb_w * thumb_h * 3], big)?,
                shorts(284, &[1]),
            ]);
        }
    }
    if w.pos % 2 == 1 {
        w.put(&[0])?;
    }
    let first_ifd_offset = w.pos;
    let n = ifds.len();
    for (i, entries) in ifds.into_iter().enumerate() {
        let at = w.pos;
        let len = ifd_bytes(
            entries
                .iter()
                .map(|e| Entry { tag: e.tag, kind: e.kind, count: e.count, bytes: e.bytes.clone() })
                .collect(),
            at,
            0,
            big,
        )
        .len() as u64;
        let next_at = at + len + len % 2;
        let next = if i + 1 < n { next_at } else { 0 };
        let mut bytes = ifd_bytes(entries, at, next, big);
        if bytes.len() % 2 == 1 {
            bytes.push(0);
        }
        if !big && w.pos + bytes.len() as u64 > u64::from(u32::MAX) {
            return Err(invalid("file too large for classic TIFF: set bigtiff"));
        }
        w.put(&bytes)?;
    }
    let file_size = w.pos;
    let mut file = w.inner.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(0))?;
    let mut header = Vec::new();
    if big {
        header.extend_from_slice(b"II\x2b\x00\x08\x00\x00\x00");
        header.extend_from_slice(&first_ifd_offset.to_le_bytes());
    } else {
        header.extend_from_slice(b"II\x2a\x00");
        header.extend_from_slice(&to_u32(first_ifd_offset)?.to_le_bytes());
    }
    file.write_all(&header)?;
    file.sync_all()?;

    let levels = spec
        .levels
        .iter()
        .zip(&written)
        .enumerate()
        .map(|(i, (&d, wr))| {
            let (width, height) = spec.level_size(d);
            LevelInfo {
                ifd: if i == 0 { 0 } else { i + 1 },
                downsample: d,
                width,
                height,
                tiles_across: width.div_ceil(u64::from(spec.tile)),
                tiles_down: height.div_ceil(u64::from(spec.tile)),
                tile_bytes: wr.counts.iter().sum(),
                stored_bytes: wr.stored,
            }
        })
        .collect();
    Ok(SvsInfo { file_size, levels, thumbnail_ifd: 1, thumbnail_size: (thumb_w, thumb_h), first_ifd_offset })
}

fn to_u32(v: u64) -> io::Result<u32> {
    u32::try_from(v).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("{v} does not fit a TIFF LONG")))
}

/// Whether the tile (tx, ty) of the level with downsample `d` is blank (white) for sure.
fn is_blank(spec: &SvsSpec, d: u32, tx: u64, ty: u64) -> bool {
    let Content::MostlyBlank { textured } = &spec.content else { return false };
    let span = u64::from(spec.tile) * u64::from(d);
    let tile = Rect { left: tx * span, top: ty * span, right: (tx + 1) * span, bottom: (ty + 1) * span };
    !textured.iter().any(|r| r.intersects(&tile))
}

fn render_tile(spec: &SvsSpec, d: u32, tx: u64, ty: u64) -> RgbImage {
    let t = spec.tile as usize;
    let mut data = Vec::with_capacity(t * t * 3);
    for y in 0..t as u64 {
        for x in 0..t as u64 {
            data.extend_from_slice(&spec.level_colour(d, tx * t as u64 + x, ty * t as u64 + y));
        }
    }
    RgbImage { width: t, height: t, data }
}

fn write_level<W: Write>(w: &mut Counted<W>, spec: &SvsSpec, d: u32, path: &Path) -> io::Result<Written> {
    let (lw, lh) = spec.level_size(d);
    let t = u64::from(spec.tile);
    let (across, down) = (lw.div_ceil(t), lh.div_ceil(t));
    let tiles: Vec<(u64, u64)> = (0..down).flat_map(|ty| (0..across).map(move |tx| (tx, ty))).collect();
    let blank_tile = RgbImage { width: t as usize, height: t as usize, data: vec![255; (t * t * 3) as usize] };
    let mut out =
        Written { offsets: Vec::with_capacity(tiles.len()), counts: Vec::with_capacity(tiles.len()), stored: 0 };
    let mut blank: Option<(u64, u64)> = None;
    match spec.codec {
        TileCodec::Jpeg { quality } => {
            let jpeg = |img: &RgbImage| {
                bcss_codec::jpeg::encode_rgb(img, i32::from(quality)).map_err(|e| io::Error::other(e.to_string()))
            };
            for &(tx, ty) in &tiles {
                if is_blank(spec, d, tx, ty) {
                    let (off, len) = match blank {
                        Some(b) => b,
                        None => {
                            let bytes = jpeg(&blank_tile)?;
                            let b = (w.put(&bytes)?, bytes.len() as u64);
                            out.stored += b.1;
                            blank = Some(b);
                            b
                        }
                    };
                    out.offsets.push(off);
                    out.counts.push(len);
                } else {
                    let bytes = jpeg(&render_tile(spec, d, tx, ty))?;
                    out.offsets.push(w.put(&bytes)?);
                    out.counts.push(bytes.len() as u64);
                    out.stored += bytes.len() as u64;
                }
            }
        }
        TileCodec::Jpeg2000 => {
            // Render the distinct tiles as PPM into a scratch directory, encode them in one
            // `opj_compress` run, then copy the codestreams in.
            let scratch = scratch_dir(path, d);
            let _ = std::fs::remove_dir_all(&scratch);
            std::fs::create_dir_all(&scratch)?;
            let result = (|| {
                let mut names = Vec::with_capacity(tiles.len());
                let mut any_blank = false;
                for (i, &(tx, ty)) in tiles.iter().enumerate() {
                    if is_blank(spec, d, tx, ty) {
                        any_blank = true;
                        names.push("blank".to_string());
                    } else {
                        let name = format!("t{i:07}");
                        write_ppm(&scratch.join(format!("{name}.ppm")), &render_tile(spec, d, tx, ty))?;
                        names.push(name);
                    }
                }
                if any_blank {
                    write_ppm(&scratch.join("blank.ppm"), &blank_tile)?;
                }
                let status = Command::new("opj_compress")
                    .arg("-ImgDir")
                    .arg(&scratch)
                    .args(["-OutFor", "J2K", "-I", "-r", "10"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .map_err(|e| {
                        io::Error::new(e.kind(), format!("cannot run opj_compress (libopenjp2-tools): {e}"))
                    })?;
                if !status.success() {
                    return Err(io::Error::other(format!("opj_compress failed: {status}")));
                }
                for name in &names {
                    if name == "blank" {
                        if let Some((off, len)) = blank {
                            out.offsets.push(off);
                            out.counts.push(len);
                            continue;
                        }
                    }
                    let bytes = std::fs::read(scratch.join(format!("{name}.J2K")))?;
                    let at = w.put(&bytes)?;
                    out.offsets.push(at);
                    out.counts.push(bytes.len() as u64);
                    out.stored += bytes.len() as u64;
                    if name == "blank" {
                        blank = Some((at, bytes.len() as u64));
                    }
                }
                Ok(())
            })();
            let _ = std::fs::remove_dir_all(&scratch);
            result?;
        }
    }
    Ok(out)
}

fn scratch_dir(path: &Path, d: u32) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.j2k-level{d}-{}", std::process::id()))
}

fn write_ppm(path: &Path, img: &RgbImage) -> io::Result<()> {
    let mut f = BufWriter::new(File::create(path)?);
    write!(f, "P6\n{} {}\n255\n", img.width, img.height)?;
    f.write_all(&img.data)?;
    f.flush()
}

/// Writes the thumbnail strip (uncompressed RGB, longest side at most 256 px); returns its
/// offset and size.
fn write_thumbnail<W: Write>(w: &mut Counted<W>, spec: &SvsSpec) -> io::Result<(u64, u64, u64)> {
    let d = spec.width.max(spec.height).div_ceil(256).max(1);
    let (tw, th) = (spec.width.div_ceil(d), spec.height.div_ceil(d));
    let mut data = Vec::with_capacity((tw * th * 3) as usize);
    for y in 0..th {
        for x in 0..tw {
            data.extend_from_slice(&spec.colour(x * d + d / 2, y * d + d / 2));
        }
    }
    Ok((w.put(&data)?, tw, th))
}

/// What [`write_hostile_svs`] makes of a slide: claims a hostile server may make, each in a
/// file whose size covers it (the claimed bytes are a hole of zeros, so a file claiming
/// 32 GiB takes a few hundred KB of disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hostile {
    /// Level 0's directory gains a private tag (65000) of 2^32-1 DOUBLEs: 32 GiB of tag data.
    HugePrivateTag,
    /// Tile (0, 0) of level 0 claims 2^32-1 bytes.
    HugeTile,
    /// Level 0's `TileOffsets` become 256 Mi BYTE values (256 MiB, 2 GiB once widened).
    ByteOffsets,
}

/// Writes the slide of `spec` (classic TIFF) to `path`, then adds the claim of `kind`: level
/// 0's directory is copied to the end of the file with the change, the header points at the
/// copy (the copy links on to the rest of the chain), and the file is extended (sparsely) to
/// cover what is claimed. Such a file is not meant to be hashed or served whole: give the
/// stand-in its MD5 ([`GdcFile::md5`](crate::gdc::GdcFile)).
pub fn write_hostile_svs(path: &Path, spec: &SvsSpec, kind: Hostile) -> io::Result<()> {
    if spec.bigtiff {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "hostile slides are classic TIFF"));
    }
    write_svs(path, spec)?;
    let mut data = std::fs::read(path)?;
    let u16_at = |d: &[u8], at: usize| u16::from_le_bytes([d[at], d[at + 1]]);
    let u32_at = |d: &[u8], at: usize| u32::from_le_bytes(d[at..at + 4].try_into().expect("4 bytes"));
    let ifd0 = u32_at(&data, 4) as usize;
    let n = usize::from(u16_at(&data, ifd0));
    let next = u32_at(&data, ifd0 + 2 + 12 * n);
    // (tag, type, count, value field) of each entry; values out of line keep their offsets.
    let mut entries: Vec<(u16, u16, u32, u32)> = (0..n)
        .map(|i| {
            let at = ifd0 + 2 + 12 * i;
            (u16_at(&data, at), u16_at(&data, at + 2), u32_at(&data, at + 4), u32_at(&data, at + 8))
        })
        .collect();
    if data.len() % 2 == 1 {
        data.push(0);
    }
    let new_ifd = data.len() as u64;
    let n_new = n + usize::from(kind == Hostile::HugePrivateTag);
    // The area after the new directory, for a new array or a claimed value.
    let area = new_ifd + 2 + 12 * n_new as u64 + 4;
    let mut extra: Vec<u8> = Vec::new();
    let claimed_end = match kind {
        Hostile::HugePrivateTag => {
            entries.push((65000, 12, u32::MAX, to_u32(area)?));
            area + 8 * u64::from(u32::MAX)
        }
        Hostile::HugeTile => {
            let e = entries.iter_mut().find(|e| e.0 == 325).expect("TileByteCounts");
            let (offsets, counts) = (e.3 as usize, e.2 as usize);
            for i in 0..counts {
                let v = if i == 0 { u32::MAX } else { u32_at(&data, offsets + 4 * i) };
                extra.extend_from_slice(&v.to_le_bytes());
            }
            e.3 = to_u32(area)?;
            let tile0 = entries.iter().find(|e| e.0 == 324).map(|e| u32_at(&data, e.3 as usize)).expect("TileOffsets");
            u64::from(tile0) + u64::from(u32::MAX)
        }
        Hostile::ByteOffsets => {
            let e = entries.iter_mut().find(|e| e.0 == 324).expect("TileOffsets");
            *e = (324, 1, 256 << 20, to_u32(area)?);
            area + (256 << 20)
        }
    };
    entries.sort_by_key(|e| e.0);
    let mut ifd = Vec::new();
    ifd.extend_from_slice(&(n_new as u16).to_le_bytes());
    for (tag, typ, count, value) in &entries {
        ifd.extend_from_slice(&tag.to_le_bytes());
        ifd.extend_from_slice(&typ.to_le_bytes());
        ifd.extend_from_slice(&count.to_le_bytes());
        ifd.extend_from_slice(&value.to_le_bytes());
    }
    ifd.extend_from_slice(&next.to_le_bytes());
    data.extend_from_slice(&ifd);
    data.extend_from_slice(&extra);
    data[4..8].copy_from_slice(&to_u32(new_ifd)?.to_le_bytes());
    let file = File::create(path)?;
    let mut w = BufWriter::new(&file);
    w.write_all(&data)?;
    w.flush()?;
    drop(w);
    file.set_len(claimed_end.max(data.len() as u64))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hostile_slides_claim_what_they_say_on_a_sparse_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("TCGA-A1-A0SK-01Z-00-DX1.X.svs");
        let spec = SvsSpec::new(600, 500);
        write_hostile_svs(&p, &spec, Hostile::HugePrivateTag).unwrap();
        let len = std::fs::metadata(&p).unwrap().len();
        assert!(len > 32 << 30, "{len}");
        let head = {
            use std::io::Read;
            let mut b = vec![0u8; 8];
            File::open(&p).unwrap().read_exact(&mut b).unwrap();
            b
        };
        let ifd = u32::from_le_bytes(head[4..8].try_into().unwrap()) as u64;
        assert!(ifd > 1000, "the header points at the copied directory");
        write_hostile_svs(&p, &spec, Hostile::ByteOffsets).unwrap();
        assert!(std::fs::metadata(&p).unwrap().len() > 256 << 20);
        write_hostile_svs(&p, &spec, Hostile::HugeTile).unwrap();
        assert!(std::fs::metadata(&p).unwrap().len() > 4 << 30);
        assert!(write_hostile_svs(&p, &SvsSpec { bigtiff: true, ..spec }, Hostile::HugeTile).is_err());
    }

    use super::*;
    use bcss::source::LocalSlide;
    use bcss_model::Rect;
    use openslide_rs::{Address, OpenSlide, Region, Size};

    /// Reads `w x h` pixels of OpenSlide level `level` at level pixel (x, y) as RGB (the slides
    /// are opaque, so BGRA's alpha is 255).
    fn read_level(slide: &OpenSlide, level: u32, d: u32, x: u64, y: u64, w: u32, h: u32) -> Vec<[u8; 3]> {
        let (ax, ay) = ((x * u64::from(d)) as u32, (y * u64::from(d)) as u32);
        let region = Region { address: Address { x: ax, y: ay }, level, size: Size { w, h } };
        let bgra = slide.read_region(&region).unwrap();
        bgra.chunks_exact(4).map(|p| [p[2], p[1], p[0]]).collect()
    }

    /// Mean absolute error per channel against the spec's level colours.
    fn error(spec: &SvsSpec, d: u32, x: u64, y: u64, w: u32, got: &[[u8; 3]]) -> f64 {
        let mut sum = 0u64;
        for (i, px) in got.iter().enumerate() {
            let (dx, dy) = (i as u64 % u64::from(w), i as u64 / u64::from(w));
            let want = spec.level_colour(d, x + dx, y + dy);
            sum += (0..3).map(|c| u64::from(px[c].abs_diff(want[c]))).sum::<u64>();
        }
        sum as f64 / (got.len() * 3) as f64
    }

    /// Writes the slide, opens it both ways, checks geometry and pixels at every level.
    fn check(spec: &SvsSpec, max_error: f64) -> SvsInfo {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("TCGA-SY-0001-01Z-00-DX1.SYNTH.svs");
        let info = write_svs(&path, spec).unwrap();
        assert_eq!(info.file_size, std::fs::metadata(&path).unwrap().len());
        let head = std::fs::read(&path).unwrap();
        assert_eq!(&head[..4], if spec.bigtiff { b"II\x2b\x00" } else { b"II\x2a\x00" });

        let os = OpenSlide::new(&path).unwrap();
        assert_eq!(os.property_value("openslide.vendor").unwrap(), "aperio");
        assert_eq!(os.level_count(), spec.levels.len() as u32);
        assert_eq!(os.property_value("openslide.objective-power").unwrap(), "40");
        assert_eq!(os.property_value("openslide.mpp-x").unwrap().parse::<f64>().unwrap(), spec.mpp);
        for (i, &d) in spec.levels.iter().enumerate() {
            let size = os.level_dimensions(i as u32).unwrap();
            assert_eq!((u64::from(size.w), u64::from(size.h)), spec.level_size(d));
            assert_eq!(os.property_value(&format!("openslide.level[{i}].tile-width")).unwrap(), spec.tile.to_string());
            let l = &info.levels[i];
            assert_eq!((l.width, l.height, l.downsample), (u64::from(size.w), u64::from(size.h), d));
            // A window away from the origin and one at the bottom-right corner (edge tiles).
            let (lw, lh) = spec.level_size(d);
            for (x, y) in [(lw / 3, lh / 4), (lw.saturating_sub(100), lh.saturating_sub(70))] {
                let (w, h) = (100.min(lw - x) as u32, 70.min(lh - y) as u32);
                let got = read_level(&os, i as u32, d, x, y, w, h);
                let e = error(spec, d, x, y, w, &got);
                assert!(e < max_error, "level {i} (x{d}) at {x},{y}: mean error {e}");
            }
        }
        assert_eq!(os.associated_image_names().unwrap(), ["thumbnail"]);
        let thumb = os.associated_image_dimensions("thumbnail").unwrap();
        assert_eq!((u64::from(thumb.w), u64::from(thumb.h)), info.thumbnail_size);

        let local = LocalSlide::open(&path).unwrap();
        let g = local.geometry();
        assert_eq!((g.size_x, g.size_y), (spec.width, spec.height));
        assert_eq!((g.tile_width, g.tile_height), (u64::from(spec.tile), u64::from(spec.tile)));
        assert_eq!(g.magnification, Some(40.0));
        assert!((g.mm_x.unwrap() - spec.mpp / 1000.0).abs() < 1e-12, "{:?}", g.mm_x);
        let r = Rect { left: 1001, top: 733, right: 1301, bottom: 933 };
        let img = local.read_region(r, g.levels - 1, r.width(), r.height()).unwrap();
        let got: Vec<[u8; 3]> = img.data.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect();
        let e = error(spec, 1, r.left, r.top, r.width() as u32, &got);
        assert!(e < max_error, "bcss LocalSlide at level 0: mean error {e}");
        info
    }

    #[test]
    fn jpeg_tile_240_three_levels() {
        let spec = SvsSpec { tile: 240, ..SvsSpec::new(3040, 2208) };
        let info = check(&spec, 3.0);
        assert_eq!((info.levels[0].tiles_across, info.levels[0].tiles_down), (13, 10));
        assert_eq!(info.levels.iter().map(|l| l.ifd).collect::<Vec<_>>(), [0, 2, 3]);
    }

    #[test]
    fn jpeg_tile_256_two_levels_odd_size() {
        check(&SvsSpec { levels: vec![1, 4], ..SvsSpec::new(2601, 1903) }, 3.0);
    }

    #[test]
    fn jpeg_tile_512_bigtiff() {
        check(&SvsSpec { tile: 512, bigtiff: true, ..SvsSpec::new(5120, 3072) }, 3.0);
    }

    #[test]
    fn jpeg2000_tiles_33005() {
        let spec = SvsSpec { codec: TileCodec::Jpeg2000, levels: vec![1, 4], ..SvsSpec::new(2048, 1536) };
        check(&spec, 4.0);
    }

    #[test]
    fn mostly_blank_40000_by_30000_is_small() {
        let spec = SvsSpec {
            content: Content::MostlyBlank {
                textured: vec![Rect { left: 10_000, top: 8_000, right: 11_000, bottom: 8_700 }],
            },
            ..SvsSpec::new(40_000, 30_000)
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blank.svs");
        let info = write_svs(&path, &spec).unwrap();
        assert!(info.file_size < 1_000_000, "{} bytes", info.file_size);
        assert_eq!((info.levels[0].tiles_across, info.levels[0].tiles_down), (157, 118));
        assert!(info.levels[0].tile_bytes > 10 * info.levels[0].stored_bytes);
        let os = OpenSlide::new(&path).unwrap();
        assert_eq!(os.property_value("openslide.vendor").unwrap(), "aperio");
        let got = read_level(&os, 0, 1, 10_100, 8_100, 200, 150);
        assert!(error(&spec, 1, 10_100, 8_100, 200, &got) < 3.0);
        let got = read_level(&os, 0, 1, 30_000, 20_000, 64, 64);
        assert!(got.iter().all(|p| p.iter().all(|&c| c >= 250)), "blank is white");
        let got = read_level(&os, 2, 16, 10_000 / 16, 8_000 / 16, 60, 40);
        assert!(error(&spec, 16, 10_000 / 16, 8_000 / 16, 60, &got) < 4.0);
        let local = LocalSlide::open(&path).unwrap();
        assert_eq!((local.geometry().size_x, local.geometry().size_y), (40_000, 30_000));
    }

    #[test]
    fn refuses_bad_specs() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.svs");
        assert!(write_svs(&p, &SvsSpec { tile: 250, ..SvsSpec::new(100, 100) }).is_err());
        assert!(write_svs(&p, &SvsSpec { levels: vec![4, 1], ..SvsSpec::new(100, 100) }).is_err());
        assert!(write_svs(&p, &SvsSpec::new(0, 100)).is_err());
    }
}
