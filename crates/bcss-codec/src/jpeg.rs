//! JPEG through libjpeg-turbo's TurboJPEG API (default flags, `TJPF_RGB`): the decoder inside
//! Pillow, so the pixels match the original dataset's exactly.
//!
//! Why our own binding: the `turbojpeg` crate's current `-sys` needs libturbojpeg >= 3.0 or a
//! cmake build from source, while Debian 12 ships 2.1.5. The TurboJPEG 2 API used here (seven
//! functions) exists unchanged in 3.x, so this links against either. `#[link(name =
//! "turbojpeg")]` needs `libturbojpeg0-dev` (scripts/setup-system.sh; `build.rs` finds it with
//! pkg-config and says what to install when it is missing).
//!
//! This is the library's one module with `unsafe` code (`#![deny(unsafe_code)]` in `lib.rs`,
//! allowed here): every block has a SAFETY comment, and every size crosses into C through
//! `to_c` and back through `from_c`, checked.

use std::ffi::{c_char, c_int, c_long, c_uchar, c_ulong, c_void, CStr};
use std::io::Read;
use std::ptr::NonNull;

use super::{CodecError, SizeLimit};
use bcss_model::RgbImage;

type TjHandle = *mut c_void;

/// `v` as the C integer type libjpeg-turbo takes, or an error naming what does not fit: every
/// size crosses into C through here, so none is truncated.
fn to_c<T: TryFrom<usize>>(v: usize, what: &str) -> Result<T, CodecError> {
    T::try_from(v).map_err(|_| CodecError::Jpeg(format!("{what} of {v} is beyond libjpeg-turbo's limits")))
}

/// A size libjpeg-turbo returned, as `usize` (a negative one is an error, never wrapped).
fn from_c<T: TryInto<usize> + Copy + std::fmt::Display>(v: T, what: &str) -> Result<usize, CodecError> {
    v.try_into().map_err(|_| CodecError::Jpeg(format!("libjpeg-turbo returned a {what} of {v}")))
}

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
        let len: c_ulong = to_c(bytes.len(), "a JPEG size")?;
        // SAFETY: the buffer pointer and length describe `bytes`; the out-pointers are valid.
        let rc = unsafe { tjDecompressHeader3(self.0, bytes.as_ptr(), len, &mut w, &mut h, &mut sub, &mut cs) };
        if rc != 0 {
            return Err(self.error());
        }
        Ok((from_c(w, "width")?, from_c(h, "height")?))
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
    let (len, c_width, pitch, c_height): (c_ulong, c_int, c_int, c_int) = (
        to_c(bytes.len(), "a JPEG size")?,
        to_c(width, "a width")?,
        to_c(width * 3, "a row")?,
        to_c(height, "a height")?,
    );
    let mut data = vec![0u8; width * height * 3];
    // SAFETY: `data` holds exactly width * height * 3 bytes, the pitch is width * 3, and the
    // input pointer and length describe `bytes`.
    let rc = unsafe {
        tjDecompress2(
            handle.0,
            bytes.as_ptr(),
            len,
            data.as_mut_ptr(),
            c_width,
            pitch,
            c_height,
            TJPF_RGB,
            TJFLAG_STOPONWARNING,
        )
    };
    if rc != 0 {
        return Err(handle.error());
    }
    Ok(RgbImage { width, height, data })
}

#[repr(C)]
struct RawRows {
    _private: [u8; 0],
}

/// `csrc/jpeg_rows.c`'s reader: up to `len` bytes into `buf`; the count, 0 at the end, -1 on an
/// error.
type ReadFn = unsafe extern "C" fn(ctx: *mut c_void, buf: *mut c_uchar, len: c_ulong) -> c_long;

// csrc/jpeg_rows.c, built by build.rs over libjpeg-turbo's libjpeg.
extern "C" {
    fn bcss_jpeg_new() -> *mut RawRows;
    fn bcss_jpeg_message(j: *const RawRows) -> *const c_char;
    fn bcss_jpeg_read_failed(j: *const RawRows) -> c_int;
    fn bcss_jpeg_header(j: *mut RawRows, read: ReadFn, ctx: *mut c_void, w: *mut c_int, h: *mut c_int) -> c_int;
    fn bcss_jpeg_start(j: *mut RawRows) -> c_int;
    fn bcss_jpeg_rows(j: *mut RawRows, out: *mut c_uchar, max_rows: c_int) -> c_int;
    fn bcss_jpeg_finish(j: *mut RawRows) -> c_int;
    fn bcss_jpeg_free(j: *mut RawRows);
}

/// The data of a [`RowDecoder`], where the C side reads it: the reader, and what went wrong in
/// it (kept here, since only a status crosses into C).
struct Source<R> {
    reader: R,
    /// Bytes read so far.
    got: u64,
    error: Option<std::io::Error>,
    panic: Option<Box<dyn std::any::Any + Send>>,
}

/// The [`ReadFn`] for a `Source<R>`. A panic of the reader is caught here (it must not unwind
/// into C) and resumed by the decoder once C has returned.
unsafe extern "C" fn read_source<R: Read>(ctx: *mut c_void, buf: *mut c_uchar, len: c_ulong) -> c_long {
    // SAFETY: `ctx` is the decoder's boxed `Source<R>` (set in `RowDecoder::new`), alive while
    // the decoder is, and C calls this only from inside a call the decoder makes, so nothing
    // else borrows it now.
    let source = unsafe { &mut *ctx.cast::<Source<R>>() };
    let len = usize::try_from(len).unwrap_or(usize::MAX).min(1 << 20);
    // SAFETY: C passes its input buffer of at least `len` bytes, unused while this runs.
    let buf = unsafe { std::slice::from_raw_parts_mut(buf, len) };
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loop {
        match source.reader.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    }));
    match read {
        Ok(Ok(n)) => {
            source.got += n as u64;
            c_long::try_from(n).unwrap_or(-1)
        }
        Ok(Err(e)) => {
            source.error = Some(e);
            -1
        }
        Err(panic) => {
            source.panic = Some(panic);
            -1
        }
    }
}

/// A JPEG decoded a few rows at a time from a reader: the same library and settings as
/// [`decode_rgb`] (so the same pixels, Pillow's), through libjpeg's `jpeg_read_scanlines`
/// (`csrc/jpeg_rows.c`). Neither the image nor its encoded data is ever held whole: an HTTP
/// body is decoded while it arrives, 64 KiB read at a time. Warnings are errors, as in
/// [`decode_rgb`]; data that ends early is an error, and so is a failed read
/// ([`CodecError::Read`], with the reader's own error).
///
/// ```
/// # let img = bcss_codec::RgbImage { width: 40, height: 30, data: vec![128; 3600] };
/// # let bytes = bcss_codec::jpeg::encode_rgb(&img, 90).unwrap();
/// use bcss_codec::{jpeg::RowDecoder, SizeLimit};
///
/// let mut rows = RowDecoder::new(&bytes[..], SizeLimit::default()).unwrap();
/// let mut band = vec![0u8; rows.width() * 3 * 8];
/// let mut all = Vec::new();
/// while let n @ 1.. = rows.read_rows(&mut band).unwrap() {
///     all.extend_from_slice(&band[..n * rows.width() * 3]);
/// }
/// rows.finish().unwrap();
/// assert_eq!(all, bcss_codec::jpeg::decode_rgb(&bytes).unwrap().data);
/// ```
pub struct RowDecoder<R: Read> {
    raw: *mut RawRows,
    /// Where C reads from: a `Box::into_raw` pointer, so the address C keeps stays valid and
    /// Rust reaches the source only through this pointer (no `Box` is moved while C writes
    /// through it). Freed after `raw`.
    source: NonNull<Source<R>>,
    width: usize,
    height: usize,
    done: usize,
    /// A call failed: libjpeg allows nothing but freeing after that, so later calls are refused.
    failed: bool,
}

impl<R: Read> RowDecoder<R> {
    /// Reads the header from `reader`, checks its size against `limit` and starts decoding.
    pub fn new(reader: R, limit: SizeLimit) -> Result<RowDecoder<R>, CodecError> {
        // SAFETY: no preconditions; null (out of memory) is checked.
        let raw = unsafe { bcss_jpeg_new() };
        if raw.is_null() {
            return Err(CodecError::Jpeg("cannot initialise libjpeg".into()));
        }
        let source = NonNull::from(Box::leak(Box::new(Source { reader, got: 0, error: None, panic: None })));
        let mut dec = RowDecoder { raw, source, width: 0, height: 0, done: 0, failed: false };
        let (mut w, mut h) = (0, 0);
        let ctx: *mut Source<R> = dec.source.as_ptr();
        // SAFETY: `raw` is live; `ctx` is the boxed source, which lives (at this address) until
        // after `raw` is freed, and `read_source::<R>` is its reader; out-pointers are valid.
        if unsafe { bcss_jpeg_header(raw, read_source::<R>, ctx.cast(), &mut w, &mut h) } != 0 {
            return Err(dec.error_or_empty());
        }
        let (w, h) = (from_c(w, "width")?, from_c(h, "height")?);
        limit.check(w, h)?;
        // SAFETY: the header was read.
        if unsafe { bcss_jpeg_start(raw) } != 0 {
            return Err(dec.error());
        }
        (dec.width, dec.height) = (w, h);
        Ok(dec)
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Decodes the next rows into `out` (as many whole RGB rows as fit); returns how many, 0
    /// after the last.
    pub fn read_rows(&mut self, out: &mut [u8]) -> Result<usize, CodecError> {
        if self.failed {
            return Err(CodecError::Jpeg("the decoder already failed".into()));
        }
        let fit = (out.len() / (self.width * 3)).min(self.height - self.done);
        if fit == 0 {
            return Ok(0);
        }
        let rows: c_int = to_c(fit, "a count of rows")?;
        // SAFETY: `out` holds at least `fit` rows of width * 3 bytes; the source is live.
        let n = unsafe { bcss_jpeg_rows(self.raw, out.as_mut_ptr(), rows) };
        if n < 0 {
            return Err(self.error());
        }
        let n = from_c(n, "count of rows")?;
        self.done += n;
        Ok(n)
    }

    /// Ends decoding after the last row; an error if rows are left or the data ends badly.
    /// The reader may have been read past the JPEG's end marker (libjpeg reads ahead up to
    /// 64 KiB); a caller that wants the rest drains it itself.
    pub fn finish(mut self) -> Result<(), CodecError> {
        if self.failed {
            return Err(CodecError::Jpeg("the decoder already failed".into()));
        }
        if self.done != self.height {
            return Err(CodecError::Jpeg(format!("{} of {} rows were read", self.done, self.height)));
        }
        // SAFETY: every row was read.
        if unsafe { bcss_jpeg_finish(self.raw) } != 0 {
            return Err(self.error());
        }
        Ok(())
    }

    /// The error of a failed call: the reader's own when it failed (a panic in it resumes
    /// here), else libjpeg's message.
    fn error(&mut self) -> CodecError {
        self.failed = true;
        // SAFETY: the source is live (freed only in `drop`) and C is not running.
        let source = unsafe { self.source.as_mut() };
        if let Some(panic) = source.panic.take() {
            std::panic::resume_unwind(panic);
        }
        // SAFETY: `raw` is live.
        if unsafe { bcss_jpeg_read_failed(self.raw) } != 0 {
            if let Some(e) = source.error.take() {
                return CodecError::Read(e);
            }
        }
        // SAFETY: the message buffer is NUL-terminated (calloc'd, then formatted by libjpeg).
        let msg = unsafe { CStr::from_ptr(bcss_jpeg_message(self.raw)) };
        CodecError::Jpeg(msg.to_string_lossy().into_owned())
    }

    /// As [`Self::error`], but data that ended before its first byte is [`CodecError::Empty`].
    fn error_or_empty(&mut self) -> CodecError {
        match self.error() {
            // SAFETY: as in `error`.
            CodecError::Jpeg(_) if unsafe { self.source.as_ref() }.got == 0 => CodecError::Empty,
            e => e,
        }
    }
}

impl<R: Read> Drop for RowDecoder<R> {
    fn drop(&mut self) {
        // SAFETY: created by bcss_jpeg_new, freed once, before the source it reads from.
        unsafe { bcss_jpeg_free(self.raw) };
        // SAFETY: made by `Box::leak` in `new`, freed once, and C holds it no longer.
        drop(unsafe { Box::from_raw(self.source.as_ptr()) });
    }
}

/// Encodes RGB as a JPEG (quality 1-100, 4:4:4), as large_image does. Used by the test server.
pub fn encode_rgb(image: &RgbImage, quality: i32) -> Result<Vec<u8>, CodecError> {
    if image.data.len() != image.width * image.height * 3 {
        return Err(CodecError::Jpeg(format!(
            "an RGB image of {}x{} needs {} bytes, not {}",
            image.width,
            image.height,
            image.width * image.height * 3,
            image.data.len()
        )));
    }
    if !(1..=100).contains(&quality) {
        return Err(CodecError::Jpeg(format!("JPEG quality {quality} is not between 1 and 100")));
    }
    let (c_width, pitch, c_height): (c_int, c_int, c_int) =
        (to_c(image.width, "a width")?, to_c(image.width * 3, "a row")?, to_c(image.height, "a height")?);
    let handle = Handle::compressor()?;
    let mut out: *mut c_uchar = std::ptr::null_mut();
    let mut size: c_ulong = 0;
    // SAFETY: the source buffer matches width, pitch and height; `out` is allocated by the
    // library and released with tjFree below.
    let rc = unsafe {
        tjCompress2(
            handle.0,
            image.data.as_ptr(),
            c_width,
            pitch,
            c_height,
            TJPF_RGB,
            &mut out,
            &mut size,
            TJSAMP_444,
            quality,
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
    let size = from_c(size, "JPEG size");
    // SAFETY: on success `out` points to `size` bytes owned by the library (copied out only when
    // the size fits a usize, which it always does on the platforms bcss builds for).
    let bytes = size.map(|size| unsafe { std::slice::from_raw_parts(out, size) }.to_vec());
    // SAFETY: allocated by the library, freed once.
    unsafe { tjFree(out) };
    bytes
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

    /// Sizes and settings libjpeg-turbo cannot take are errors before any C call, never a
    /// panic or a truncated size.
    #[test]
    fn bad_encoder_inputs_are_errors() {
        let short = RgbImage { width: 4, height: 4, data: vec![0; 10] };
        let err = encode_rgb(&short, 90).unwrap_err().to_string();
        assert_eq!(err, "invalid JPEG: an RGB image of 4x4 needs 48 bytes, not 10");
        let err = encode_rgb(&gradient(4, 4), 0).unwrap_err().to_string();
        assert_eq!(err, "invalid JPEG: JPEG quality 0 is not between 1 and 100");
        let wide = RgbImage { width: 1 << 31, height: 0, data: Vec::new() };
        let err = encode_rgb(&wide, 90).unwrap_err().to_string();
        assert_eq!(err, "invalid JPEG: a width of 2147483648 is beyond libjpeg-turbo's limits");
        assert_eq!(to_c::<c_int>(7, "x").unwrap(), 7);
        assert!(from_c(-1i32, "width").is_err());
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
    fn rows_equal_the_whole_decoder_and_bad_data_fails() {
        let bytes = encode_rgb(&gradient(301, 77), 85).unwrap();
        let whole = decode_rgb(&bytes).unwrap().data;
        let mut rows = RowDecoder::new(&bytes[..], SizeLimit::Exactly { width: 301, height: 77 }).unwrap();
        let mut band = vec![0u8; 301 * 3 * 5 + 17];
        let mut all = Vec::new();
        while let n @ 1.. = rows.read_rows(&mut band).unwrap() {
            all.extend_from_slice(&band[..n * 301 * 3]);
        }
        rows.finish().unwrap();
        assert!(all == whole, "row decoding gives other pixels");
        let cut = &bytes[..bytes.len() * 2 / 3];
        let mut rows = RowDecoder::new(cut, SizeLimit::default()).unwrap();
        let mut failed = false;
        for _ in 0..100 {
            match rows.read_rows(&mut band) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    assert!(e.to_string().contains("Premature end"), "{e}");
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed, "a cut JPEG fails while its rows are read");
        let bomb = claiming_65500_square();
        assert!(matches!(RowDecoder::new(&bomb[..], SizeLimit::default()), Err(CodecError::TooLarge { .. })));
        assert!(matches!(RowDecoder::new(&b"not a jpeg"[..], SizeLimit::default()), Err(CodecError::Jpeg(_))));
        assert!(RowDecoder::new(&bytes[..], SizeLimit::Exactly { width: 300, height: 77 }).is_err());
    }

    /// A reader that gives at most `step` bytes per read and fails after `fail_at` bytes.
    struct Trickle<'a> {
        data: &'a [u8],
        at: usize,
        step: usize,
        fail_at: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at >= self.fail_at {
                return Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "the peer hung up"));
            }
            let n = buf.len().min(self.step).min(self.data.len() - self.at).min(self.fail_at - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn decode_all<R: Read>(mut rows: RowDecoder<R>) -> Result<Vec<u8>, CodecError> {
        let mut band = vec![0u8; rows.width() * 3 * 3];
        let mut all = Vec::new();
        while let n @ 1.. = rows.read_rows(&mut band)? {
            all.extend_from_slice(&band[..n * rows.width() * 3]);
        }
        rows.finish()?;
        Ok(all)
    }

    #[test]
    fn a_reader_in_small_pieces_gives_the_same_pixels_and_its_errors_are_kept() {
        let bytes = encode_rgb(&gradient(97, 61), 92).unwrap();
        let whole = decode_rgb(&bytes).unwrap().data;
        for step in [1, 7, 4096] {
            let reader = Trickle { data: &bytes, at: 0, step, fail_at: usize::MAX };
            let rows = RowDecoder::new(reader, SizeLimit::Exactly { width: 97, height: 61 }).unwrap();
            assert!(decode_all(rows).unwrap() == whole, "pieces of {step} bytes give other pixels");
        }
        // A reader that breaks half-way: its own error comes back, not libjpeg's words.
        let mut reader = Trickle { data: &bytes, at: 0, step: 100, fail_at: bytes.len() / 2 };
        let rows = RowDecoder::new(&mut reader, SizeLimit::default()).unwrap();
        match decode_all(rows) {
            Err(CodecError::Read(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
            other => panic!("a broken reader gave {other:?}"),
        }
        // Broken before the header ends, and no data at all.
        let reader = Trickle { data: &bytes, at: 0, step: 5, fail_at: 10 };
        assert!(matches!(RowDecoder::new(reader, SizeLimit::default()), Err(CodecError::Read(_))));
        assert!(matches!(RowDecoder::new(&[][..], SizeLimit::default()), Err(CodecError::Empty)));
        // Bytes after the end marker are not the decoder's business.
        let mut data = bytes.clone();
        data.extend_from_slice(b"trailing");
        assert!(decode_all(RowDecoder::new(&data[..], SizeLimit::default()).unwrap()).unwrap() == whole);
    }

    #[test]
    fn a_progressive_jpeg_too_large_to_buffer_is_refused_before_it_is_allocated() {
        // A progressive (SOF2) header claiming 65500 x 32768 pixels (under MAX_PIXELS), then a
        // DC scan of zero bytes: libjpeg would keep every coefficient, about 13 GB.
        let mut data = vec![0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00];
        data.extend([1u8; 64]);
        data.extend([0xFF, 0xC2, 0x00, 0x11, 0x08, 0x80, 0x00, 0xFF, 0xDC, 0x03]);
        data.extend([1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]);
        data.extend([0xFF, 0xC4, 0x00, 0x14, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00]);
        data.extend([0xFF, 0xDA, 0x00, 0x0C, 0x03, 1, 0x00, 2, 0x00, 3, 0x00, 0x00, 0x00, 0x00]);
        data.extend(vec![0u8; 1 << 16]);
        let err = RowDecoder::new(&data[..], SizeLimit::default()).map(|_| ()).unwrap_err();
        assert_eq!(
            err.to_string(),
            CodecError::Jpeg(
                "decoding this JPEG would need more than 256 MB (a progressive JPEG keeps the whole image)".into()
            )
            .to_string()
        );
    }

    #[test]
    fn a_failed_decoder_refuses_to_go_on() {
        let bytes = encode_rgb(&gradient(64, 64), 90).unwrap();
        let cut = &bytes[..bytes.len() / 2];
        let mut rows = RowDecoder::new(cut, SizeLimit::default()).unwrap();
        let mut band = vec![0u8; 64 * 3 * 64];
        let first = rows.read_rows(&mut band).unwrap_err();
        assert!(matches!(first, CodecError::Jpeg(ref m) if m.contains("Premature end")), "{first}");
        let again = rows.read_rows(&mut band).unwrap_err();
        assert_eq!(again.to_string(), CodecError::Jpeg("the decoder already failed".into()).to_string());
        assert!(matches!(rows.finish(), Err(CodecError::Jpeg(m)) if m == "the decoder already failed"));
    }

    #[test]
    fn a_panicking_reader_panics_in_rust_not_in_c() {
        struct Panics;
        impl Read for Panics {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                panic!("reader panicked");
            }
        }
        let caught = std::panic::catch_unwind(|| RowDecoder::new(Panics, SizeLimit::default()).map(|_| ()));
        let payload = caught.expect_err("the panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"reader panicked"));
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
