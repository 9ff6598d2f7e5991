//! The PNG writer: rows in, a PNG out, with memory that does not grow with the image.
//!
//! [`PngWriter`] takes rows as they are produced (a JPEG decoded scanline by scanline, a
//! resampled strip, a band of a mask) and cuts them into pieces of as many rows as make
//! [`PIECE_BYTES`] of filtered data. Once it holds a piece per rayon thread, every piece is
//! filtered and compressed on its own thread (a piece's first row is filtered against the
//! previous piece's last raw row, so the filters are those of a row-by-row pass), and the
//! results are written as `IDAT` chunks in order: one large image uses every core for both the
//! filter and the deflate. It holds at most a batch of pieces (raw, filtered and compressed),
//! never the image: a 12000 x 11000 RGB ROI is written with a few tens of MB, not 400.
//! [`PngWriter::on_pool`] runs that work on a given pool (a command's thread budget) instead of
//! rayon's global one.
//!
//! Filtering is Pillow's and libpng's heuristic: each row gets the filter (None, Sub, Up, Average,
//! Paeth) whose bytes, read as signed, have the smallest sum of absolute values.
//!
//! Compressing a piece: every piece is coded by the `huffman` module (Huffman codes fitted to
//! each 64 KiB, runs of zeros as matches; no match search). On the filtered rows of tissue that
//! is both the smallest and by far the cheapest coding we measured: the rows hold almost nothing
//! a back-reference pays for. Where they do (masks, test patterns), libdeflate's match search
//! wins; at [`Compression::Balanced`] a probe (libdeflate on 16 KiB of the piece against the
//! Huffman coder's bits for the same bytes) decides whether a piece goes to libdeflate too, and
//! the smaller result is kept; `Fast` never asks libdeflate, `High` always does (level 10).
//! Huffman pieces end on a byte boundary by construction; libdeflate's are made joinable by
//! `super::deflate`.
//!
//! The output depends only on the pixels and the [`Compression`]: how rows are handed in (one at
//! a time or all at once) and how many threads compress change nothing.
//!
//! Why not the `png` crate's encoder (used before): it streams, but through zlib-rs at level 6,
//! which on H&E tissue writes 4% more bytes than Pillow's zlib at a sixth of Pillow's CPU, and
//! on one core; the coding here writes 3% fewer bytes than Pillow at about a twenty-fifth of
//! its CPU and splits across cores (BENCHMARKS.md, "PNG encoding").
//!
//! Invariant: pure; writes only to the `Write` it is given.

use std::io::Write;

use rayon::prelude::*;

use super::deflate;
pub use super::deflate::PieceError;
use super::huffman;

/// How hard to compress. PNG is lossless: this changes file size and time, never pixels.
///
/// All three filter rows adaptively (as Pillow) and code every piece of rows with Huffman codes
/// fitted to each 64 KiB and runs of zeros ([`PngWriter`]'s own coder): on photographic content
/// such as H&E tissue that is smaller than Pillow's default (zlib level 6) and than libdeflate,
/// at a small fraction of their CPU. Content with long repeats (label masks, synthetic
/// patterns, screenshots) is smaller with a match search, which is where the levels differ.
/// Measured on a 4806 x 3870 H&E-like ROI and on the stand-in's test pattern (BENCHMARKS.md,
/// "PNG encoding").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Compression {
    /// Huffman coding only: the least CPU; on tissue as small as `balanced`, on masks and
    /// patterns larger.
    Fast,
    /// Huffman coding, and libdeflate level 5 where the content repeats: on tissue 3% smaller
    /// than Pillow's default at about 1/30 of its CPU.
    #[default]
    Balanced,
    /// Huffman coding and libdeflate level 10 everywhere, the smaller kept: the smallest files,
    /// at many times the CPU.
    High,
}

/// Filtered bytes per deflate piece: small enough that a batch of pieces stays a few MB,
/// large enough that a piece's fresh history costs nothing measurable (under 0.1%).
pub const PIECE_BYTES: usize = 1 << 20;

/// Why a PNG could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Writing to the output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The image's size or pixel layout is not one PNG (or this writer) can hold.
    #[error("a PNG cannot hold {0}")]
    Shape(String),
    /// More or fewer bytes than the header's rows, or a partial row.
    #[error("the PNG got {got} bytes of rows but its header promises {want}")]
    RowCount {
        /// Bytes handed in.
        got: u64,
        /// Bytes the header promises.
        want: u64,
    },
    /// A bug in the deflate piece walker.
    #[error(transparent)]
    Piece(#[from] deflate::PieceError),
}

impl From<EncodeError> for std::io::Error {
    fn from(e: EncodeError) -> std::io::Error {
        match e {
            EncodeError::Io(io) => io,
            other => std::io::Error::other(other.to_string()),
        }
    }
}

impl Compression {
    /// libdeflate's level for the pieces that go to libdeflate (BENCHMARKS.md, "PNG encoding",
    /// has the measured bytes and CPU of each setting). `Fast` never uses it.
    pub(crate) fn libdeflate_level(self) -> i32 {
        match self {
            Compression::Fast => 1,
            Compression::Balanced => 5,
            Compression::High => 10,
        }
    }
}

/// `Balanced` hands a piece to libdeflate when libdeflate makes its probe block at most this
/// share (in percent) of the Huffman coder's bits: repeats worth a match search are there.
const PROBE_PERCENT: u64 = 97;

/// Bytes of a piece compressed by libdeflate to probe it (a quarter of a Huffman block: on
/// tissue the probe costs a few percent of the piece's time).
const PROBE_BYTES: usize = 1 << 14;

/// Compresses one filtered piece (see the module docs): Huffman codes fitted to each block
/// ([`huffman`]) for every setting; then, where the content has repeats (always for `High`;
/// for `Balanced` when libdeflate wins on the piece's middle block), libdeflate too, and the
/// smaller of the two is kept.
fn compress_piece(
    c: &mut libdeflater::Compressor,
    compression: Compression,
    data: &[u8],
    last: bool,
) -> Result<Vec<u8>, deflate::PieceError> {
    let (huff, blocks) = huffman::piece(data, last);
    let lz_pays = match compression {
        Compression::Fast => false,
        Compression::High => true,
        Compression::Balanced => blocks.get(blocks.len() / 2).is_some_and(|&bits| {
            // The first PROBE_BYTES of the middle block, against that block's Huffman bits
            // pro rata.
            let start = blocks.len() / 2 * huffman::BLOCK_BYTES;
            let block = &data[start..(start + huffman::BLOCK_BYTES).min(data.len())];
            let probe = &block[..block.len().min(PROBE_BYTES)];
            let lz_bits = deflate::compressed_len(c, probe) as u64 * 8 * block.len() as u64;
            lz_bits * 100 <= bits * probe.len() as u64 * PROBE_PERCENT
        }),
    };
    if !lz_pays {
        return Ok(huff);
    }
    let lz = deflate::piece(c, data, last)?;
    Ok(if lz.len() < huff.len() { lz } else { huff })
}

/// A streaming PNG encoder for 8-bit grey, RGB or RGBA images.
///
/// ```
/// use bcss_codec::png::{Compression, PngWriter};
///
/// let mut png = Vec::new();
/// let mut w = PngWriter::new(&mut png, 2, 3, 1, Compression::Balanced).unwrap();
/// w.write_rows(&[1, 2]).unwrap();
/// w.write_rows(&[3, 4, 5, 6]).unwrap();
/// w.finish().unwrap();
/// let back = bcss_codec::png::decode_gray(&png).unwrap();
/// assert_eq!(back.data, [1, 2, 3, 4, 5, 6]);
/// ```
pub struct PngWriter<W: Write> {
    out: W,
    row_bytes: usize,
    channels: usize,
    compression: Compression,
    /// Raw rows per piece: as many as make [`PIECE_BYTES`] of filtered data (rounded up), so
    /// piece boundaries depend on the width only.
    piece_rows: usize,
    /// The raw row before the first row of `pieces` (zeros before the image's first).
    prev: Vec<u8>,
    /// Raw rows waiting to be filtered and compressed, `piece_rows` per piece (the last maybe
    /// partial, also inside a row).
    pieces: Vec<Vec<u8>>,
    /// Where the pieces are filtered and compressed (rayon's global pool when `None`).
    pool: Option<std::sync::Arc<rayon::ThreadPool>>,
    adler: libdeflater::Adler32,
    started: bool,
    /// Bytes handed in and expected, for the error.
    got: u64,
    want: u64,
}

impl<W: Write> PngWriter<W> {
    /// Writes the signature and `IHDR` of a `width x height` image with `channels` 8-bit
    /// channels (1 grey, 3 RGB, 4 RGBA).
    pub fn new(
        mut out: W,
        width: usize,
        height: usize,
        channels: usize,
        compression: Compression,
    ) -> Result<PngWriter<W>, EncodeError> {
        let colour = match channels {
            1 => 0u8,
            3 => 2,
            4 => 6,
            n => return Err(EncodeError::Shape(format!("{n} channels"))),
        };
        let (w, h) = match (u32::try_from(width), u32::try_from(height)) {
            (Ok(w), Ok(h)) if w > 0 && h > 0 && w <= i32::MAX as u32 && h <= i32::MAX as u32 => (w, h),
            _ => return Err(EncodeError::Shape(format!("{width}x{height} pixels"))),
        };
        out.write_all(b"\x89PNG\r\n\x1a\n")?;
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend(w.to_be_bytes());
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, colour, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr)?;
        let row_bytes = width * channels;
        let piece_rows = PIECE_BYTES.div_ceil(row_bytes + 1);
        Ok(PngWriter {
            out,
            row_bytes,
            channels,
            compression,
            piece_rows,
            prev: vec![0; row_bytes],
            pieces: vec![Vec::with_capacity(piece_rows.min(h as usize) * row_bytes)],
            pool: None,
            adler: libdeflater::Adler32::new(),
            started: false,
            got: 0,
            want: u64::from(h) * (row_bytes as u64),
        })
    }

    /// Filters and compresses on `pool` instead of rayon's global pool (a command's thread
    /// budget). The file is the same either way.
    pub fn on_pool(mut self, pool: Option<std::sync::Arc<rayon::ThreadPool>>) -> PngWriter<W> {
        self.pool = pool;
        self
    }

    fn threads(&self) -> usize {
        self.pool.as_ref().map_or_else(rayon::current_num_threads, |p| p.current_num_threads()).max(1)
    }

    /// Adds pixel bytes: whole rows, or any part of them (rows are cut where the bytes say).
    /// More bytes than the header's rows is an error.
    pub fn write_rows(&mut self, mut data: &[u8]) -> Result<(), EncodeError> {
        self.got += data.len() as u64;
        if self.got > self.want {
            return Err(EncodeError::RowCount { got: self.got, want: self.want });
        }
        let cap = self.piece_rows * self.row_bytes;
        while !data.is_empty() {
            let room = cap - self.pieces.last().map_or(cap, Vec::len);
            if room == 0 {
                // The open piece is full and more rows follow: compress the batch once it has a
                // piece per thread, then open another.
                if self.pieces.len() >= self.threads() {
                    self.flush(false)?;
                }
                self.pieces.push(Vec::with_capacity(cap));
                continue;
            }
            let n = room.min(data.len());
            self.pieces.last_mut().expect("an open piece").extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(())
    }

    /// Filters and compresses the waiting pieces (each on its own thread: a piece's first row
    /// is filtered against the previous piece's last) and writes them as `IDAT` chunks in
    /// order. `last`: the final one of them ends the stream.
    fn flush(&mut self, last: bool) -> Result<(), EncodeError> {
        let n = self.pieces.len();
        let (compression, row_bytes, bpp) = (self.compression, self.row_bytes, self.channels);
        let (pieces, prev) = (&self.pieces, &self.prev);
        let work = || -> Vec<Result<Filtered, deflate::PieceError>> {
            pieces
                .par_iter()
                .enumerate()
                .map_init(
                    || {
                        (
                            deflate::compressor(compression.libdeflate_level()),
                            std::array::from_fn::<Vec<u8>, 5, _>(|_| vec![0; row_bytes]),
                        )
                    },
                    |(c, scratch), (i, raw)| {
                        let before = if i == 0 { &prev[..] } else { &pieces[i - 1][pieces[i - 1].len() - row_bytes..] };
                        let filtered = filter_rows(raw, before, row_bytes, bpp, scratch);
                        let z = compress_piece(c, compression, &filtered, last && i + 1 == n)?;
                        Ok((filtered, z))
                    },
                )
                .collect()
        };
        let done = match &self.pool {
            Some(p) => p.install(work),
            None => work(),
        };
        for (i, r) in done.into_iter().enumerate() {
            let (filtered, mut z) = r?;
            self.adler.update(&filtered);
            if !self.started {
                // zlib header: deflate, 32 KiB window, no dictionary (0x78 0x9C, checked by % 31).
                z.splice(0..0, [0x78, 0x9C]);
                self.started = true;
            }
            if last && i + 1 == n {
                z.extend(self.adler.sum().to_be_bytes());
            }
            chunk(&mut self.out, b"IDAT", &z)?;
        }
        if let Some(p) = self.pieces.last() {
            self.prev.copy_from_slice(&p[p.len() - row_bytes..]);
        }
        self.pieces.clear();
        Ok(())
    }

    /// Compresses what is left, writes `IEND`, and returns the output. Fewer rows than the
    /// header promises is an error (and nothing more is written).
    pub fn finish(mut self) -> Result<W, EncodeError> {
        if self.got != self.want {
            return Err(EncodeError::RowCount { got: self.got, want: self.want });
        }
        self.flush(true)?;
        chunk(&mut self.out, b"IEND", &[])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A piece filtered (for the Adler-32) and compressed.
type Filtered = (Vec<u8>, Vec<u8>);

/// Filters whole raw rows (`prev`: the row before the first) with the adaptive heuristic: each
/// row's filter type byte, then its filtered bytes.
fn filter_rows<'a>(
    raw: &'a [u8],
    mut prev: &'a [u8],
    row_bytes: usize,
    bpp: usize,
    scratch: &mut [Vec<u8>; 5],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / row_bytes);
    for row in raw.chunks_exact(row_bytes) {
        let mut best = (u64::MAX, 0usize);
        for (kind, buf) in scratch.iter_mut().enumerate() {
            let score = filter(kind, bpp, prev, row, buf);
            if score < best.0 {
                best = (score, kind);
            }
        }
        out.push(best.1 as u8);
        out.extend_from_slice(&scratch[best.1]);
        prev = row;
    }
    out
}

/// Rows as a byte stream (for code that writes rows with `write_all`): the same as
/// [`PngWriter::write_rows`]; a write past the header's rows is an error.
impl<W: Write> Write for PngWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_rows(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes one PNG chunk: length, type, data, CRC-32 of type and data.
fn chunk(out: &mut impl Write, kind: &[u8; 4], data: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(data.len()).map_err(|_| std::io::Error::other("PNG chunk over 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(kind)?;
    out.write_all(data)?;
    let mut crc = libdeflater::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.write_all(&crc.sum().to_be_bytes())
}

/// Filters `cur` (previous row `prev`) with PNG filter `kind` into `out`; returns the sum of the
/// filtered bytes' absolute values as signed bytes (the adaptive heuristic's score).
///
/// Written as plain loops over equal-length slices so the compiler vectorises them.
fn filter(kind: usize, bpp: usize, prev: &[u8], cur: &[u8], out: &mut [u8]) -> u64 {
    let n = cur.len();
    let bpp = bpp.min(n);
    // Summed in u32 (twice the bytes per vector step of u64), 2^24 bytes at a time so no sum
    // can overflow: the same score, so the same filter choices.
    let score = |s: &[u8]| -> u64 {
        s.chunks(1 << 24).map(|c| u64::from(c.iter().map(|&b| u32::from((b as i8).unsigned_abs())).sum::<u32>())).sum()
    };
    match kind {
        0 => out.copy_from_slice(cur),
        1 => {
            out[..bpp].copy_from_slice(&cur[..bpp]);
            for ((o, &x), &a) in out[bpp..].iter_mut().zip(&cur[bpp..]).zip(&cur[..n - bpp]) {
                *o = x.wrapping_sub(a);
            }
        }
        2 => {
            for ((o, &x), &b) in out.iter_mut().zip(cur).zip(prev) {
                *o = x.wrapping_sub(b);
            }
        }
        3 => {
            for i in 0..bpp {
                out[i] = cur[i].wrapping_sub(prev[i] >> 1);
            }
            for (((o, &x), &a), &b) in out[bpp..].iter_mut().zip(&cur[bpp..]).zip(&cur[..n - bpp]).zip(&prev[bpp..]) {
                *o = x.wrapping_sub(((u16::from(a) + u16::from(b)) >> 1) as u8);
            }
        }
        _ => {
            // Paeth with a = c = 0 in the first pixel is Up.
            for i in 0..bpp {
                out[i] = cur[i].wrapping_sub(prev[i]);
            }
            for ((((o, &x), &a), &b), &c) in
                out[bpp..].iter_mut().zip(&cur[bpp..]).zip(&cur[..n - bpp]).zip(&prev[bpp..]).zip(&prev[..n - bpp])
            {
                *o = x.wrapping_sub(paeth(a, b, c));
            }
        }
    }
    score(out)
}

/// PNG's Paeth predictor, branch-free: the one of `a` (left), `b` (up), `c` (up-left) nearest
/// to `a + b - c`, ties in that order.
#[inline(always)]
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (a16, b16, c16) = (i16::from(a), i16::from(b), i16::from(c));
    let pa = (b16 - c16).abs();
    let pb = (a16 - c16).abs();
    let pc = (a16 + b16 - 2 * c16).abs();
    let not_a = (pb < pa) | (pc < pa);
    let pick_c = pc < pb;
    if not_a {
        if pick_c {
            c
        } else {
            b
        }
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy_rgb(w: usize, h: usize, seed: u64) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut v = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let base = ((x / 7 + y / 5) % 200) as u8;
                v.extend([base, base.wrapping_add(rng.u8(0..9)), 255 - base]);
            }
        }
        v
    }

    fn encode(w: usize, h: usize, ch: usize, data: &[u8], c: Compression, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut pw = PngWriter::new(&mut out, w, h, ch, c).unwrap();
        for part in data.chunks(step) {
            pw.write_rows(part).unwrap();
        }
        pw.finish().unwrap();
        out
    }

    #[test]
    fn paeth_matches_the_spec() {
        for a in (0..=255u8).step_by(3) {
            for b in (0..=255u8).step_by(5) {
                for c in (0..=255u8).step_by(7) {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
                    let want = if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    };
                    assert_eq!(paeth(a, b, c), want, "{a} {b} {c}");
                }
            }
        }
    }

    #[test]
    fn rows_in_any_grouping_give_the_same_file_that_decodes_to_the_pixels() {
        // 3 pieces of PIECE_BYTES at 700 x 1200 RGB (2.5 MB), so pieces are joined.
        let (w, h) = (700, 1200);
        let data = noisy_rgb(w, h, 3);
        for c in [Compression::Fast, Compression::Balanced, Compression::High] {
            let whole = encode(w, h, 3, &data, c, data.len());
            for step in [w * 3, 1000, 7 * w * 3 + 5] {
                assert!(encode(w, h, 3, &data, c, step) == whole, "{c:?}, steps of {step} bytes");
            }
            let back = super::super::png::decode_rgb(&whole).unwrap();
            assert_eq!((back.width, back.height), (w, h));
            assert!(back.data == data, "{c:?}: decoded pixels differ");
        }
    }

    #[test]
    fn noise_stays_with_the_huffman_coder_and_repeats_go_to_libdeflate() {
        let (w, h) = (600, 1000);
        // Smooth colour plus noise in every channel, as tissue after JPEG: nothing to match.
        let mut rng = fastrand::Rng::with_seed(5);
        let noise: Vec<u8> =
            (0..w * h).flat_map(|i| [(i % w / 3) as u8, (i / w / 5) as u8, 128]).map(|v| v + rng.u8(0..12)).collect();
        // A 37-pixel random texture repeated along every row, each row shifted by a random amount
        // (so no filter turns it into zeros): long matches everywhere.
        let tile: Vec<u8> = (0..37 * 3).map(|_| rng.u8(..)).collect();
        let repeats: Vec<u8> = (0..h)
            .flat_map(|_| tile.iter().cycle().skip(3 * rng.usize(0..37)).take(w * 3).copied().collect::<Vec<_>>())
            .collect();
        let size = |data: &[u8], c| encode(w, h, 3, data, c, data.len()).len();

        assert_eq!(
            encode(w, h, 3, &noise, Compression::Balanced, noise.len()),
            encode(w, h, 3, &noise, Compression::Fast, noise.len()),
            "noise: the probe keeps every piece with the Huffman coder"
        );
        let (fast, balanced) = (size(&repeats, Compression::Fast), size(&repeats, Compression::Balanced));
        assert!(balanced * 10 < fast, "repeats: balanced {balanced} bytes against fast {fast}");
        for data in [&noise, &repeats] {
            assert!(size(data, Compression::High) <= size(data, Compression::Balanced));
        }
    }

    #[test]
    fn grey_and_rgba_round_trip() {
        let grey: Vec<u8> = (0..300 * 200).map(|i| (i % 22) as u8).collect();
        let png = encode(300, 200, 1, &grey, Compression::Balanced, 999);
        assert_eq!(super::super::png::decode_gray(&png).unwrap().data, grey);
        let rgba: Vec<u8> = (0..5 * 4 * 4).map(|i| (i * 13) as u8).collect();
        let png = encode(5, 4, 4, &rgba, Compression::Fast, 7);
        let rgb: Vec<u8> = rgba.chunks(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        assert_eq!(super::super::png::decode_rgb(&png).unwrap().data, rgb);
    }

    #[test]
    fn wrong_row_counts_and_shapes_are_errors() {
        let mut out = Vec::new();
        let mut pw = PngWriter::new(&mut out, 4, 2, 1, Compression::Fast).unwrap();
        pw.write_rows(&[0; 7]).unwrap();
        let err = pw.finish().unwrap_err();
        assert_eq!(err.to_string(), "the PNG got 7 bytes of rows but its header promises 8");
        let mut pw = PngWriter::new(Vec::new(), 4, 2, 1, Compression::Fast).unwrap();
        assert!(matches!(pw.write_rows(&[0; 9]), Err(EncodeError::RowCount { got: 9, want: 8 })));
        assert!(PngWriter::new(Vec::new(), 0, 2, 1, Compression::Fast).is_err());
        assert!(PngWriter::new(Vec::new(), 2, 2, 2, Compression::Fast).is_err());
    }
}
