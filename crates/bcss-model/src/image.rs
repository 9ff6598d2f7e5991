//! Images in memory: 8-bit pixels, row-major, no padding.
//!
//! One type, [`Image`], generic over its number of channels: [`RgbImage`] (`Image<3>`) for
//! pictures (region pixels, overlays, thumbnails, charts, legends) and [`GrayImage`]
//! (`Image<1>`) for label masks. The channel count is a const parameter rather than a field, so
//! a signature says which kind it takes (a mask cannot be passed where a picture is wanted, and
//! no function checks a channel count at run time), and pixel loops step by a constant
//! (`chunks_exact(C)`) the compiler unrolls. The fields are public: decoders and the row-streaming
//! code fill `data` directly, and every maker keeps `data.len() == width * height * C`.
//!
//! Drawing on a picture (filled and outlined rectangles, copies, bitmap text) is
//! `transform::canvas`; text in a real font is `render::text`.
//!
//! Pixels change representation only at the edges: the codecs (PNG, JPEG), numpy arrays in the
//! Python extension, and the test server's response bodies.

/// An 8-bit image of `C` channels, row-major, no padding: pixel `(x, y)` is
/// `data[(y * width + x) * C..][..C]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image<const C: usize> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * C` bytes.
    pub data: Vec<u8>,
}

/// An 8-bit RGB image, 3 bytes per pixel.
pub type RgbImage = Image<3>;

/// An 8-bit single-channel image (a label mask), 1 byte per pixel.
pub type GrayImage = Image<1>;

impl<const C: usize> Image<C> {
    /// Bytes per pixel.
    pub const CHANNELS: usize = C;

    /// An image of `width` x `height` pixels, every one `pixel`.
    pub fn filled(width: usize, height: usize, pixel: [u8; C]) -> Image<C> {
        Image { width, height, data: pixel.repeat(width * height) }
    }

    /// The pixel at `(x, y)`.
    pub fn pixel(&self, x: usize, y: usize) -> [u8; C] {
        let i = (y * self.width + x) * C;
        self.data[i..i + C].try_into().expect("a pixel is C bytes")
    }

    /// Row `y`: `width * C` bytes.
    pub fn row(&self, y: usize) -> &[u8] {
        let n = self.width * C;
        &self.data[y * n..(y + 1) * n]
    }
}

/// The largest image bcss holds in memory: 2^31 pixels (6 GiB as RGB). The largest BCSS ROI at
/// base resolution is about 0.2 gigapixels, so anything bigger is a wrong header, a wrong
/// resolution or hostile input. Decoders refuse it from the header, before allocating, and the
/// rasteriser refuses a mask of that size; the ROI pipeline plans no output above it. Without this bound a 69-byte
/// PNG whose header claims 60000 x 2147483647 pixels ends the process on a failed allocation.
pub const MAX_PIXELS: u64 = 1 << 31;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_and_rows_are_row_major() {
        let mut img = RgbImage::filled(3, 2, [1, 2, 3]);
        assert_eq!(img.data.len(), 18);
        img.data[(3 + 2) * 3] = 9; // (2, 1), red
        assert_eq!(img.pixel(2, 1), [9, 2, 3]);
        assert_eq!(img.pixel(0, 0), [1, 2, 3]);
        assert_eq!(img.row(1), &[1, 2, 3, 1, 2, 3, 9, 2, 3]);
        let mask = GrayImage::filled(2, 2, [7]);
        assert_eq!((mask.data, GrayImage::CHANNELS), (vec![7; 4], 1));
    }
}
