//! PNG decoding (the `png` crate) and encoding ([`PngWriter`]: filtered rows, our Huffman coder
//! and libdeflate).

use std::io::Write;

pub use super::encoder::{Compression, EncodeError, PngWriter};

use super::{CodecError, SizeLimit};
use bcss_model::{GrayImage, RgbImage};

/// Width and height from the PNG header (the `IHDR` chunk; nothing else is read).
pub fn dimensions(bytes: &[u8]) -> Result<(usize, usize), CodecError> {
    let mut decoder = ::png::Decoder::new(std::io::Cursor::new(bytes));
    let info = decoder.read_header_info()?;
    Ok((info.width as usize, info.height as usize))
}

/// A reader over `bytes` whose header has been checked against `limit`: the size is read from
/// `IHDR` and refused before the decoder sets up anything sized by it.
pub(super) fn open<R: std::io::BufRead + std::io::Seek>(
    r: R,
    transformations: ::png::Transformations,
    limit: SizeLimit,
) -> Result<::png::Reader<R>, CodecError> {
    let mut decoder = ::png::Decoder::new(r);
    decoder.set_transformations(transformations);
    let info = decoder.read_header_info()?;
    limit.check(info.width as usize, info.height as usize)?;
    Ok(decoder.read_info()?)
}

/// Decodes the whole frame of a reader opened by [`open`] and checks that the file ends.
fn read_frame<R: std::io::BufRead + std::io::Seek>(
    mut reader: ::png::Reader<R>,
) -> Result<(::png::OutputInfo, Vec<u8>), CodecError> {
    let size = reader.output_buffer_size().ok_or_else(|| CodecError::Unsupported("image too large".into()))?;
    let mut buf = vec![0u8; size];
    let info = reader.next_frame(&mut buf)?;
    buf.truncate(info.buffer_size());
    // A PNG whose image data ends early decodes its frame but never reaches IEND: refuse it.
    reader.finish()?;
    Ok((info, buf))
}

/// Decodes any 8-bit (or 16-bit, stripped) PNG to RGB: grey is replicated, alpha dropped. At
/// most [`super::MAX_PIXELS`].
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage, CodecError> {
    decode_rgb_within(bytes, SizeLimit::default())
}

/// [`decode_rgb`] of a PNG whose header must satisfy `limit` (checked before decoding).
pub fn decode_rgb_within(bytes: &[u8], limit: SizeLimit) -> Result<RgbImage, CodecError> {
    let t = ::png::Transformations::EXPAND | ::png::Transformations::STRIP_16;
    let (info, buf) = read_frame(open(std::io::Cursor::new(bytes), t, limit)?)?;
    let (w, h) = (info.width as usize, info.height as usize);
    let data = match info.color_type {
        ::png::ColorType::Rgb => buf,
        ::png::ColorType::Rgba => buf.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        ::png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g]).collect(),
        ::png::ColorType::GrayscaleAlpha => buf.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0]]).collect(),
        ::png::ColorType::Indexed => return Err(CodecError::Unsupported("palette not expanded".into())),
    };
    Ok(RgbImage { width: w, height: h, data })
}

/// Decodes a label mask: a single-channel 8-bit PNG (mode `L`), or a PNG whose channels are all
/// equal (some tools save masks as RGB). Anything else is refused rather than guessed at. At
/// most [`super::MAX_PIXELS`].
pub fn decode_gray(bytes: &[u8]) -> Result<GrayImage, CodecError> {
    decode_gray_within(bytes, SizeLimit::default())
}

/// [`decode_gray`] of a mask whose header must satisfy `limit`: a mask that must be a ROI's size
/// is refused from its header, before a pixel is decoded.
pub fn decode_gray_within(bytes: &[u8], limit: SizeLimit) -> Result<GrayImage, CodecError> {
    let reader = open(std::io::Cursor::new(bytes), ::png::Transformations::EXPAND, limit)?;
    // Refused kinds are refused before their pixels are decoded, too.
    let (colour, depth) = reader.output_color_type();
    if depth != ::png::BitDepth::Eight {
        return Err(CodecError::Unsupported(format!("{depth:?}-bit mask (expected 8-bit labels)")));
    }
    let channels = match colour {
        ::png::ColorType::Grayscale => 1,
        ::png::ColorType::GrayscaleAlpha => 2,
        ::png::ColorType::Rgb => 3,
        ::png::ColorType::Rgba => 4,
        ::png::ColorType::Indexed => return Err(CodecError::Unsupported("palette mask".into())),
    };
    let (info, buf) = read_frame(reader)?;
    let (w, h) = (info.width as usize, info.height as usize);
    if channels == 1 {
        return Ok(GrayImage { width: w, height: h, data: buf });
    }
    let colour = if channels >= 3 { 3 } else { 1 };
    let mut data = Vec::with_capacity(w * h);
    for px in buf.chunks_exact(channels) {
        if px[..colour].iter().any(|&c| c != px[0]) {
            return Err(CodecError::Unsupported("colour mask (channels differ; expected grey labels)".into()));
        }
        data.push(px[0]);
    }
    Ok(GrayImage { width: w, height: h, data })
}

/// Writes an RGB image as PNG (see [`PngWriter`]).
pub fn write_rgb<W: Write>(out: W, image: &RgbImage, compression: Compression) -> Result<(), CodecError> {
    write_raw(out, image.width, image.height, 3, &image.data, compression)
}

/// Writes a grey (label) image as PNG (see [`PngWriter`]).
pub fn write_gray<W: Write>(out: W, image: &GrayImage, compression: Compression) -> Result<(), CodecError> {
    write_raw(out, image.width, image.height, 1, &image.data, compression)
}

/// Writes `channels`-per-pixel 8-bit data (1 grey, 3 RGB, 4 RGBA) as PNG: the one-shot form of
/// [`PngWriter`], whose files it writes byte for byte.
pub fn write_raw<W: Write>(
    out: W,
    width: usize,
    height: usize,
    channels: usize,
    data: &[u8],
    compression: Compression,
) -> Result<(), CodecError> {
    let mut writer = PngWriter::new(out, width, height, channels, compression)?;
    writer.write_rows(data)?;
    writer.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_round_trip_and_truncation() {
        let img = GrayImage { width: 300, height: 200, data: (0..60000).map(|i| (i % 22) as u8).collect() };
        let mut bytes = Vec::new();
        write_gray(&mut bytes, &img, Compression::Balanced).unwrap();
        assert_eq!(dimensions(&bytes).unwrap(), (300, 200));
        assert_eq!(decode_gray(&bytes).unwrap(), img);
        assert!(decode_gray(&bytes[..bytes.len() - 20]).is_err(), "a PNG cut before IEND is refused");
    }

    #[test]
    fn rgb_round_trip_and_rgba_drop() {
        let img = RgbImage { width: 7, height: 5, data: (0..105).map(|i| (i * 7 % 256) as u8).collect() };
        let mut bytes = Vec::new();
        write_rgb(&mut bytes, &img, Compression::Fast).unwrap();
        assert_eq!(decode_rgb(&bytes).unwrap(), img);
        let rgba: Vec<u8> = img.data.chunks(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
        let mut bytes = Vec::new();
        write_raw(&mut bytes, 7, 5, 4, &rgba, Compression::Fast).unwrap();
        assert_eq!(decode_rgb(&bytes).unwrap(), img);
    }

    #[test]
    fn colour_masks_are_refused_unless_grey() {
        let rgb = [1u8, 1, 1, 2, 2, 2];
        let mut bytes = Vec::new();
        write_raw(&mut bytes, 2, 1, 3, &rgb, Compression::Fast).unwrap();
        assert_eq!(decode_gray(&bytes).unwrap().data, vec![1, 2]);
        let mut bytes = Vec::new();
        write_raw(&mut bytes, 2, 1, 3, &[1, 2, 3, 4, 5, 6], Compression::Fast).unwrap();
        assert!(decode_gray(&bytes).is_err());
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    /// A small real PNG whose `IHDR` is rewritten (CRC fixed) to announce `width x height`.
    fn claiming(width: u32, height: u32, channels: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_raw(&mut bytes, 4, 4, channels, &vec![1; 16 * channels], Compression::Fast).unwrap();
        // Signature (8), length (4), `IHDR` (4), width (4), height (4), ... (5), CRC (4).
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    #[test]
    fn a_header_claiming_too_many_pixels_is_refused_before_decoding() {
        // 60000 x 2147483647 grey pixels would be 129 TB: refused from the header.
        let bomb = claiming(60000, 2_147_483_647, 1);
        assert_eq!(dimensions(&bomb).unwrap(), (60000, 2_147_483_647));
        for err in [decode_gray(&bomb).unwrap_err(), decode_rgb(&bomb).unwrap_err()] {
            assert!(matches!(err, CodecError::TooLarge { width: 60000, height: 2_147_483_647, .. }), "{err}");
            assert!(err.to_string().contains("60000x2147483647 pixels, over the limit of 2147483648"), "{err}");
        }
        let err = decode_gray_within(&bomb, SizeLimit::Exactly { width: 4, height: 4 }).unwrap_err();
        assert!(matches!(err, CodecError::WrongSize { width: 60000, .. }), "{err}");
        // Asking for that size does not lift the limit.
        let err = decode_gray_within(&bomb, SizeLimit::Exactly { width: 60000, height: 2_147_483_647 }).unwrap_err();
        assert!(matches!(err, CodecError::TooLarge { .. }), "{err}");
        let rows = super::super::rows::RowReader::gray(std::io::Cursor::new(&bomb)).map(|_| ());
        assert!(matches!(rows, Err(CodecError::TooLarge { .. })), "the row reader checks the header too");
    }

    #[test]
    fn an_exact_size_is_checked_before_decoding() {
        // 20000 x 50000 within the limit, but not the expected size: refused from the header
        // (the body here is 4x4 pixels, so decoding it would fail differently).
        let wrong = claiming(20000, 50000, 1);
        let err = decode_gray_within(&wrong, SizeLimit::Exactly { width: 400, height: 300 }).unwrap_err();
        assert!(matches!(err, CodecError::WrongSize { width: 20000, height: 50000, want_w: 400, want_h: 300 }));
        assert_eq!(err.to_string(), "the image is 20000x50000 pixels but 400x300 were expected");
        let img = GrayImage { width: 5, height: 3, data: vec![7; 15] };
        let mut bytes = Vec::new();
        write_gray(&mut bytes, &img, Compression::Fast).unwrap();
        assert_eq!(decode_gray_within(&bytes, SizeLimit::Exactly { width: 5, height: 3 }).unwrap(), img);
        assert_eq!(decode_rgb_within(&bytes, SizeLimit::AtMost(15)).unwrap().width, 5);
        assert!(matches!(decode_rgb_within(&bytes, SizeLimit::AtMost(14)), Err(CodecError::TooLarge { max: 14, .. })));
    }

    #[test]
    fn sixteen_bit_masks_are_refused_before_decoding() {
        let mut bytes = Vec::new();
        let mut enc = ::png::Encoder::new(&mut bytes, 2, 1);
        enc.set_color(::png::ColorType::Grayscale);
        enc.set_depth(::png::BitDepth::Sixteen);
        enc.write_header().unwrap().write_image_data(&[0, 1, 0, 2]).unwrap();
        let err = decode_gray(&bytes).unwrap_err().to_string();
        assert!(err.contains("Sixteen-bit mask"), "{err}");
    }
}
