//! PNG decoding one row at a time, so a pass over a 126-megapixel ROI holds a few rows, not the
//! whole image.
//!
//! [`RowReader::gray`] reads label masks with the rules of [`super::png::decode_gray`] (8-bit
//! grey, or channels that are all equal); [`RowReader::rgb`] reads images as RGB like
//! [`super::png::decode_rgb`]. Interlaced PNGs cannot be streamed row by row and are refused.
//! [`RowReader::finish`] checks that the file really ends (a PNG cut short is an error, not a
//! shorter image). A header announcing more than [`super::MAX_PIXELS`] is refused on opening
//! (callers size buffers by the width and, for tile bands, a number of rows).

use std::io::{BufRead, Seek};

use super::{CodecError, SizeLimit};

/// What the rows are converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Gray,
    Rgb,
}

/// A PNG decoder that hands out rows in order.
pub struct RowReader<R: BufRead + Seek> {
    reader: ::png::Reader<R>,
    target: Target,
    src_channels: usize,
    width: usize,
    height: usize,
    next: usize,
}

impl<R: BufRead + Seek> RowReader<R> {
    /// Opens a label mask: 1 output byte per pixel.
    pub fn gray(r: R) -> Result<Self, CodecError> {
        RowReader::open(r, Target::Gray)
    }

    /// Opens an image: 3 output bytes (RGB) per pixel.
    pub fn rgb(r: R) -> Result<Self, CodecError> {
        RowReader::open(r, Target::Rgb)
    }

    fn open(r: R, target: Target) -> Result<Self, CodecError> {
        let t = match target {
            Target::Gray => ::png::Transformations::EXPAND,
            Target::Rgb => ::png::Transformations::EXPAND | ::png::Transformations::STRIP_16,
        };
        let reader = super::png::open(r, t, SizeLimit::default())?;
        if reader.info().interlaced {
            return Err(CodecError::Interlaced);
        }
        let (colour, depth) = reader.output_color_type();
        if depth != ::png::BitDepth::Eight {
            return Err(CodecError::Unsupported(format!("{depth:?}-bit image (expected 8-bit)")));
        }
        let src_channels = match colour {
            ::png::ColorType::Grayscale => 1,
            ::png::ColorType::GrayscaleAlpha => 2,
            ::png::ColorType::Rgb => 3,
            ::png::ColorType::Rgba => 4,
            ::png::ColorType::Indexed => return Err(CodecError::Unsupported("palette not expanded".into())),
        };
        let (width, height) = (reader.info().width as usize, reader.info().height as usize);
        Ok(RowReader { reader, target, src_channels, width, height, next: 0 })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The file's own format before conversion: channels (1 grey, 2 grey + alpha, 3 RGB, 4
    /// RGBA) and bits per sample (1 to 16); a palette counts as its expansion, 8-bit.
    pub fn source_format(&self) -> (usize, u8) {
        let info = self.reader.info();
        let bits = if info.color_type == ::png::ColorType::Indexed { 8 } else { info.bit_depth as u8 };
        (self.src_channels, bits)
    }

    /// Bytes per output row: `width` (grey) or `3 * width` (RGB).
    pub fn row_len(&self) -> usize {
        match self.target {
            Target::Gray => self.width,
            Target::Rgb => 3 * self.width,
        }
    }

    /// Decodes the next row into `out` (`row_len()` bytes).
    pub fn read_row(&mut self, out: &mut [u8]) -> Result<(), CodecError> {
        let (target, ch, y) = (self.target, self.src_channels, self.next);
        let past_end = || CodecError::Unsupported(format!("row {y} is past the end of the image"));
        match (target, ch) {
            // Same layout: the decoder writes straight into `out` (one copy per row fewer).
            (Target::Gray, 1) | (Target::Rgb, 3) => {
                self.reader.read_row(out)?.ok_or_else(past_end)?;
            }
            _ => {
                let row = self.reader.next_row()?.ok_or_else(past_end)?;
                convert_row(target, ch, y, row.data(), out)?;
            }
        }
        self.next += 1;
        Ok(())
    }

    /// After the last row: reads to the end of the file, so a truncated PNG is refused.
    pub fn finish(mut self) -> Result<(), CodecError> {
        while self.reader.next_row()?.is_some() {}
        self.reader.finish()?;
        Ok(())
    }
}

/// One decoded row of `ch` channels into the target layout (grey checked to be grey).
fn convert_row(target: Target, ch: usize, y: usize, src: &[u8], out: &mut [u8]) -> Result<(), CodecError> {
    match target {
        Target::Gray => {
            let colour = if ch >= 3 { 3 } else { 1 };
            for (o, px) in out.iter_mut().zip(src.chunks_exact(ch)) {
                if px[..colour].iter().any(|&c| c != px[0]) {
                    return Err(CodecError::Unsupported(format!(
                        "colour mask (channels differ at row {y}; expected grey labels)"
                    )));
                }
                *o = px[0];
            }
        }
        Target::Rgb if ch >= 3 => {
            for (o, px) in out.chunks_exact_mut(3).zip(src.chunks_exact(ch)) {
                o.copy_from_slice(&px[..3]);
            }
        }
        Target::Rgb => {
            for (o, px) in out.chunks_exact_mut(3).zip(src.chunks_exact(ch)) {
                o.fill(px[0]);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::png::{write_raw, Compression};
    use std::io::Cursor;

    #[test]
    fn rows_match_the_whole_image_decoders() {
        let (w, h) = (37, 11);
        let grey: Vec<u8> = (0..w * h).map(|i| (i % 22) as u8).collect();
        let mut bytes = Vec::new();
        write_raw(&mut bytes, w, h, 1, &grey, Compression::Fast).unwrap();
        let mut r = RowReader::gray(Cursor::new(&bytes)).unwrap();
        let mut all = Vec::new();
        let mut row = vec![0; r.row_len()];
        for _ in 0..h {
            r.read_row(&mut row).unwrap();
            all.extend_from_slice(&row);
        }
        r.finish().unwrap();
        assert_eq!(all, grey);

        let rgba: Vec<u8> = (0..w * h * 4).map(|i| (i * 7 % 251) as u8).collect();
        let mut bytes = Vec::new();
        write_raw(&mut bytes, w, h, 4, &rgba, Compression::Fast).unwrap();
        let mut r = RowReader::rgb(Cursor::new(&bytes)).unwrap();
        let mut row = vec![0; r.row_len()];
        let mut all = Vec::new();
        for _ in 0..h {
            r.read_row(&mut row).unwrap();
            all.extend_from_slice(&row);
        }
        assert_eq!(all, crate::png::decode_rgb(&bytes).unwrap().data);
        assert!(r.read_row(&mut row).is_err());
    }

    #[test]
    fn truncated_files_fail_at_finish_or_before() {
        let grey = vec![3u8; 200 * 50];
        let mut bytes = Vec::new();
        write_raw(&mut bytes, 200, 50, 1, &grey, Compression::Fast).unwrap();
        let cut = &bytes[..bytes.len() - 20];
        let result = (|| {
            let mut r = RowReader::gray(Cursor::new(cut))?;
            let mut row = vec![0; 200];
            for _ in 0..50 {
                r.read_row(&mut row)?;
            }
            r.finish()
        })();
        assert!(result.is_err());
    }
}
