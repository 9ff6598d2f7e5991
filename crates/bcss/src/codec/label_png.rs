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

use super::png::Compression;
use super::CodecError;
use crate::model::GrayImage;

/// Filtered bytes handed to deflate at a time.
const BAND_BYTES: usize = 1 << 20;
/// Bytes per `IDAT` chunk.
const CHUNK_BYTES: usize = 1 << 18;

/// Writes a label mask as an 8-bit grey PNG with the mask meaning of `compression` (see the
/// module docs), streaming to `out`.
///
/// ```
/// use bcss::codec::label_png::write_labels;
/// use bcss::codec::png::{decode_gray, Compression};
/// use bcss::model::GrayImage;
///
/// let mask = GrayImage { width: 300, height: 200, data: (0..60_000).map(|i| ((i % 300) / 50) as u8).collect() };
/// let mut bytes = Vec::new();
/// write_labels(&mut bytes, &mask, Compression::Balanced).unwrap();
/// assert_eq!(decode_gray(&bytes).unwrap(), mask);
/// ```
pub fn write_labels<W: Write>(out: W, image: &GrayImage, compression: Compression) -> Result<(), CodecError> {
    match compression {
        Compression::Balanced => write_up_rle(out, image),
        other => super::png::write_gray(out, image, other),
    }
}

fn deflate_error(what: impl std::fmt::Debug) -> CodecError {
    CodecError::PngEncode(::png::EncodingError::IoError(std::io::Error::other(format!("deflate failed: {what:?}"))))
}

/// `Up` filter on every row (the row above the first is zeros) and a `Z_RLE` zlib stream, cut
/// into `IDAT` chunks.
fn write_up_rle<W: Write>(out: W, image: &GrayImage) -> Result<(), CodecError> {
    let (w, h) = (image.width, image.height);
    if image.data.len() != w * h {
        return Err(CodecError::Unsupported(format!("{} bytes for a {w}x{h} mask", image.data.len())));
    }
    let mut enc = ::png::Encoder::new(out, w as u32, h as u32);
    enc.set_color(::png::ColorType::Grayscale);
    enc.set_depth(::png::BitDepth::Eight);
    let mut writer = enc.write_header()?;
    let mut z = Deflate::new_with_config(DeflateConfig { strategy: Strategy::Rle, ..DeflateConfig::default() });
    let mut chunk = vec![0u8; CHUNK_BYTES];
    let mut filled = 0;
    // Compresses `input` (all of it; with `Finish`, to the end of the stream), writing each full
    // chunk as an `IDAT`.
    let mut feed = |input: &[u8],
                    flush: DeflateFlush,
                    writer: &mut ::png::Writer<W>,
                    chunk: &mut [u8],
                    filled: &mut usize|
     -> Result<(), CodecError> {
        let mut used = 0;
        loop {
            let (in0, out0) = (z.total_in(), z.total_out());
            let status = z.compress(&input[used..], &mut chunk[*filled..], flush).map_err(deflate_error)?;
            used += (z.total_in() - in0) as usize;
            *filled += (z.total_out() - out0) as usize;
            if *filled == chunk.len() {
                writer.write_chunk(::png::chunk::IDAT, chunk)?;
                *filled = 0;
            }
            match (flush, status) {
                (DeflateFlush::Finish, Status::StreamEnd) => return Ok(()),
                (DeflateFlush::Finish, _) => {}
                _ if used == input.len() && *filled < chunk.len() => return Ok(()),
                _ => {}
            }
        }
    };
    let rows_per_band = (BAND_BYTES / (w + 1)).max(1);
    let mut band = Vec::with_capacity(rows_per_band * (w + 1));
    let zeros = vec![0u8; w];
    for y0 in (0..h).step_by(rows_per_band) {
        band.clear();
        for y in y0..(y0 + rows_per_band).min(h) {
            let row = &image.data[y * w..(y + 1) * w];
            let above = if y == 0 { &zeros[..] } else { &image.data[(y - 1) * w..y * w] };
            band.push(2); // filter type Up
            band.extend(row.iter().zip(above).map(|(&a, &b)| a.wrapping_sub(b)));
        }
        feed(&band, DeflateFlush::NoFlush, &mut writer, &mut chunk, &mut filled)?;
    }
    feed(&[], DeflateFlush::Finish, &mut writer, &mut chunk, &mut filled)?;
    if filled > 0 {
        writer.write_chunk(::png::chunk::IDAT, &chunk[..filled])?;
    }
    writer.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::png::decode_gray;

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
        crate::codec::png::write_gray(&mut zlib6, &mask, Compression::Balanced).unwrap();
        assert!(ours <= zlib6.len(), "Up + RLE {ours} bytes, zlib 6 adaptive {} bytes", zlib6.len());
    }

    #[test]
    fn a_buffer_of_the_wrong_length_is_refused() {
        let mask = GrayImage { width: 10, height: 10, data: vec![1; 99] };
        let err = write_labels(Vec::new(), &mask, Compression::Balanced).unwrap_err();
        assert!(err.to_string().contains("99 bytes for a 10x10 mask"), "{err}");
    }
}
