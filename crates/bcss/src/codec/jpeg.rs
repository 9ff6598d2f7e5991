//! JPEG through libjpeg-turbo's TurboJPEG API (default flags, `TJPF_RGB`): the decoder inside
//! Pillow, so the pixels match the original dataset's exactly.
//!
//! Why our own binding: the `turbojpeg` crate's current `-sys` needs libturbojpeg >= 3.0 or a
//! cmake build from source, while Debian 12 ships 2.1.5. The TurboJPEG 2 API used here (seven
//! functions) exists unchanged in 3.x, so this links against either. `#[link(name =
//! "turbojpeg")]` needs `libturbojpeg0-dev` (scripts/setup-system.sh).

use std::ffi::{c_char, c_int, c_uchar, c_ulong, c_void, CStr};

use super::{CodecError, SizeLimit};
use crate::model::RgbImage;

type TjHandle = *mut c_void;

const TJPF_RGB: c_int = 0;
const TJSAMP_444: c_int = 0;
/// Turn warnings (such as "premature end of JPEG data") into errors.
const TJFLAG_STOPONWARNING: c_int = 8192;

#[link(name = "turbojpeg")]
extern "C" {
    fn tjInitDecompress() -> TjHandle;
    fn tjInitCompress() -> TjHandle;
    fn tjDestroy(handle: TjHandle) -> c_int;
    fn tjGetErrorStr2(handle: TjHandle) -> *mut c_char;
    fn tjDecompressHeader3(
        handle: TjHandle,
        jpeg_buf: *const c_uchar,
        jpeg_size: c_ulong,
        width: *mut c_int,
        height: *mut c_int,
        jpeg_subsamp: *mut c_int,
        jpeg_colorspace: *mut c_int,
    ) -> c_int;
    fn tjDecompress2(
        handle: TjHandle,
        jpeg_buf: *const c_uchar,
        jpeg_size: c_ulong,
        dst_buf: *mut c_uchar,
        width: c_int,
        pitch: c_int,
        height: c_int,
        pixel_format: c_int,
        flags: c_int,
    ) -> c_int;
    fn tjCompress2(
        handle: TjHandle,
        src_buf: *const c_uchar,
        width: c_int,
        pitch: c_int,
        height: c_int,
        pixel_format: c_int,
        jpeg_buf: *mut *mut c_uchar,
        jpeg_size: *mut c_ulong,
        jpeg_subsamp: c_int,
        jpeg_qual: c_int,
        flags: c_int,
    ) -> c_int;
    fn tjFree(buffer: *mut c_uchar);
}

/// An owned TurboJPEG handle, destroyed on drop.
struct Handle(TjHandle);

impl Handle {
    fn decompressor() -> Result<Handle, CodecError> {
        // SAFETY: no preconditions; a null return is checked.
        let h = unsafe { tjInitDecompress() };
        if h.is_null() {
            return Err(CodecError::Jpeg("cannot initialise libjpeg-turbo".into()));
        }
        Ok(Handle(h))
    }

    fn compressor() -> Result<Handle, CodecError> {
        // SAFETY: as above.
        let h = unsafe { tjInitCompress() };
        if h.is_null() {
            return Err(CodecError::Jpeg("cannot initialise libjpeg-turbo".into()));
        }
        Ok(Handle(h))
    }

    fn error(&self) -> CodecError {
        // SAFETY: the handle is valid; the library returns a NUL-terminated static or per-handle
        // buffer, copied out before the handle can change.
        let msg = unsafe { CStr::from_ptr(tjGetErrorStr2(self.0)) };
        CodecError::Jpeg(msg.to_string_lossy().into_owned())
    }

    fn header(&self, bytes: &[u8]) -> Result<(usize, usize), CodecError> {
        let (mut w, mut h, mut sub, mut cs) = (0, 0, 0, 0);
        // SAFETY: the buffer pointer and length describe `bytes`; the out-pointers are valid.
        let rc = unsafe {
            tjDecompressHeader3(self.0, bytes.as_ptr(), bytes.len() as c_ulong, &mut w, &mut h, &mut sub, &mut cs)
        };
        if rc != 0 {
            return Err(self.error());
        }
        Ok((w as usize, h as usize))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tjInit* and is destroyed once.
        unsafe {
            tjDestroy(self.0);
        }
    }
}

/// Width and height from the JPEG header.
pub fn dimensions(bytes: &[u8]) -> Result<(usize, usize), CodecError> {
    Handle::decompressor()?.header(bytes)
}

/// Decodes to packed RGB. A truncated or corrupt stream is an error (warnings are fatal), so a
/// cut-off body never becomes an image with a grey bottom. At most [`super::MAX_PIXELS`].
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage, CodecError> {
    decode_rgb_within(bytes, SizeLimit::default())
}

/// [`decode_rgb`] of an image whose header (`tjDecompressHeader3`) must satisfy `limit`,
/// checked before the pixel buffer is allocated.
pub fn decode_rgb_within(bytes: &[u8], limit: SizeLimit) -> Result<RgbImage, CodecError> {
    if bytes.is_empty() {
        return Err(CodecError::Empty);
    }
    let handle = Handle::decompressor()?;
    let (width, height) = handle.header(bytes)?;
    limit.check(width, height)?;
    let mut data = vec![0u8; width * height * 3];
    // SAFETY: `data` holds exactly width * height * 3 bytes, the pitch is width * 3, and the
    // input pointer and length describe `bytes`.
    let rc = unsafe {
        tjDecompress2(
            handle.0,
            bytes.as_ptr(),
            bytes.len() as c_ulong,
            data.as_mut_ptr(),
            width as c_int,
            (width * 3) as c_int,
            height as c_int,
            TJPF_RGB,
            TJFLAG_STOPONWARNING,
        )
    };
    if rc != 0 {
        return Err(handle.error());
    }
    Ok(RgbImage { width, height, data })
}

/// Encodes RGB as a JPEG (quality 1-100, 4:4:4), as large_image does. Used by the test server.
pub fn encode_rgb(image: &RgbImage, quality: i32) -> Result<Vec<u8>, CodecError> {
    assert_eq!(image.data.len(), image.width * image.height * 3, "buffer does not match its size");
    let handle = Handle::compressor()?;
    let mut out: *mut c_uchar = std::ptr::null_mut();
    let mut size: c_ulong = 0;
    // SAFETY: the source buffer matches width, pitch and height; `out` is allocated by the
    // library and released with tjFree below.
    let rc = unsafe {
        tjCompress2(
            handle.0,
            image.data.as_ptr(),
            image.width as c_int,
            (image.width * 3) as c_int,
            image.height as c_int,
            TJPF_RGB,
            &mut out,
            &mut size,
            TJSAMP_444,
            quality as c_int,
            0,
        )
    };
    if rc != 0 {
        if !out.is_null() {
            // SAFETY: allocated by the library.
            unsafe { tjFree(out) };
        }
        return Err(handle.error());
    }
    // SAFETY: on success `out` points to `size` bytes owned by the library.
    let bytes = unsafe { std::slice::from_raw_parts(out, size as usize) }.to_vec();
    // SAFETY: allocated by the library, freed once.
    unsafe { tjFree(out) };
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: usize, h: usize) -> RgbImage {
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                data.extend([(x * 255 / w) as u8, (y * 255 / h) as u8, ((x + y) % 256) as u8]);
            }
        }
        RgbImage { width: w, height: h, data }
    }

    #[test]
    fn round_trip_is_close_and_sized() {
        let img = gradient(123, 45);
        let bytes = encode_rgb(&img, 95).unwrap();
        assert_eq!(dimensions(&bytes).unwrap(), (123, 45));
        let back = decode_rgb(&bytes).unwrap();
        assert_eq!((back.width, back.height), (123, 45));
        let max = img.data.iter().zip(&back.data).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(max <= 8, "q95 round trip differs by {max}");
    }

    #[test]
    fn truncated_or_corrupt_jpeg_is_an_error() {
        let bytes = encode_rgb(&gradient(64, 64), 90).unwrap();
        assert!(decode_rgb(&bytes[..bytes.len() / 2]).is_err());
        let mut bad = bytes.clone();
        for b in bad[bytes.len() / 2..bytes.len() / 2 + 200].iter_mut() {
            *b = 0xFF;
        }
        assert!(decode_rgb(&bad).is_err() || decode_rgb(&bad).unwrap().data != decode_rgb(&bytes).unwrap().data);
    }

    /// A JPEG whose SOF0 marker claims 65500 x 65500 pixels: 12.9 GB of RGB.
    fn claiming_65500_square() -> Vec<u8> {
        let mut bytes = encode_rgb(&gradient(16, 16), 90).unwrap();
        let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline JPEG");
        // FF C0, length (2), precision (1), height (2), width (2).
        bytes[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xDC, 0xFF, 0xDC]);
        bytes
    }

    #[test]
    fn the_header_is_checked_before_decoding() {
        let bytes = encode_rgb(&gradient(20, 10), 90).unwrap();
        assert_eq!(decode_rgb_within(&bytes, SizeLimit::Exactly { width: 20, height: 10 }).unwrap().width, 20);
        let err = decode_rgb_within(&bytes, SizeLimit::Exactly { width: 10, height: 20 }).unwrap_err();
        assert!(matches!(err, CodecError::WrongSize { width: 20, height: 10, want_w: 10, want_h: 20 }), "{err}");
        assert!(matches!(decode_rgb_within(&bytes, SizeLimit::AtMost(199)), Err(CodecError::TooLarge { .. })));
        let bomb = claiming_65500_square();
        assert_eq!(dimensions(&bomb).unwrap(), (65500, 65500));
        let err = decode_rgb(&bomb).unwrap_err();
        assert!(matches!(err, CodecError::TooLarge { width: 65500, height: 65500, .. }), "{err}");
    }
}
