//! Pillow's separable resampling of 8-bit RGB, bit for bit.
//!
//! large_image answers a region request whose output size differs from the region read by one
//! `PIL.Image.resize`: BICUBIC when the output is wider than the region (enlarging), LANCZOS
//! otherwise ([`filter_for`]). To extract the same pixels from local slides bcss repeats Pillow's
//! arithmetic exactly (`src/libImaging/Resample.c`, spec section 2.4):
//!
//! 1. Per axis (`precompute_coeffs`): `scale = in / out`, `filterscale = max(scale, 1)`,
//!    `support = filter_support * filterscale` (BICUBIC 2, LANCZOS 3). Output index `x` has
//!    `center = (x + 0.5) * scale`, window `[trunc(center - support + 0.5),
//!    trunc(center + support + 0.5))` clamped to the input, and weight
//!    `filter((i - center + 0.5) * (1 / filterscale))` for source index `i`, normalised to sum 1
//!    in f64.
//! 2. The weights become fixed point with 22 fractional bits, rounded half away from zero
//!    (`Coefficients`).
//! 3. The horizontal pass runs first, only over the source rows the vertical pass will use, and
//!    stores an 8-bit intermediate; then the vertical pass. Each sum starts at `2^21` (the
//!    rounding half), is shifted right by 22 and clipped to `0..=255`. An axis whose size does
//!    not change is not resampled at all.
//!
//! Worked example (the unit test `worked_example` checks it): shrinking 4 pixels to 2 with
//! LANCZOS gives `scale = 2`, `support = 6`. Output 0 has `center = 1`, window
//! `[trunc(-4.5), trunc(7.5)) = [0, 4)` after clamping, raw weights
//! `lanczos((i - 0.5) / 2)` for `i = 0..4` = `[0.8901, 0.8901, 0.2702, -0.1329]`, normalised
//! `[0.4642, 0.4642, 0.1409, -0.0693]`, fixed point `[1946964, 1946964, 591023, -290647]`
//! (sum exactly 2^22). The row `[10, 20, 30, 40]` then gives
//! `(2^21 + 10*1946964 + 20*1946964 + 30*591023 - 40*290647) >> 22 = 66610882 >> 22 = 15`,
//! which is what Pillow 13's `Image.resize((2, 1), Image.LANCZOS)` returns.
//!
//! [`Resampler`] takes the source rows top to bottom as they are read (strip by strip) and hands
//! out each output row as soon as the source rows under its vertical support have arrived, so it
//! holds a rolling window of horizontally resampled rows (the support of one output row plus a
//! strip: 13 rows for a 2x LANCZOS shrink, 5 for a BICUBIC enlarge), never the whole
//! intermediate nor the output. The order of the arithmetic is Pillow's whatever the strips, so
//! the pixels are the same as a whole-image resize. Both passes split their rows across rayon's
//! threads (each output row is independent), so one large ROI uses every core.
//!
//! Invariant: pure arithmetic, no I/O.

use std::f64::consts::PI;

use rayon::prelude::*;

use bcss_model::RgbImage;

/// Fixed-point fractional bits of Pillow's 8-bit path (`PRECISION_BITS = 32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;

/// A Pillow resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Filter {
    /// Keys' cubic convolution with `a = -0.5` (`Image.BICUBIC`), support 2.
    Bicubic,
    /// `sinc(x) * sinc(x / 3)` for `|x| < 3` (`Image.LANCZOS`), support 3.
    Lanczos,
}

impl Filter {
    /// The filter's support radius at scale 1.
    pub fn support(self) -> f64 {
        match self {
            Filter::Bicubic => 2.0,
            Filter::Lanczos => 3.0,
        }
    }

    /// The kernel value at `x`, with Pillow's exact expressions.
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Filter::Bicubic => {
                const A: f64 = -0.5;
                let x = if x < 0.0 { -x } else { x };
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * PI;
    x.sin() / x
}

/// The filter large_image uses for a region resized from `region_width` to `out_width` pixels
/// wide: BICUBIC when enlarging (`out_width > region_width`), LANCZOS otherwise. Only the widths
/// decide, as in `getRegion`.
pub fn filter_for(region_width: usize, out_width: usize) -> Filter {
    if out_width > region_width {
        Filter::Bicubic
    } else {
        Filter::Lanczos
    }
}

/// Resampling weights of one axis in f64, as `precompute_coeffs` leaves them (normalised).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FloatCoefficients {
    /// Weights per output index (row-major, `ksize` each; unused tail entries are 0).
    pub ksize: usize,
    /// Per output index: first source index and number of source indices.
    pub bounds: Vec<(usize, usize)>,
    /// `bounds.len() * ksize` weights.
    pub weights: Vec<f64>,
}

/// Pillow's `precompute_coeffs` for the whole input (`box = (0, in_size)`).
pub(crate) fn precompute_coeffs(in_size: usize, out_size: usize, filter: Filter) -> FloatCoefficients {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = if scale < 1.0 { 1.0 } else { scale };
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut weights = vec![0.0; out_size * ksize];
    let mut bounds = Vec::with_capacity(out_size);
    let ss = 1.0 / filterscale;
    for xx in 0..out_size {
        let center = 0.0 + (xx as f64 + 0.5) * scale;
        // C casts truncate toward zero.
        let xmin = ((center - support + 0.5) as i64).max(0);
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
        let count = (xmax - xmin).max(0) as usize;
        let k = &mut weights[xx * ksize..(xx + 1) * ksize];
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(count) {
            let w = filter.eval(((x as i64 + xmin) as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        if ww != 0.0 {
            for kx in k.iter_mut().take(count) {
                *kx /= ww;
            }
        }
        bounds.push((xmin as usize, count));
    }
    FloatCoefficients { ksize, bounds, weights }
}

/// Resampling weights of one axis in Pillow's 22-bit fixed point (`normalize_coeffs_8bpc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Coefficients {
    /// Weights per output index.
    pub ksize: usize,
    /// Per output index: first source index and number of source indices.
    pub bounds: Vec<(usize, usize)>,
    /// `bounds.len() * ksize` fixed-point weights.
    pub weights: Vec<i32>,
}

impl Coefficients {
    /// The fixed-point weights of resampling `in_size` to `out_size` with `filter`.
    pub fn new(in_size: usize, out_size: usize, filter: Filter) -> Coefficients {
        let f = precompute_coeffs(in_size, out_size, filter);
        let one = f64::from(1u32 << PRECISION_BITS);
        let weights =
            f.weights.iter().map(|&w| if w < 0.0 { (-0.5 + w * one) as i32 } else { (0.5 + w * one) as i32 }).collect();
        Coefficients { ksize: f.ksize, bounds: f.bounds, weights }
    }

    fn kernel(&self, i: usize) -> (usize, &[i32]) {
        let (start, count) = self.bounds[i];
        (start, &self.weights[i * self.ksize..i * self.ksize + count])
    }
}

#[inline]
fn clip8(v: i32) -> u8 {
    if v >= (1 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Resizes an RGB image exactly like Pillow's `Image.resize((out_w, out_h), filter)` on a mode
/// `RGB` image, all at once (the pipeline streams through `Resampler` instead).
pub fn resize_rgb(src: &RgbImage, out_w: usize, out_h: usize, filter: Filter) -> RgbImage {
    let (width, height) = (src.width, src.height);
    assert_eq!(src.data.len(), width * height * 3, "source is not {width}x{height} RGB");
    let mut r = Resampler::new(width, height, out_w, out_h, filter);
    let mut out = Vec::with_capacity(out_w * out_h * 3);
    let mut band = Vec::new();
    r.push_horizontal(0, r.horizontal(0, &src.data).into_owned());
    while r.take_ready(&mut band) > 0 {
        out.extend_from_slice(&band);
    }
    debug_assert!(r.is_done(), "every output row was made");
    RgbImage { width: out_w, height: out_h, data: out }
}

/// The source rows a resize of `in_h` rows to `out_h` depends on, without building a resampler
/// (planning which slide tiles a region needs).
pub fn rows_needed(in_h: usize, out_h: usize, filter: Filter) -> std::ops::Range<usize> {
    let vertical = (out_h != in_h).then(|| Coefficients::new(in_h, out_h, filter));
    let (first, last) = rows_of(vertical.as_ref(), in_h, out_h);
    first..last
}

fn rows_of(vertical: Option<&Coefficients>, in_h: usize, out_h: usize) -> (usize, usize) {
    match vertical {
        Some(v) if out_h > 0 => {
            let (last_start, last_count) = v.bounds[out_h - 1];
            (v.bounds[0].0, last_start + last_count)
        }
        _ => (0, in_h),
    }
}

/// Output rows made per [`Resampler::take_ready`] call at most: a few MB for the widest ROI.
const OUT_BAND_ROWS: usize = 64;

/// A Pillow resize fed with source rows top to bottom that hands out output rows as soon as
/// their support is complete (see the module docs).
///
/// Two steps, so the work can be spread: [`Resampler::horizontal`] (`&self`, any thread, any
/// order) resamples a strip of source rows across; [`Resampler::push_horizontal`] takes those
/// strips in source order into a rolling window, and [`Resampler::take_ready`] makes the
/// output rows whose vertical support is in the window (in parallel on rayon), then drops the
/// window rows no later output row uses. The window holds the vertical support of one output
/// row plus the strip last pushed, never the whole intermediate: memory does not grow with the
/// image's height. Rows outside [`Resampler::rows_needed`] are ignored.
#[derive(Debug)]
pub struct Resampler {
    in_w: usize,
    out_w: usize,
    out_h: usize,
    horizontal: Option<Coefficients>,
    vertical: Option<Coefficients>,
    /// Source rows used: `first_row..last_row`.
    first_row: usize,
    last_row: usize,
    /// Width of the intermediate rows (out_w after a horizontal pass, else in_w).
    temp_w: usize,
    /// Horizontally resampled rows `win_first..next_in`; those before `win_start` are no
    /// longer needed.
    window: Vec<u8>,
    win_first: usize,
    win_start: usize,
    /// The next source row expected by [`Resampler::push_horizontal`].
    next_in: usize,
    /// The next output row to make.
    next_out: usize,
}

impl Resampler {
    /// A resize of `in_w x in_h` to `out_w x out_h` with `filter`.
    pub fn new(in_w: usize, in_h: usize, out_w: usize, out_h: usize, filter: Filter) -> Resampler {
        let need_horizontal = out_w != in_w;
        let need_vertical = out_h != in_h;
        let horizontal = need_horizontal.then(|| Coefficients::new(in_w, out_w, filter));
        let vertical = need_vertical.then(|| Coefficients::new(in_h, out_h, filter));
        // ImagingResampleInner computes the vertical bounds even when that pass is skipped, and
        // restricts the horizontal pass to the rows they use; at equal sizes that is all rows.
        let (first_row, last_row) = rows_of(vertical.as_ref(), in_h, out_h);
        let temp_w = if need_horizontal { out_w } else { in_w };
        Resampler {
            in_w,
            out_w,
            out_h,
            horizontal,
            vertical,
            first_row,
            last_row,
            temp_w,
            window: Vec::new(),
            win_first: first_row,
            win_start: first_row,
            next_in: first_row,
            next_out: 0,
        }
    }

    /// The source rows the result depends on.
    pub fn rows_needed(&self) -> std::ops::Range<usize> {
        self.first_row..self.last_row
    }

    /// Bytes held by the rolling window (for memory accounting in tests and logs).
    pub fn buffer_bytes(&self) -> usize {
        self.window.capacity()
    }

    /// True once every output row has been handed out.
    pub fn is_done(&self) -> bool {
        self.next_out == self.out_h
    }

    /// The needed part of source rows `y0..y0 + n`: its first row and its range in the strip.
    fn clip(&self, y0: usize, n: usize) -> (usize, std::ops::Range<usize>) {
        let a = y0.clamp(self.first_row, self.last_row);
        let b = (y0 + n).clamp(self.first_row, self.last_row).max(a);
        (a, a - y0..b - y0)
    }

    /// The horizontal pass over source rows `y0..` (`rows.len()` a multiple of `in_w * 3`): the
    /// needed ones, resampled across (borrowed as they are when the width does not change).
    /// Rows are resampled in parallel on rayon.
    pub fn horizontal<'r>(&self, y0: usize, rows: &'r [u8]) -> std::borrow::Cow<'r, [u8]> {
        let stride = self.in_w * 3;
        assert!(stride > 0 && rows.len().is_multiple_of(stride), "rows are not whole rows of width {}", self.in_w);
        let (_, keep) = self.clip(y0, rows.len() / stride);
        let rows = &rows[keep.start * stride..keep.end * stride];
        let Some(h) = &self.horizontal else { return std::borrow::Cow::Borrowed(rows) };
        let w3 = self.out_w * 3;
        let mut out = vec![0u8; keep.len() * w3];
        out.par_chunks_exact_mut(w3)
            .zip(rows.par_chunks_exact(stride))
            .for_each(|(dst, row)| horizontal_row(h, row, dst));
        std::borrow::Cow::Owned(out)
    }

    /// Takes the result of [`Resampler::horizontal`] for source rows `y0..`. Strips come in source
    /// order: the needed rows of each start where the previous one's ended.
    pub fn push_horizontal(&mut self, y0: usize, rows: Vec<u8>) {
        let w3 = self.temp_w * 3;
        if rows.is_empty() {
            return;
        }
        assert!(rows.len().is_multiple_of(w3), "intermediate rows are not whole rows of width {}", self.temp_w);
        let (first, _) = self.clip(y0, self.last_row);
        assert_eq!(first, self.next_in, "strips must come in source order");
        self.next_in += rows.len() / w3;
        assert!(self.next_in <= self.last_row, "more rows than the resize uses");
        // Rows already dropped by `take_ready` leave here, once per strip: one move of the
        // support rows still needed, not one per output band.
        let dropped = (self.win_start - self.win_first) * w3;
        self.window.drain(..dropped);
        self.win_first = self.win_start;
        if self.window.is_empty() {
            self.window = rows;
        } else {
            self.window.extend_from_slice(&rows);
        }
    }

    /// Puts into `band` the next output rows whose support has arrived (at most
    /// `OUT_BAND_ROWS` of them, made in parallel on rayon) and returns how many; 0 when none
    /// is ready yet. Call until it returns 0 after each push.
    pub fn take_ready(&mut self, band: &mut Vec<u8>) -> usize {
        let w3 = self.temp_w * 3;
        band.clear();
        let Some(v) = &self.vertical else {
            // No vertical pass: the window rows are the output rows.
            std::mem::swap(band, &mut self.window);
            let n = band.len() / w3.max(1);
            self.next_out += n;
            self.win_start = self.next_in;
            self.win_first = self.next_in;
            return n;
        };
        let mut n = 0;
        while self.next_out + n < self.out_h && n < OUT_BAND_ROWS {
            let (start, count) = v.bounds[self.next_out + n];
            if start + count > self.next_in {
                break;
            }
            n += 1;
        }
        if n == 0 {
            return 0;
        }
        band.resize(n * w3, 0);
        let (window, win_first, first_out) = (&self.window, self.win_first, self.next_out);
        band.par_chunks_exact_mut(w3).enumerate().for_each_init(
            || vec![0i32; w3],
            |acc, (i, out_row)| {
                let (start, k) = v.kernel(first_out + i);
                acc.fill(1 << (PRECISION_BITS - 1));
                for (j, &w) in k.iter().enumerate() {
                    let y = start + j - win_first;
                    for (a, &p) in acc.iter_mut().zip(&window[y * w3..(y + 1) * w3]) {
                        *a += i32::from(p) * w;
                    }
                }
                for (o, &a) in out_row.iter_mut().zip(acc.iter()) {
                    *o = clip8(a);
                }
            },
        );
        self.next_out += n;
        // The rows no later output row reads are dropped (at the next push).
        let keep_from =
            if self.next_out < self.out_h { v.bounds[self.next_out].0.min(self.next_in) } else { self.next_in };
        self.win_start = self.win_start.max(keep_from);
        n
    }
}

fn horizontal_row(h: &Coefficients, row: &[u8], dst: &mut [u8]) {
    for (xx, px) in dst.chunks_exact_mut(3).enumerate() {
        let (start, k) = h.kernel(xx);
        let src = &row[start * 3..(start + k.len()) * 3];
        let (mut s0, mut s1, mut s2) =
            (1i32 << (PRECISION_BITS - 1), 1i32 << (PRECISION_BITS - 1), 1i32 << (PRECISION_BITS - 1));
        for (p, &w) in src.chunks_exact(3).zip(k) {
            s0 += i32::from(p[0]) * w;
            s1 += i32::from(p[1]) * w;
            s2 += i32::from(p[2]) * w;
        }
        px[0] = clip8(s0);
        px[1] = clip8(s1);
        px[2] = clip8(s2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example() {
        let c = Coefficients::new(4, 2, Filter::Lanczos);
        assert_eq!(c.bounds[0], (0, 4));
        assert_eq!(&c.weights[..4], &[1946964, 1946964, 591023, -290647]);
        let row = RgbImage { width: 4, height: 1, data: vec![10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40] };
        let out = resize_rgb(&row, 2, 1, Filter::Lanczos).data;
        assert_eq!(&out[..], &[15, 15, 15, 35, 35, 35]);
    }

    #[test]
    fn kernels() {
        assert_eq!(Filter::Bicubic.eval(0.0), 1.0);
        assert_eq!(Filter::Bicubic.eval(1.0), 0.0);
        assert_eq!(Filter::Bicubic.eval(0.5), 0.5625);
        assert_eq!(Filter::Bicubic.eval(-1.5), -0.0625);
        assert_eq!(Filter::Bicubic.eval(2.0), 0.0);
        assert_eq!(Filter::Lanczos.eval(0.0), 1.0);
        assert!(Filter::Lanczos.eval(1.0).abs() < 1e-15);
        assert_eq!(Filter::Lanczos.eval(3.0), 0.0);
        assert!(Filter::Lanczos.eval(-3.0).abs() < 1e-15, "-3 is inside Pillow's half-open support");
    }

    #[test]
    fn weights_sum_to_one_and_identity_is_a_copy() {
        for (n_in, n_out) in [(10, 3), (7, 7), (3, 10), (1000, 999), (5, 1)] {
            for f in [Filter::Bicubic, Filter::Lanczos] {
                let c = precompute_coeffs(n_in, n_out, f);
                for i in 0..n_out {
                    let s: f64 = c.weights[i * c.ksize..(i + 1) * c.ksize].iter().sum();
                    assert!((s - 1.0).abs() < 1e-12, "{n_in}->{n_out} {f:?} index {i}: {s}");
                }
            }
        }
        let src: Vec<u8> = (0..5 * 4 * 3).map(|i| (i * 37 % 256) as u8).collect();
        let img = RgbImage { width: 5, height: 4, data: src };
        assert_eq!(resize_rgb(&img, 5, 4, Filter::Lanczos), img);
    }

    /// The arithmetic of the module docs, written plainly: the whole horizontally resampled
    /// intermediate, then the vertical pass (the previous implementation).
    fn whole_image_reference(img: &RgbImage, ow: usize, oh: usize, f: Filter) -> Vec<u8> {
        let (src, w, h) = (&img.data, img.width, img.height);
        let temp: Vec<u8> = if ow == w {
            src.to_vec()
        } else {
            let c = Coefficients::new(w, ow, f);
            let mut t = vec![0u8; h * ow * 3];
            for (row, dst) in src.chunks_exact(w * 3).zip(t.chunks_exact_mut(ow * 3)) {
                horizontal_row(&c, row, dst);
            }
            t
        };
        if oh == h {
            return temp;
        }
        let v = Coefficients::new(h, oh, f);
        let mut out = vec![0u8; ow * oh * 3];
        for (yy, out_row) in out.chunks_exact_mut(ow * 3).enumerate() {
            let (start, k) = v.kernel(yy);
            for (x, o) in out_row.iter_mut().enumerate() {
                let mut acc = 1i32 << (PRECISION_BITS - 1);
                for (j, &wt) in k.iter().enumerate() {
                    acc += i32::from(temp[(start + j) * ow * 3 + x]) * wt;
                }
                *o = clip8(acc);
            }
        }
        out
    }

    #[test]
    fn streaming_equals_whole_and_keeps_a_bounded_window() {
        let (w, h) = (50, 240);
        let img = RgbImage { width: w, height: h, data: (0..w * h * 3).map(|i| ((i * 7919) % 251) as u8).collect() };
        let src = &img.data;
        for (ow, oh) in [(20, 60), (120, 600), (50, 13), (17, 240), (50, 240), (25, 120)] {
            let f = filter_for(w, ow);
            let want = whole_image_reference(&img, ow, oh, f);
            assert!(resize_rgb(&img, ow, oh, f).data == want, "{ow}x{oh}: one push");
            let mut r = Resampler::new(w, h, ow, oh, f);
            let (mut got, mut band, mut most) = (Vec::new(), Vec::new(), 0);
            // Strips of 7 rows, top to bottom, as a slide is read.
            for y in (0..h).step_by(7) {
                let end = (y + 7).min(h);
                let hrows = r.horizontal(y, &src[y * w * 3..end * w * 3]).into_owned();
                r.push_horizontal(y, hrows);
                most = most.max(r.buffer_bytes());
                while r.take_ready(&mut band) > 0 {
                    got.extend_from_slice(&band);
                }
            }
            assert!(r.is_done(), "{ow}x{oh}: every output row made");
            assert!(got == want, "{ow}x{oh}: strips differ from the whole-image resize");
            // The window: the support of one output row (at most ksize rows) plus a strip,
            // never the whole intermediate of `h` rows.
            let ksize = r.vertical.as_ref().map_or(0, |v| v.ksize);
            let row_bytes = r.temp_w * 3;
            assert!(most <= (ksize + 7 + 1) * row_bytes * 2, "{ow}x{oh}: window of {most} bytes");
            if ksize + 8 < h / 4 {
                assert!(most < h * row_bytes / 2, "{ow}x{oh}: window of {most} bytes is not rolling");
            }
        }
        let r = Resampler::new(1000, 1000, 1000, 10, Filter::Lanczos);
        assert_eq!(r.rows_needed(), 0..1000, "a full-height shrink reads every row");
    }

    #[test]
    fn bit_identical_to_pillow_fixtures() {
        // tests/fixtures/pillow/make_fixtures.py wrote these with Pillow 13.0.0.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pillow");
        let input = bcss_codec::png::decode_rgb(&std::fs::read(dir.join("input.png")).unwrap()).unwrap();
        let cases = std::fs::read_to_string(dir.join("cases.txt")).unwrap();
        let mut n = 0;
        for line in cases.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (w, h): (usize, usize) = (f[1].parse().unwrap(), f[2].parse().unwrap());
            let filter = if f[3] == "bicubic" { Filter::Bicubic } else { Filter::Lanczos };
            assert_eq!(filter, filter_for(input.width, w), "the fixture uses large_image's filter rule");
            let want = bcss_codec::png::decode_rgb(&std::fs::read(dir.join(f[0])).unwrap()).unwrap();
            let got = resize_rgb(&input, w, h, filter).data;
            let diff = got.iter().zip(&want.data).filter(|(a, b)| a != b).count();
            assert_eq!(diff, 0, "{}: {diff} bytes differ from Pillow", f[0]);
            n += 1;
        }
        assert!(n >= 9, "all cases ran");
    }
}
