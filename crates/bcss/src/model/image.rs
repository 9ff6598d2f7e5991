//! Images in memory: 8-bit pixels, row-major, no padding.

/// An 8-bit RGB image, row-major, 3 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

/// An 8-bit single-channel image (a label mask), row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` bytes.
    pub data: Vec<u8>,
}

/// The largest image bcss holds in memory: 2^31 pixels (6 GiB as RGB). The largest BCSS ROI at
/// base resolution is about 0.2 gigapixels, so anything bigger is a wrong header, a wrong
/// resolution or hostile input. Decoders refuse it from the header, before allocating, and the
/// rasteriser refuses a mask of that size; the pipeline plans no output above it
/// (`command::pipeline::MAX_OUTPUT_PIXELS` is the same number). Without this bound a 69-byte
/// PNG whose header claims 60000 x 2147483647 pixels ends the process on a failed allocation.
pub const MAX_PIXELS: u64 = 1 << 31;
