//! PNG decoding and encoding (the `png` crate with the zlib-rs deflate backend).

use std::io::Write;

use super::CodecError;
use crate::model::{GrayImage, RgbImage};

/// How hard to compress. PNG is lossless: this changes file size and time, never pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Fastest (fdeflate); about 30% larger files.
    Fast,
    /// zlib level 6, like Pillow's default.
    #[default]
    Balanced,
    /// Smallest files, slowest.
    High,
}

impl Compression {
    fn to_png(self) -> ::png::Compression {
        match self {
            Compression::Fast => ::png::Compression::Fast,
            Compression::Balanced => ::png::Compression::Balanced,
            Compression::High => ::png::Compression::High,
        }
    }
}

/// Width and height from the PNG header.
pub fn dimensions(bytes: &[u8]) -> Result<(usize, usize), CodecError> {
    let decoder = ::png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder.read_info()?;
    let info = reader.info();
    Ok((info.width as usize, info.height as usize))
}

fn read(bytes: &[u8]) -> Result<(::png::OutputInfo, Vec<u8>), CodecError> {
    let mut decoder = ::png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(::png::Transformations::EXPAND | ::png::Transformations::STRIP_16);
    let mut reader = decoder.read_info()?;
    let size = reader.output_buffer_size().ok_or_else(|| CodecError::Unsupported("image too large".into()))?;
    let mut buf = vec![0u8; size];
    let info = reader.next_frame(&mut buf)?;
    buf.truncate(info.buffer_size());
    // A PNG whose image data ends early decodes its frame but never reaches IEND: refuse it.
    reader.finish()?;
    Ok((info, buf))
}

/// Decodes any 8-bit (or 16-bit, stripped) PNG to RGB: grey is replicated, alpha dropped.
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage, CodecError> {
    let (info, buf) = read(bytes)?;
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
/// equal (some tools save masks as RGB). Anything else is refused rather than guessed at.
pub fn decode_gray(bytes: &[u8]) -> Result<GrayImage, CodecError> {
    let mut decoder = ::png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(::png::Transformations::EXPAND);
    let mut reader = decoder.read_info()?;
    let size = reader.output_buffer_size().ok_or_else(|| CodecError::Unsupported("image too large".into()))?;
    let mut buf = vec![0u8; size];
    let info = reader.next_frame(&mut buf)?;
    buf.truncate(info.buffer_size());
    reader.finish()?;
    let (w, h) = (info.width as usize, info.height as usize);
    if info.bit_depth != ::png::BitDepth::Eight {
        return Err(CodecError::Unsupported(format!("{:?}-bit mask (expected 8-bit labels)", info.bit_depth)));
    }
    let channels = match info.color_type {
        ::png::ColorType::Grayscale => 1,
        ::png::ColorType::GrayscaleAlpha => 2,
        ::png::ColorType::Rgb => 3,
        ::png::ColorType::Rgba => 4,
        ::png::ColorType::Indexed => return Err(CodecError::Unsupported("palette mask".into())),
    };
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

fn encoder<W: Write>(
    w: W,
    width: usize,
    height: usize,
    colour: ::png::ColorType,
    compression: Compression,
) -> ::png::Encoder<'static, W> {
    let mut enc = ::png::Encoder::new(w, width as u32, height as u32);
    enc.set_color(colour);
    enc.set_depth(::png::BitDepth::Eight);
    enc.set_compression(compression.to_png());
    enc
}

/// Writes an RGB image as PNG, streaming rows to `out`.
pub fn write_rgb<W: Write>(out: W, image: &RgbImage, compression: Compression) -> Result<(), CodecError> {
    write_raw(out, image.width, image.height, 3, &image.data, compression)
}

/// Writes a grey (label) image as PNG, streaming rows to `out`.
pub fn write_gray<W: Write>(out: W, image: &GrayImage, compression: Compression) -> Result<(), CodecError> {
    write_raw(out, image.width, image.height, 1, &image.data, compression)
}

/// Writes `channels`-per-pixel 8-bit data (1 grey, 3 RGB, 4 RGBA) as PNG.
pub fn write_raw<W: Write>(
    out: W,
    width: usize,
    height: usize,
    channels: usize,
    data: &[u8],
    compression: Compression,
) -> Result<(), CodecError> {
    let colour = match channels {
        1 => ::png::ColorType::Grayscale,
        3 => ::png::ColorType::Rgb,
        4 => ::png::ColorType::Rgba,
        n => return Err(CodecError::Unsupported(format!("{n} channels"))),
    };
    let mut writer = encoder(out, width, height, colour, compression).write_header()?;
    {
        let mut stream = writer.stream_writer()?;
        for row in data.chunks(width * channels * 256) {
            stream.write_all(row).map_err(::png::EncodingError::IoError)?;
        }
        stream.finish()?;
    }
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
}
