//! PNG encoding of label masks: the one writer of every mask bcss makes (`bcss masks`, and the
//! masks of `download`/`extract`).
//!
//! A label mask is a few codes in large regions: after PNG's `Up` filter (each byte minus the
//! byte above) nearly every byte is 0, and the rest sit where a region boundary crosses a row.
//! For such data deflate's run-length strategy (`Z_RLE`: matches at distance 1 only, Huffman
//! codes fitted to the data) finds what the general match search of zlib level 6 finds, at a
//! fraction of the cost. So for masks the compression levels mean:
//!
//! | [`Compression`] | filter | deflate | |
//! |---|---|---|---|
//! | `Fast` | adaptive | Huffman codes and runs of zeros | as [`png::write_gray`](super::png::write_gray) |
//! | `Balanced` (default) | `Up` | zlib-rs, `Z_RLE` strategy | this module |
//! | `High` | adaptive | the smaller of that and libdeflate level 10 | as [`png::write_gray`](super::png::write_gray) |
//!
//! Measured (BENCHMARKS.md "Masks from annotations"): on the 12 masks of the BCSS-sized
//! benchmark (210 MP) `Balanced` here is 3520 KB where zlib level 6 with adaptive filtering (the
//! previous `Balanced`) is 3534 KB, in about a third of the CPU time; on the 40 HistomicsTK
//! fixture masks 209 KB against 218 KB; on the 403-element benchmark 455 KB against 443 KB
//! (+2.8%: the slanted edges of rotated rectangles repeat at a distance of one row, which
//! `Z_RLE` does not search). Data that repeats at a distance (textures, not masks) can compress
//! several times worse than with zlib's full search; `High` is there for the smallest files.
//! `Z_RLE` is chosen through zlib-rs's own API because flate2 does not expose the strategy;
//! the PNG container (signature, `IHDR`, `IDAT` chunks, `IEND`, CRCs) is the `png` crate's.
//!
//! Pixels never change: any PNG decoder reads back exactly the mask given.
//!
//! Invariant: pure encoding to a `Write`; memory is one band of filtered rows and one chunk of
//! output, whatever the mask's size.

use std::io::Write;

use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Status, Strategy};

use super::encoder::{EncodeError, PngWriter};
use super::png::Compression;
use super::CodecError;
use bcss_model::GrayImage;

/// Filtered bytes handed to deflate at a time.
const BAND_BYTES: usize = 1 << 20;
/// Bytes per `IDAT` chunk.
const CHUNK_BYTES: usize = 1 << 18;

/// Writes a label mask as an 8-bit grey PNG with the mask meaning of `compression` (see the
/// module docs), streaming to `out`: [`LabelWriter`] handed the whole mask.
///
/// ```
/// use bcss_codec::label_png::write_labels;
/// use bcss_codec::png::{decode_gray, Compression};
/// use bcss_model::GrayImage;
///
/// let mask = GrayImage { width: 300, height: 200, data: (0..60_000).map(|i| ((i % 300) / 50) as u8).collect() };
/// let mut bytes = Vec::new();
/// write_labels(&mut bytes, &mask, Compression::Balanced).unwrap();
/// assert_eq!(decode_gray(&bytes).unwrap(), mask);
/// ```
pub fn write_labels<W: Write>(out: W, image: &GrayImage, compression: Compression) -> Result<(), CodecError> {
    let (w, h) = (image.width, image.height);
    if image.data.len() != w * h {
        return Err(CodecError::Unsupported(format!("{} bytes for a {w}x{h} mask", image.data.len())));
    }
    let mut writer = LabelWriter::new(out, w, h, compression)?;
    writer.write_rows(&image.data)?;
    writer.finish()?;
    Ok(())
}

/// A label mask written as it is made, rows top to bottom, with the mask meaning of
/// `compression` (see the module docs): the same file as [`write_labels`] of the whole mask,
/// however the rows are handed in. It holds one band of filtered rows (about 1 MiB), the row
/// above and one `IDAT` chunk (`Balanced`), or [`PngWriter`]'s pieces (`Fast`, `High`).
///
/// ```
/// use bcss_codec::label_png::LabelWriter;
/// use bcss_codec::png::{decode_gray, Compression};
///
/// let mut png = Vec::new();
/// let mut w = LabelWriter::new(&mut png, 2, 3, Compression::Balanced).unwrap();
/// w.write_rows(&[1, 1]).unwrap();
/// w.write_rows(&[1, 2, 2, 2]).unwrap();
/// w.finish().unwrap();
/// assert_eq!(decode_gray(&png).unwrap().data, [1, 1, 1, 2, 2, 2]);
/// ```
pub struct LabelWriter<W: Write> {
    inner: Inner<W>,
}

enum Inner<W: Write> {
    UpRle(Box<UpRle<W>>),
    Png(PngWriter<W>),
}

impl<W: Write> LabelWriter<W> {
    /// Writes the PNG signature and header of a `width x height` 8-bit grey image.
    pub fn new(out: W, width: usize, height: usize, compression: Compression) -> Result<LabelWriter<W>, CodecError> {
        let inner = match compression {
            Compression::Balanced => Inner::UpRle(Box::new(UpRle::new(out, width, height)?)),
            other => Inner::Png(PngWriter::new(out, width, height, 1, other)?),
        };
        Ok(LabelWriter { inner })
    }

    /// Adds pixel bytes: whole rows, or any part of them. More bytes than the header's rows is an
    /// error.
    pub fn write_rows(&mut self, data: &[u8]) -> Result<(), CodecError> {
        match &mut self.inner {
            Inner::UpRle(w) => w.write_rows(data),
            Inner::Png(w) => Ok(w.write_rows(data)?),
        }
    }

    /// Compresses what is left and writes the end of the file. Fewer bytes than the header's
    /// rows is an error.
    pub fn finish(self) -> Result<(), CodecError> {
        match self.inner {
            Inner::UpRle(w) => w.finish(),
            Inner::Png(w) => w.finish().map(drop).map_err(CodecError::from),
        }
    }
}

fn deflate_error(what: impl std::fmt::Debug) -> CodecError {
    CodecError::PngEncode(::png::EncodingError::IoError(std::io::Error::other(format!("deflate failed: {what:?}"))))
}

/// `Up` filter on every row (the row above the first is zeros) and a `Z_RLE` zlib stream, cut
/// into `IDAT` chunks. Filtered rows go to deflate [`BAND_BYTES`] at a time (whole rows), so
/// the stream depends on the width only, not on how rows are handed in.
struct UpRle<W: Write> {
    writer: ::png::Writer<W>,
    z: Deflate,
    chunk: Vec<u8>,
    filled: usize,
    width: usize,
    /// The raw row above the next one (zeros above the first).
    above: Vec<u8>,
    /// A row handed in part by part.
    partial: Vec<u8>,
    /// Filtered rows waiting for deflate, `rows_per_band` at most.
    band: Vec<u8>,
    rows_per_band: usize,
    rows_in_band: usize,
    rows: u64,
    height: u64,
}

impl<W: Write> UpRle<W> {
    fn new(out: W, width: usize, height: usize) -> Result<UpRle<W>, CodecError> {
        let (w, h) = match (u32::try_from(width), u32::try_from(height)) {
            (Ok(w), Ok(h)) if w > 0 && h > 0 && w <= i32::MAX as u32 && h <= i32::MAX as u32 => (w, h),
            _ => return Err(EncodeError::Shape(format!("{width}x{height} pixels")).into()),
        };
        let mut enc = ::png::Encoder::new(out, w, h);
        enc.set_color(::png::ColorType::Grayscale);
        enc.set_depth(::png::BitDepth::Eight);
        let writer = enc.write_header()?;
        let rows_per_band = (BAND_BYTES / (width + 1)).max(1);
        Ok(UpRle {
            writer,
            z: Deflate::new_with_config(DeflateConfig { strategy: Strategy::Rle, ..DeflateConfig::default() }),
            chunk: vec![0u8; CHUNK_BYTES],
            filled: 0,
            width,
            above: vec![0; width],
            partial: Vec::new(),
            band: Vec::with_capacity(rows_per_band.min(height) * (width + 1)),
            rows_per_band,
            rows_in_band: 0,
            rows: 0,
            height: u64::from(h),
        })
    }

    fn row_count_error(&self, extra: usize) -> CodecError {
        let w = self.width as u64;
        let got = self.rows * w + (self.partial.len() + extra) as u64;
        EncodeError::RowCount { got, want: self.height * w }.into()
    }

    fn write_rows(&mut self, mut data: &[u8]) -> Result<(), CodecError> {
        let w = self.width;
        let room = (self.height - self.rows) * w as u64 - self.partial.len() as u64;
        if data.len() as u64 > room {
            return Err(self.row_count_error(data.len()));
        }
        while !data.is_empty() {
            if self.partial.is_empty() && data.len() >= w {
                let (row, rest) = data.split_at(w);
                self.push_row(row)?;
                data = rest;
            } else {
                let take = (w - self.partial.len()).min(data.len());
                self.partial.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.partial.len() == w {
                    let row = std::mem::take(&mut self.partial);
                    self.push_row(&row)?;
                    self.partial = row;
                    self.partial.clear();
                }
            }
        }
        Ok(())
    }

    fn push_row(&mut self, row: &[u8]) -> Result<(), CodecError> {
        self.band.push(2); // filter type Up
        self.band.extend(row.iter().zip(&self.above).map(|(&a, &b)| a.wrapping_sub(b)));
        self.above.copy_from_slice(row);
        self.rows += 1;
        self.rows_in_band += 1;
        if self.rows_in_band == self.rows_per_band {
            self.feed_band()?;
        }
        Ok(())
    }

    fn feed_band(&mut self) -> Result<(), CodecError> {
        let band = std::mem::take(&mut self.band);
        self.feed(&band, DeflateFlush::NoFlush)?;
        self.band = band;
        self.band.clear();
        self.rows_in_band = 0;
        Ok(())
    }

    /// Compresses `input` (all of it; with `Finish`, to the end of the stream), writing each full
    /// chunk as an `IDAT`.
    fn feed(&mut self, input: &[u8], flush: DeflateFlush) -> Result<(), CodecError> {
        let mut used = 0;
        loop {
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let status =
                self.z.compress(&input[used..], &mut self.chunk[self.filled..], flush).map_err(deflate_error)?;
            used += (self.z.total_in() - in0) as usize;
            self.filled += (self.z.total_out() - out0) as usize;
            if self.filled == self.chunk.len() {
                self.writer.write_chunk(::png::chunk::IDAT, &self.chunk)?;
                self.filled = 0;
            }
            match (flush, status) {
                (DeflateFlush::Finish, Status::StreamEnd) => return Ok(()),
                (DeflateFlush::Finish, _) => {}
                _ if used == input.len() && self.filled < self.chunk.len() => return Ok(()),
                _ => {}
            }
        }
    }

    fn finish(mut self) -> Result<(), CodecError> {
        if self.rows != self.height || !self.partial.is_empty() {
            return Err(self.row_count_error(0));
        }
        if self.rows_in_band > 0 {
            self.feed_band()?;
        }
        self.feed(&[], DeflateFlush::Finish)?;
        if self.filled > 0 {
            self.writer.write_chunk(::png::chunk::IDAT, &self.chunk[..self.filled])?;
        }
        Ok(self.writer.finish()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::png::decode_gray;

    fn round_trip(mask: &GrayImage, compression: Compression) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_labels(&mut bytes, mask, compression).unwrap();
        assert_eq!(&decode_gray(&bytes).unwrap(), mask, "{compression:?} {}x{}", mask.width, mask.height);
        bytes
    }

    /// Regions of a few codes bounded by slanted and curved edges, like a rasterised annotation.
    fn regions(w: usize, h: usize) -> GrayImage {
        let mut data = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f64, y as f64);
                data[y * w + x] = if (fx - 0.6 * w as f64).hypot(fy - 0.4 * h as f64) < 0.3 * w as f64 {
                    1
                } else if x + y / 2 < w / 3 {
                    0
                } else if (fx - 0.2 * w as f64).hypot(fy - 0.7 * h as f64) < 0.15 * w as f64 {
                    3
                } else {
                    2
                };
            }
        }
        GrayImage { width: w, height: h, data }
    }

    #[test]
    fn every_level_reads_back_the_mask() {
        for (w, h) in [(1, 1), (1, 300), (300, 1), (257, 131), (2000, 700)] {
            let mask = regions(w, h);
            for c in [Compression::Fast, Compression::Balanced, Compression::High] {
                round_trip(&mask, c);
            }
        }
    }

    #[test]
    fn bands_and_chunks_are_crossed() {
        // 2.2 MB of filtered rows (several bands) of noise-like codes, so the stream spans many
        // IDAT chunks, and a row wider than a band.
        let (w, h) = (1100, 2000);
        let data: Vec<u8> = (0..w * h).map(|i| ((i as u64).wrapping_mul(2_654_435_761) >> 13) as u8 % 22).collect();
        let bytes = round_trip(&GrayImage { width: w, height: h, data }, Compression::Balanced);
        assert!(bytes.len() > 2 * CHUNK_BYTES, "{} bytes", bytes.len());
        round_trip(&regions(BAND_BYTES + 10, 3), Compression::Balanced);
    }

    /// On regions with curved edges (what rasterised annotations are made of); not a promise for
    /// every image (see the module docs).
    #[test]
    fn balanced_masks_are_no_larger_than_zlib_6_adaptive() {
        let mask = regions(3000, 2000);
        let ours = round_trip(&mask, Compression::Balanced).len();
        let mut zlib6 = Vec::new();
        crate::png::write_gray(&mut zlib6, &mask, Compression::Balanced).unwrap();
        assert!(ours <= zlib6.len(), "Up + RLE {ours} bytes, zlib 6 adaptive {} bytes", zlib6.len());
    }

    /// However the rows are handed in (whole bands, single rows, pieces that cut rows), the file
    /// is byte for byte the one-shot file; more or fewer bytes than the header's rows is refused.
    #[test]
    fn rows_handed_in_pieces_make_the_same_file() {
        let mask = regions(1500, 900);
        for c in [Compression::Fast, Compression::Balanced, Compression::High] {
            let whole = round_trip(&mask, c);
            for piece in [1, 7, 1499, 1500, 1501, 700 * 1500 + 3] {
                let mut bytes = Vec::new();
                let mut w = LabelWriter::new(&mut bytes, 1500, 900, c).unwrap();
                for part in mask.data.chunks(piece) {
                    w.write_rows(part).unwrap();
                }
                w.finish().unwrap();
                assert!(bytes == whole, "{c:?}, pieces of {piece} bytes");
            }
            let mut w = LabelWriter::new(Vec::new(), 1500, 900, c).unwrap();
            w.write_rows(&mask.data[..1500 * 899 + 10]).unwrap();
            let err = w.finish().unwrap_err().to_string();
            assert!(err.contains("failed to encode PNG"), "{c:?}: {err}");
            let mut w = LabelWriter::new(Vec::new(), 1500, 900, c).unwrap();
            w.write_rows(&mask.data).unwrap();
            assert!(w.write_rows(&[0]).is_err(), "{c:?}: a byte past the last row");
        }
    }

    #[test]
    fn a_buffer_of_the_wrong_length_is_refused() {
        let mask = GrayImage { width: 10, height: 10, data: vec![1; 99] };
        let err = write_labels(Vec::new(), &mask, Compression::Balanced).unwrap_err();
        assert!(err.to_string().contains("99 bytes for a 10x10 mask"), "{err}");
    }
}
