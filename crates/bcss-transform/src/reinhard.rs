//! Reinhard colour normalisation exactly as HistomicsTK 1.4.0 computes it, a row at a time.
//!
//! HistomicsTK's `reinhard(im_src, target_mu, target_sigma, src_mu, src_sigma, mask_out)`:
//!
//! 1. `rgb_to_lab`: Ruderman's lab space. LMS = `RGB2LMS . rgb` on the 0-255 values; an LMS of
//!    exactly 0 becomes machine epsilon (`np.spacing(1)`, 2^-52); lab = `LMS2LAB . ln(LMS)`.
//! 2. Unless `src_mu` and `src_sigma` are given, the per-channel mean and population standard
//!    deviation of lab over the pixels not masked out (`lab_mean_std`).
//! 3. Each channel centred and scaled: `((x - src_mu) / src_sigma) * target_sigma + target_mu`.
//! 4. `lab_to_rgb`: `LMS = exp(LAB2LMS . lab)` with an LMS of exactly 2^-52 mapped back to 0,
//!    rgb = `LMS2RGB . LMS`; clipped to 0..=255 and **truncated** (`astype(uint8)`).
//! 5. Pixels masked out keep their input values.
//!
//! How numpy computes each step decides the last bit, and a truncation turns a last bit into a
//! grey level where a value sits on an integer:
//!
//! - The matrix products are BLAS `dgemm` calls with an inner dimension of 3, summed in order of
//!   the inner index. OpenBLAS's x86 kernels fuse them (`fma(a2, b2, fma(a1, b1, a0 * b0))`);
//!   the fixtures (10.5 million values) match exactly either way, so `dot3` multiplies and adds
//!   separately, which needs no `fma` call where the target has no FMA instruction.
//! - `LAB2LMS` and `LMS2RGB` are `np.linalg.inv` of the forward matrices (LAPACK `gesv`, LU with
//!   partial pivoting); `inverse` does the same elimination in f64.
//! - The mean is `np.add.reduce` over the channel's `m * n` values, contiguous (the lab image is
//!   a view of a `3 x mn` array): numpy's pairwise summation over the whole run, leaves of at
//!   most 128 values summed with 8 accumulators, split at `n / 2` rounded down to a multiple of
//!   8 ([`PairwiseSum`], fed a row at a time). With a mask, numpy's masked array sums
//!   `filled(0)`: masked pixels stay in the run as zeros, which keeps the same tree.
//! - The variance is the pairwise sum of `(x - mean)^2` (masked pixels 0) divided by the count,
//!   so the statistics take two passes over the rows ([`MeanPass`], then [`VariancePass`]).
//!
//! Where numpy's own choices are not reproducible here (the LAPACK and `log`/`exp` a build links),
//! a pixel may differ by one grey level; the fixture tests state the share.
//!
//! One departure: when a channel's computed standard deviation is exactly 0 (an image of one
//! colour, one pixel), HistomicsTK divides 0 by 0 and converts NaN to `uint8`, which C leaves
//! undefined; here that channel takes the target mean.
//!
//! Invariant: pure, no I/O.

use bcss_model::{GrayImage, RgbImage};

/// The BCSS standard's lab means: the statistics of ROI TCGA-A2-A3XS-DX1 that the authors'
/// Drive copy was normalised to (also HistomicsTK's own tests' target).
pub const BCSS_TARGET_MU: [f64; 3] = [8.74108109, -0.12440419, 0.0444982];

/// The BCSS standard's lab standard deviations (see [`BCSS_TARGET_MU`]).
pub const BCSS_TARGET_SIGMA: [f64; 3] = [0.6135447, 0.10989545, 0.0286032];

/// HistomicsTK's RGB to LMS matrix.
const RGB2LMS: [[f64; 3]; 3] = [[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]];

/// Machine epsilon, numpy's `np.spacing(1)`: the LMS that stands in for 0 before the logarithm.
const EPS: f64 = f64::EPSILON;

/// Entries of the lab cache of a statistics pass: 2^19 (15 MB).
const LAB_CACHE_BITS: u32 = 19;

/// Entries of the output cache of the transform: 2^20 (7 MB).
const OUT_CACHE_BITS: u32 = 20;

/// Numpy's pairwise summation leaf size (`PW_BLOCKSIZE`).
const BLOCK: usize = 128;

/// What can be wrong with statistics, a target or the rows fed to a pass.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReinhardError {
    /// A standard deviation that is 0, negative, infinite or NaN.
    #[error("{what} sigma {value} of channel {channel} is not a positive finite number")]
    Sigma {
        /// `target` or `source`.
        what: &'static str,
        /// 0, 1 or 2 (l, alpha, beta).
        channel: usize,
        /// The value given.
        value: f64,
    },
    /// A mean that is infinite or NaN.
    #[error("{what} mu {value} of channel {channel} is not a finite number")]
    Mu {
        /// `target` or `source`.
        what: &'static str,
        /// 0, 1 or 2.
        channel: usize,
        /// The value given.
        value: f64,
    },
    /// Every pixel is masked out: there is nothing to take statistics of.
    #[error("every pixel is masked out, so the image has no statistics")]
    AllMasked,
    /// A row of the wrong length.
    #[error("row of {got} bytes where {expected} were expected")]
    RowLength {
        /// Bytes expected.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// A pass finished after the wrong number of rows.
    #[error("{got} rows fed where the image has {expected}")]
    RowCount {
        /// The image's height.
        expected: usize,
        /// Rows fed.
        got: usize,
    },
    /// An image of more distinct colours than a [`ColourIndex`] was allowed (use the passes).
    #[error("more than {limit} distinct colours")]
    TooManyColours {
        /// The limit given.
        limit: usize,
    },
    /// A mask whose size is not the image's.
    #[error("mask is {mask_width} x {mask_height} but the image is {width} x {height}")]
    MaskSize {
        /// Image width.
        width: usize,
        /// Image height.
        height: usize,
        /// Mask width.
        mask_width: usize,
        /// Mask height.
        mask_height: usize,
    },
}

/// Per-channel means and standard deviations in Ruderman's lab space.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct LabStats {
    mu: [f64; 3],
    sigma: [f64; 3],
}

impl LabStats {
    /// Statistics given by a user (a target, or a source's `src_mu`/`src_sigma`): every mean
    /// finite, every standard deviation positive and finite. `what` names them in errors
    /// (`target`, `source`).
    pub fn new(what: &'static str, mu: [f64; 3], sigma: [f64; 3]) -> Result<LabStats, ReinhardError> {
        for (channel, &value) in mu.iter().enumerate() {
            if !value.is_finite() {
                return Err(ReinhardError::Mu { what, channel, value });
            }
        }
        for (channel, &value) in sigma.iter().enumerate() {
            if !(value.is_finite() && value > 0.0) {
                return Err(ReinhardError::Sigma { what, channel, value });
            }
        }
        Ok(LabStats { mu, sigma })
    }

    /// The BCSS standard ([`BCSS_TARGET_MU`], [`BCSS_TARGET_SIGMA`]).
    pub fn bcss() -> LabStats {
        LabStats { mu: BCSS_TARGET_MU, sigma: BCSS_TARGET_SIGMA }
    }

    /// The means (l, alpha, beta).
    pub fn mu(&self) -> [f64; 3] {
        self.mu
    }

    /// The population standard deviations (l, alpha, beta).
    pub fn sigma(&self) -> [f64; 3] {
        self.sigma
    }
}

/// `a0 * b0 + a1 * b1 + a2 * b2`, in order of the inner index as `dgemm` sums it.
#[inline(always)]
fn dot3(a: &[f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn mat_vec(m: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [dot3(&m[0], v), dot3(&m[1], v), dot3(&m[2], v)]
}

/// HistomicsTK's LMS to lab matrix: `diag(1/sqrt 3, 1/sqrt 6, 1/sqrt 2) . [[1,1,1],[1,1,-2],[1,-1,0]]`
/// (the product has one non-zero term per entry, so it is exact).
fn lms2lab() -> [[f64; 3]; 3] {
    let a = 1.0 / 3f64.sqrt();
    let b = 1.0 / 6f64.sqrt();
    let c = 1.0 / 2f64.sqrt();
    [[a, a, a], [b, b, -2.0 * b], [c, -c, 0.0]]
}

/// The inverse of `m` as LAPACK's `gesv` finds it from the identity (numpy's `linalg.inv`): LU
/// with partial pivoting (`getrf`), then forward and back substitution per column (`getrs`).
fn inverse(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut lu = m;
    let mut perm = [0usize, 1, 2];
    for k in 0..3 {
        let p = (k..3).max_by(|&i, &j| lu[i][k].abs().total_cmp(&lu[j][k].abs()).then(j.cmp(&i))).unwrap_or(k);
        lu.swap(k, p);
        perm.swap(k, p);
        let pivot = lu[k][k];
        let recip = 1.0 / pivot;
        for row in lu.iter_mut().skip(k + 1) {
            row[k] *= recip;
        }
        for i in k + 1..3 {
            for j in k + 1..3 {
                lu[i][j] -= lu[i][k] * lu[k][j];
            }
        }
    }
    let mut inv = [[0.0; 3]; 3];
    for col in 0..3 {
        let mut x = [0.0; 3];
        for (i, xi) in x.iter_mut().enumerate() {
            *xi = if perm[i] == col { 1.0 } else { 0.0 };
        }
        for i in 0..3 {
            for j in 0..i {
                x[i] -= lu[i][j] * x[j];
            }
        }
        for i in (0..3).rev() {
            for j in i + 1..3 {
                x[i] -= lu[i][j] * x[j];
            }
            x[i] /= lu[i][i];
        }
        for (row, xi) in inv.iter_mut().zip(x) {
            row[col] = xi;
        }
    }
    inv
}

/// The four matrices of the conversion, made once.
#[derive(Debug, Clone, Copy)]
struct Matrices {
    lms2lab: [[f64; 3]; 3],
    lab2lms: [[f64; 3]; 3],
    lms2rgb: [[f64; 3]; 3],
}

impl Matrices {
    fn new() -> Matrices {
        let lms2lab = lms2lab();
        Matrices { lms2lab, lab2lms: inverse(lms2lab), lms2rgb: inverse(RGB2LMS) }
    }

    fn rgb_to_lab(&self, rgb: [u8; 3]) -> [f64; 3] {
        let v = [f64::from(rgb[0]), f64::from(rgb[1]), f64::from(rgb[2])];
        let lms = mat_vec(&RGB2LMS, v).map(|x| if x == 0.0 { EPS.ln() } else { x.ln() });
        mat_vec(&self.lms2lab, lms)
    }

    fn lab_to_rgb(&self, lab: [f64; 3]) -> [f64; 3] {
        let lms = mat_vec(&self.lab2lms, lab).map(|x| {
            let e = x.exp();
            if e == EPS {
                0.0
            } else {
                e
            }
        });
        mat_vec(&self.lms2rgb, lms)
    }
}

/// HistomicsTK's `rgb_to_lab` of one pixel.
pub fn rgb_to_lab(rgb: [u8; 3]) -> [f64; 3] {
    Matrices::new().rgb_to_lab(rgb)
}

/// HistomicsTK's `lab_to_rgb` of one pixel, before clipping.
pub fn lab_to_rgb(lab: [f64; 3]) -> [f64; 3] {
    Matrices::new().lab_to_rgb(lab)
}

/// `astype(uint8)` after HistomicsTK's clipping: above 255 is 255, below 0 is 0, the rest is
/// truncated toward zero (NaN, which C leaves undefined, is 0 as on x86).
fn to_u8(v: f64) -> u8 {
    let v = if v > 255.0 { 255.0 } else { v };
    let v = if v < 0.0 { 0.0 } else { v };
    v as u8
}

/// A direct-mapped cache of a function of a pixel's colour: a pixel's lab value (and, for fixed
/// statistics, its output) depends on its 24-bit colour alone, and a tissue image repeats
/// colours, so most `ln`/`exp` calls are skipped. The values are the function's, bit for bit.
/// Sizes, measured on a 4806 x 3870 H&E-like picture with sensor noise (`bcss normalize`, all
/// three passes, user CPU): 2^12 lab entries 2.1 s, 2^16 1.4 s, 2^20 1.05 s. The lab cache
/// (28 bytes an entry) is kept from the means pass to the deviations pass.
#[derive(Debug, Clone)]
struct ColourCache<T: Copy> {
    /// `colour + 1` (0 = empty).
    keys: Vec<u32>,
    values: Vec<T>,
    shift: u32,
}

impl<T: Copy + Default> ColourCache<T> {
    /// A cache of at most `2^max_bits` entries, fewer for an image of fewer pixels.
    fn new(pixels: usize, max_bits: u32) -> ColourCache<T> {
        let bits = (usize::BITS - pixels.max(1).leading_zeros()).clamp(4, max_bits);
        let n = 1usize << bits;
        ColourCache { keys: vec![0; n], values: vec![T::default(); n], shift: 32 - bits }
    }

    #[inline]
    fn get(&mut self, rgb: [u8; 3], f: impl FnOnce([u8; 3]) -> T) -> T {
        let colour = u32::from_le_bytes([rgb[0], rgb[1], rgb[2], 0]);
        let slot = (colour.wrapping_mul(0x9E37_79B1) >> self.shift) as usize;
        if self.keys[slot] == colour + 1 {
            return self.values[slot];
        }
        let v = f(rgb);
        self.keys[slot] = colour + 1;
        self.values[slot] = v;
        v
    }
}

/// Numpy's pairwise sum (`@TYPE@_pairwise_sum` in `loops_utils.h.src`) of a run of `n` values of
/// known length fed in pieces: the recursion's leaves are filled in order, summed when full and
/// combined as the recursion would.
#[derive(Debug, Clone)]
pub struct PairwiseSum {
    /// Open splits, innermost last: the size of the right half still to come, and the left
    /// half's sum once known.
    frames: Vec<(usize, Option<f64>)>,
    leaf: [f64; BLOCK],
    leaf_len: usize,
    leaf_filled: usize,
    result: Option<f64>,
}

impl PairwiseSum {
    /// A sum of `n` values.
    pub fn new(n: usize) -> PairwiseSum {
        let mut s = PairwiseSum { frames: Vec::new(), leaf: [0.0; BLOCK], leaf_len: 0, leaf_filled: 0, result: None };
        s.descend(n);
        s
    }

    fn descend(&mut self, mut n: usize) {
        while n > BLOCK {
            let mut n2 = n / 2;
            n2 -= n2 % 8;
            self.frames.push((n - n2, None));
            n = n2;
        }
        self.leaf_len = n;
        self.leaf_filled = 0;
        if n == 0 {
            self.complete(-0.0);
        }
    }

    fn complete(&mut self, mut v: f64) {
        loop {
            match self.frames.pop() {
                None => {
                    self.result = Some(v);
                    return;
                }
                Some((right, None)) => {
                    self.frames.push((right, Some(v)));
                    self.descend(right);
                    return;
                }
                // left + right; IEEE addition commutes, so the order of the operands is free.
                Some((_, Some(left))) => v += left,
            }
        }
    }

    fn leaf_sum(a: &[f64]) -> f64 {
        let n = a.len();
        if n < 8 {
            let mut res = -0.0;
            for &x in a {
                res += x;
            }
            return res;
        }
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (acc, &x) in r.iter_mut().zip(chunk) {
                *acc += x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[whole..] {
            res += x;
        }
        res
    }

    /// Feeds the next values. Values past the `n` given to [`PairwiseSum::new`] are ignored.
    pub fn extend(&mut self, mut values: &[f64]) {
        while !values.is_empty() && self.result.is_none() {
            if self.leaf_filled == 0 && values.len() >= self.leaf_len {
                // A whole leaf at hand: summed where it lies, without the copy.
                let (leaf, rest) = values.split_at(self.leaf_len);
                values = rest;
                let v = Self::leaf_sum(leaf);
                self.complete(v);
                continue;
            }
            let take = (self.leaf_len - self.leaf_filled).min(values.len());
            self.leaf[self.leaf_filled..self.leaf_filled + take].copy_from_slice(&values[..take]);
            self.leaf_filled += take;
            values = &values[take..];
            if self.leaf_filled == self.leaf_len {
                let v = Self::leaf_sum(&self.leaf[..self.leaf_len]);
                self.complete(v);
            }
        }
    }

    /// `np.add.reduce` of the run: its identity 0 plus the pairwise sum; `None` until all `n`
    /// values were fed.
    pub fn sum(&self) -> Option<f64> {
        self.result.map(|v| 0.0 + v)
    }
}

/// The rows of one pass: width, height, rows fed so far, and a row's lab values per channel.
#[derive(Debug, Clone)]
struct Rows {
    width: usize,
    height: usize,
    fed: usize,
    channels: [Vec<f64>; 3],
    matrices: Matrices,
    cache: ColourCache<[f64; 3]>,
}

impl Rows {
    fn new(width: usize, height: usize) -> Rows {
        Rows {
            width,
            height,
            fed: 0,
            channels: [vec![0.0; width], vec![0.0; width], vec![0.0; width]],
            matrices: Matrices::new(),
            cache: ColourCache::new(width.saturating_mul(height), LAB_CACHE_BITS),
        }
    }

    /// Converts one row to lab, masked-out pixels 0; returns the number of pixels kept.
    fn convert(&mut self, rgb: &[u8], mask_out: Option<&[u8]>) -> Result<usize, ReinhardError> {
        check_row(self.width, rgb, mask_out)?;
        if self.fed == self.height {
            return Err(ReinhardError::RowCount { expected: self.height, got: self.fed + 1 });
        }
        self.fed += 1;
        let mut kept = 0;
        let [l, a, b] = &mut self.channels;
        for (x, px) in rgb.chunks_exact(3).enumerate() {
            let masked = mask_out.is_some_and(|m| m[x] != 0);
            let lab = if masked {
                [0.0; 3]
            } else {
                kept += 1;
                let m = &self.matrices;
                self.cache.get([px[0], px[1], px[2]], |c| m.rgb_to_lab(c))
            };
            (l[x], a[x], b[x]) = (lab[0], lab[1], lab[2]);
        }
        Ok(kept)
    }

    fn finish(&self) -> Result<(), ReinhardError> {
        if self.fed == self.height {
            Ok(())
        } else {
            Err(ReinhardError::RowCount { expected: self.height, got: self.fed })
        }
    }
}

fn check_row(width: usize, rgb: &[u8], mask_out: Option<&[u8]>) -> Result<(), ReinhardError> {
    if rgb.len() != width * 3 {
        return Err(ReinhardError::RowLength { expected: width * 3, got: rgb.len() });
    }
    match mask_out {
        Some(m) if m.len() != width => Err(ReinhardError::RowLength { expected: width, got: m.len() }),
        _ => Ok(()),
    }
}

/// The first statistics pass: the lab means (HistomicsTK's `lab_mean_std`, first half).
///
/// Feed every row in order with [`MeanPass::push_row`] (the mask row, if any, nonzero where a
/// pixel is masked out), then [`MeanPass::finish`] for the second pass.
#[derive(Debug, Clone)]
pub struct MeanPass {
    rows: Rows,
    sums: [PairwiseSum; 3],
    kept: u64,
}

impl MeanPass {
    /// A pass over an image of `width` x `height` pixels.
    pub fn new(width: usize, height: usize) -> MeanPass {
        let n = width * height;
        MeanPass {
            rows: Rows::new(width, height),
            sums: [PairwiseSum::new(n), PairwiseSum::new(n), PairwiseSum::new(n)],
            kept: 0,
        }
    }

    /// The next row: `3 * width` RGB bytes, and `width` mask bytes (nonzero = masked out).
    pub fn push_row(&mut self, rgb: &[u8], mask_out: Option<&[u8]>) -> Result<(), ReinhardError> {
        self.kept += self.rows.convert(rgb, mask_out)? as u64;
        for (sum, values) in self.sums.iter_mut().zip(&self.rows.channels) {
            sum.extend(values);
        }
        Ok(())
    }

    /// The means, and the pass that computes the standard deviations.
    pub fn finish(self) -> Result<VariancePass, ReinhardError> {
        self.rows.finish()?;
        if self.kept == 0 {
            return Err(ReinhardError::AllMasked);
        }
        let count = self.kept as f64;
        let mu = self.sums.map(|s| s.sum().unwrap_or(0.0) / count);
        let (width, height) = (self.rows.width, self.rows.height);
        // The same rows again: the lab values cached by this pass stay valid.
        Ok(VariancePass {
            rows: Rows { fed: 0, ..self.rows },
            sums: [
                PairwiseSum::new(width * height),
                PairwiseSum::new(width * height),
                PairwiseSum::new(width * height),
            ],
            mu,
            count,
        })
    }
}

/// The second statistics pass: the population standard deviations about the means of the
/// first ([`MeanPass::finish`]). Feed the same rows and mask again.
#[derive(Debug, Clone)]
pub struct VariancePass {
    rows: Rows,
    sums: [PairwiseSum; 3],
    mu: [f64; 3],
    count: f64,
}

impl VariancePass {
    /// The means found by the first pass.
    pub fn mu(&self) -> [f64; 3] {
        self.mu
    }

    /// The next row, as in [`MeanPass::push_row`].
    pub fn push_row(&mut self, rgb: &[u8], mask_out: Option<&[u8]>) -> Result<(), ReinhardError> {
        self.rows.convert(rgb, mask_out)?;
        for c in 0..3 {
            let mu = self.mu[c];
            for (x, v) in self.rows.channels[c].iter_mut().enumerate() {
                let masked = mask_out.is_some_and(|m| m[x] != 0);
                *v = if masked {
                    0.0
                } else {
                    let d = *v - mu;
                    d * d
                };
            }
            self.sums[c].extend(&self.rows.channels[c]);
        }
        Ok(())
    }

    /// The statistics: means and population standard deviations. A standard deviation may be 0
    /// (an image of one colour).
    pub fn finish(self) -> Result<LabStats, ReinhardError> {
        self.rows.finish()?;
        let mut sigma = [0.0; 3];
        for (s, sum) in sigma.iter_mut().zip(&self.sums) {
            *s = (sum.sum().unwrap_or(0.0) / self.count).sqrt();
        }
        Ok(LabStats { mu: self.mu, sigma })
    }
}

/// Marks a pixel masked out in [`ColourIndex`]'s ids.
const MASKED: u32 = 1 << 31;

/// Values handed to a [`PairwiseSum`] at a time by [`ColourIndex`].
const CHUNK: usize = 2048;

/// An image held as one id per pixel into its table of distinct colours: the whole of
/// HistomicsTK's computation with `ln`, `exp` and the arithmetic done once per colour rather
/// than once per pixel.
///
/// A tissue ROI has far fewer colours than pixels (about 200,000 in a 4806 x 3870 H&E-like
/// picture with sensor noise, for 18.6 million pixels), so the per-pixel work is table
/// lookups: the statistics sum the same values in the same order as [`MeanPass`] and
/// [`VariancePass`] (numpy's pairwise tree over the pixels in row order), and the output is the
/// same as [`Reinhard::row`]'s, bit for bit. Memory: 4 bytes a pixel plus about 60 bytes a
/// colour; an image of more colours than the limit given fails with
/// [`ReinhardError::TooManyColours`], for the caller to stream it through the passes instead.
#[derive(Debug, Clone)]
pub struct ColourIndex {
    width: usize,
    height: usize,
    /// Per pixel: the colour's id, `| MASKED` where masked out.
    ids: Vec<u32>,
    /// Per id: the colour (`r | g << 8 | b << 16`).
    colours: Vec<u32>,
    /// Open addressing, `(colour + 1, id)`; 0 = empty.
    table: Vec<(u32, u32)>,
    limit: usize,
    kept: u64,
}

impl ColourIndex {
    /// An empty index of an image of `width` x `height` pixels, of at most `max_colours`
    /// distinct colours.
    pub fn new(width: usize, height: usize, max_colours: usize) -> ColourIndex {
        ColourIndex {
            width,
            height,
            ids: Vec::with_capacity(width.saturating_mul(height)),
            colours: Vec::new(),
            table: vec![(0, 0); 1 << 12],
            limit: max_colours,
            kept: 0,
        }
    }

    /// Bytes held for an image of `pixels` pixels and `colours` colours (an estimate for a
    /// caller's budget).
    pub fn bytes_for(pixels: usize, colours: usize) -> usize {
        pixels.saturating_mul(4).saturating_add(colours.saturating_mul(60))
    }

    #[inline(always)]
    fn slot(colour: u32, mask: usize) -> usize {
        (colour.wrapping_mul(0x9E37_79B1) >> 8) as usize & mask
    }

    fn grow(&mut self) {
        let mut table = vec![(0u32, 0u32); self.table.len() * 2];
        let mask = table.len() - 1;
        for &(key, id) in self.table.iter().filter(|e| e.0 != 0) {
            let mut i = Self::slot(key - 1, mask);
            while table[i].0 != 0 {
                i = (i + 1) & mask;
            }
            table[i] = (key, id);
        }
        self.table = table;
    }

    fn id_of(&mut self, colour: u32) -> Result<u32, ReinhardError> {
        let mask = self.table.len() - 1;
        let mut i = Self::slot(colour, mask);
        loop {
            let (key, id) = self.table[i];
            if key == colour + 1 {
                return Ok(id);
            }
            if key == 0 {
                break;
            }
            i = (i + 1) & mask;
        }
        if self.colours.len() >= self.limit {
            return Err(ReinhardError::TooManyColours { limit: self.limit });
        }
        let id = self.colours.len() as u32;
        self.table[i] = (colour + 1, id);
        self.colours.push(colour);
        if 2 * self.colours.len() > self.table.len() {
            self.grow();
        }
        Ok(id)
    }

    /// The next row: `3 * width` RGB bytes, and `width` mask bytes (nonzero = masked out).
    pub fn push_row(&mut self, rgb: &[u8], mask_out: Option<&[u8]>) -> Result<(), ReinhardError> {
        check_row(self.width, rgb, mask_out)?;
        if self.ids.len() / self.width.max(1) == self.height {
            return Err(ReinhardError::RowCount { expected: self.height, got: self.height + 1 });
        }
        // Neighbours often share a colour: the last one's id is kept. A colour found at its
        // first slot is looked up here; the rest (further probes, a new colour) in `id_of`.
        let (mut last, mut last_id) = (u32::MAX, 0);
        let mut slots = self.table.len() - 1;
        let start = self.ids.len();
        for px in rgb.chunks_exact(3) {
            let colour = u32::from_le_bytes([px[0], px[1], px[2], 0]);
            if colour != last {
                let (key, id) = self.table[Self::slot(colour, slots)];
                last_id = if key == colour + 1 {
                    id
                } else {
                    let id = self.id_of(colour)?;
                    slots = self.table.len() - 1;
                    id
                };
                last = colour;
            }
            self.ids.push(last_id);
        }
        match mask_out {
            None => self.kept += self.width as u64,
            Some(m) => {
                for (id, &masked) in self.ids[start..].iter_mut().zip(m) {
                    if masked != 0 {
                        *id |= MASKED;
                    } else {
                        self.kept += 1;
                    }
                }
            }
        }
        Ok(())
    }

    fn check_complete(&self) -> Result<(), ReinhardError> {
        let rows = self.ids.len().checked_div(self.width).unwrap_or(self.height);
        if rows == self.height {
            Ok(())
        } else {
            Err(ReinhardError::RowCount { expected: self.height, got: rows })
        }
    }

    fn colour(&self, id: u32) -> [u8; 3] {
        let [r, g, b, _] = self.colours[(id & !MASKED) as usize].to_le_bytes();
        [r, g, b]
    }

    /// Numpy's pairwise sums over the pixels of `value(id)` per channel, masked pixels 0.
    fn sums(&self, table: &[[f64; 3]]) -> [f64; 3] {
        let n = self.ids.len();
        let mut sums = [PairwiseSum::new(n), PairwiseSum::new(n), PairwiseSum::new(n)];
        let mut buf = [[0.0; CHUNK]; 3];
        for chunk in self.ids.chunks(CHUNK) {
            for (i, &id) in chunk.iter().enumerate() {
                let v = if id & MASKED != 0 { [0.0; 3] } else { table[id as usize] };
                (buf[0][i], buf[1][i], buf[2][i]) = (v[0], v[1], v[2]);
            }
            for (sum, b) in sums.iter_mut().zip(&buf) {
                sum.extend(&b[..chunk.len()]);
            }
        }
        sums.map(|s| s.sum().unwrap_or(0.0))
    }

    /// HistomicsTK's `lab_mean_std` over the pixels not masked out, exactly as [`MeanPass`]
    /// and [`VariancePass`] compute it.
    pub fn statistics(&self) -> Result<LabStats, ReinhardError> {
        self.check_complete()?;
        if self.kept == 0 {
            return Err(ReinhardError::AllMasked);
        }
        let m = Matrices::new();
        let lab: Vec<[f64; 3]> = (0..self.colours.len() as u32).map(|id| m.rgb_to_lab(self.colour(id))).collect();
        let count = self.kept as f64;
        let mu = self.sums(&lab).map(|s| s / count);
        let squares: Vec<[f64; 3]> = lab
            .iter()
            .map(|v| {
                let d = [v[0] - mu[0], v[1] - mu[1], v[2] - mu[2]];
                [d[0] * d[0], d[1] * d[1], d[2] * d[2]]
            })
            .collect();
        let sigma = self.sums(&squares).map(|s| (s / count).sqrt());
        Ok(LabStats { mu, sigma })
    }

    /// The normalised image a row at a time (`each(y, row)`), as [`Reinhard::row`] gives it:
    /// pixels masked out keep their colour when `keep_masked` (HistomicsTK's `mask_out`), else
    /// they are normalised too (a mask that only leaves pixels out of the statistics).
    pub fn normalize_rows<E>(
        &self,
        source: LabStats,
        target: LabStats,
        keep_masked: bool,
        mut each: impl FnMut(usize, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let m = Matrices::new();
        let out: Vec<[u8; 3]> =
            (0..self.colours.len() as u32).map(|id| normalize_pixel(&m, &source, &target, self.colour(id))).collect();
        let mut row = vec![0u8; self.width * 3];
        for (y, ids) in self.ids.chunks(self.width.max(1)).enumerate() {
            for (o, &id) in row.chunks_exact_mut(3).zip(ids) {
                let v = if id & MASKED == 0 {
                    out[id as usize]
                } else if keep_masked {
                    self.colour(id)
                } else {
                    out[(id & !MASKED) as usize]
                };
                o.copy_from_slice(&v);
            }
            each(y, &row)?;
        }
        Ok(())
    }
}

/// The transform: source statistics to target statistics, a row at a time.
#[derive(Debug, Clone)]
pub struct Reinhard {
    source: LabStats,
    target: LabStats,
    matrices: Matrices,
    cache: ColourCache<[u8; 3]>,
}

impl Reinhard {
    /// Normalises from `source` (computed by the passes, or given and checked by
    /// [`LabStats::new`]) to `target`.
    pub fn new(source: LabStats, target: LabStats) -> Reinhard {
        Reinhard {
            source,
            target,
            matrices: Matrices::new(),
            cache: ColourCache::new(1 << OUT_CACHE_BITS, OUT_CACHE_BITS),
        }
    }

    /// One pixel, not masked out.
    pub fn pixel(&self, rgb: [u8; 3]) -> [u8; 3] {
        normalize_pixel(&self.matrices, &self.source, &self.target, rgb)
    }

    /// One row: `out` gets the normalised `rgb`, pixels masked out (mask nonzero) unchanged.
    pub fn row(&mut self, rgb: &[u8], mask_out: Option<&[u8]>, out: &mut [u8]) -> Result<(), ReinhardError> {
        check_row(rgb.len() / 3, rgb, mask_out)?;
        if out.len() != rgb.len() {
            return Err(ReinhardError::RowLength { expected: rgb.len(), got: out.len() });
        }
        for (x, (px, o)) in rgb.chunks_exact(3).zip(out.chunks_exact_mut(3)).enumerate() {
            if mask_out.is_some_and(|m| m[x] != 0) {
                o.copy_from_slice(px);
            } else {
                let this = &*self;
                let (source, target, matrices) = (this.source, this.target, this.matrices);
                let v = self.cache.get([px[0], px[1], px[2]], |c| normalize_pixel(&matrices, &source, &target, c));
                o.copy_from_slice(&v);
            }
        }
        Ok(())
    }
}

fn normalize_pixel(m: &Matrices, source: &LabStats, target: &LabStats, rgb: [u8; 3]) -> [u8; 3] {
    let lab = m.rgb_to_lab(rgb);
    let mut out = [0.0; 3];
    for c in 0..3 {
        let (mu, sd) = (source.mu[c], source.sigma[c]);
        let (tm, ts) = (target.mu[c], target.sigma[c]);
        out[c] = if sd == 0.0 { tm } else { ((lab[c] - mu) / sd) * ts + tm };
    }
    m.lab_to_rgb(out).map(to_u8)
}

fn check_mask(image: &RgbImage, mask_out: Option<&GrayImage>) -> Result<(), ReinhardError> {
    match mask_out {
        Some(m) if (m.width, m.height) != (image.width, image.height) => Err(ReinhardError::MaskSize {
            width: image.width,
            height: image.height,
            mask_width: m.width,
            mask_height: m.height,
        }),
        _ => Ok(()),
    }
}

/// The most distinct colours the in-memory functions index ([`ColourIndex`]); an image of more
/// goes through the passes (slower, same result).
const INDEX_COLOURS: usize = 1 << 22;

/// The image indexed by colour, or `None` when it has too many colours.
fn index(image: &RgbImage, mask_out: Option<&GrayImage>) -> Result<Option<ColourIndex>, ReinhardError> {
    let mut index = ColourIndex::new(image.width, image.height, INDEX_COLOURS);
    for y in 0..image.height {
        match index.push_row(image.row(y), mask_out.map(|m| m.row(y))) {
            Ok(()) => {}
            Err(ReinhardError::TooManyColours { .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(Some(index))
}

/// HistomicsTK's `lab_mean_std` through the two passes.
fn passes_mean_std(image: &RgbImage, mask_out: Option<&GrayImage>) -> Result<LabStats, ReinhardError> {
    let mut pass = MeanPass::new(image.width, image.height);
    for y in 0..image.height {
        pass.push_row(image.row(y), mask_out.map(|m| m.row(y)))?;
    }
    let mut pass = pass.finish()?;
    for y in 0..image.height {
        pass.push_row(image.row(y), mask_out.map(|m| m.row(y)))?;
    }
    pass.finish()
}

/// HistomicsTK's `lab_mean_std(im_input, mask_out)` of an image in memory (mask nonzero =
/// masked out).
pub fn lab_mean_std(image: &RgbImage, mask_out: Option<&GrayImage>) -> Result<LabStats, ReinhardError> {
    check_mask(image, mask_out)?;
    match index(image, mask_out)? {
        Some(index) => index.statistics(),
        None => passes_mean_std(image, mask_out),
    }
}

/// HistomicsTK's `reinhard(im_src, target_mu, target_sigma, src_mu, src_sigma, mask_out)` of an
/// image in memory: `source` statistics when given, else [`lab_mean_std`] of the image.
pub fn reinhard(
    image: &RgbImage,
    target: LabStats,
    source: Option<LabStats>,
    mask_out: Option<&GrayImage>,
) -> Result<RgbImage, ReinhardError> {
    check_mask(image, mask_out)?;
    let mut out = RgbImage { width: image.width, height: image.height, data: vec![0; image.data.len()] };
    let row_len = image.width * 3;
    if row_len == 0 {
        return Ok(out);
    }
    if let Some(index) = index(image, mask_out)? {
        let source = match source {
            Some(s) => s,
            None => index.statistics()?,
        };
        let mut rows = out.data.chunks_exact_mut(row_len);
        index.normalize_rows(source, target, true, |_, row| {
            if let Some(o) = rows.next() {
                o.copy_from_slice(row);
            }
            Ok::<(), ReinhardError>(())
        })?;
        return Ok(out);
    }
    let source = match source {
        Some(s) => s,
        None => passes_mean_std(image, mask_out)?,
    };
    let mut t = Reinhard::new(source, target);
    for (y, o) in out.data.chunks_exact_mut(row_len).enumerate() {
        t.row(image.row(y), mask_out.map(|m| m.row(y)), o)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// numpy's recursion, written as the C code is.
    fn pairwise(a: &[f64]) -> f64 {
        if a.len() <= BLOCK {
            return PairwiseSum::leaf_sum(a);
        }
        let mut n2 = a.len() / 2;
        n2 -= n2 % 8;
        pairwise(&a[..n2]) + pairwise(&a[n2..])
    }

    #[test]
    fn inverses_invert() {
        let m = Matrices::new();
        for (fwd, inv) in [(lms2lab(), m.lab2lms), (RGB2LMS, m.lms2rgb)] {
            for (i, row) in fwd.iter().enumerate() {
                for j in 0..3 {
                    let v: f64 = row.iter().zip(&inv).map(|(a, inv_row)| a * inv_row[j]).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((v - want).abs() < 1e-14, "{i},{j}: {v}");
                }
            }
        }
    }

    #[test]
    fn black_takes_the_epsilon_path_and_comes_back_black() {
        let lab = rgb_to_lab([0, 0, 0]);
        assert!((lab[0] - 3.0 * EPS.ln() / 3f64.sqrt()).abs() < 1e-12, "{lab:?}");
        assert_eq!(lab_to_rgb(lab).map(to_u8), [0, 0, 0]);
    }

    #[test]
    fn truncation_not_rounding() {
        assert_eq!((to_u8(254.999), to_u8(255.5), to_u8(-0.5), to_u8(f64::NAN)), (254, 255, 0, 0));
    }

    #[test]
    fn bad_statistics_are_named() {
        let e = LabStats::new("target", [1.0, 0.0, 0.0], [1.0, 0.0, 1.0]).unwrap_err();
        assert_eq!(e.to_string(), "target sigma 0 of channel 1 is not a positive finite number");
        let e = LabStats::new("source", [f64::NAN, 0.0, 0.0], [1.0; 3]).unwrap_err();
        assert!(matches!(e, ReinhardError::Mu { channel: 0, .. }));
        assert!(LabStats::new("source", [0.0; 3], [f64::NAN, 1.0, 1.0]).is_err());
    }

    #[test]
    fn all_masked_is_an_error() {
        let img = RgbImage::filled(3, 2, [10, 20, 30]);
        let mask = GrayImage::filled(3, 2, [255]);
        assert_eq!(lab_mean_std(&img, Some(&mask)), Err(ReinhardError::AllMasked));
        let small = GrayImage::filled(2, 2, [0]);
        assert!(matches!(reinhard(&img, LabStats::bcss(), None, Some(&small)), Err(ReinhardError::MaskSize { .. })));
    }

    #[test]
    fn passes_count_their_rows() {
        let mut p = MeanPass::new(2, 2);
        p.push_row(&[1; 6], None).unwrap();
        assert_eq!(p.clone().finish().unwrap_err(), ReinhardError::RowCount { expected: 2, got: 1 });
        assert_eq!(p.push_row(&[1; 3], None), Err(ReinhardError::RowLength { expected: 6, got: 3 }));
    }

    proptest! {
        #[test]
        fn streamed_pairwise_sum_is_numpys(values in proptest::collection::vec(-1e3f64..1e3, 0..2000), cut in 1usize..300) {
            let mut s = PairwiseSum::new(values.len());
            for piece in values.chunks(cut) {
                s.extend(piece);
            }
            let want = 0.0 + if values.is_empty() { -0.0 } else { pairwise(&values) };
            prop_assert_eq!(s.sum().map(f64::to_bits), Some(want.to_bits()));
        }

        #[test]
        fn streamed_and_cached_equal_numpys_formulas_written_out(
            data in proptest::collection::vec(prop_oneof![Just(0u8), Just(7), Just(128), Just(255), any::<u8>()], 3 * 300),
            mask in proptest::collection::vec(prop_oneof![Just(0u8), Just(0), Just(1)], 300),
        ) {
            // The oracle: lab of every pixel without a cache, numpy's sums over the whole run
            // (masked pixels 0), then each pixel through `pixel`.
            let img = RgbImage { width: 20, height: 15, data };
            let m = GrayImage { width: 20, height: 15, data: mask.clone() };
            let kept = mask.iter().filter(|&&k| k == 0).count();
            prop_assume!(kept > 0);
            let mats = Matrices::new();
            let labs: Vec<[f64; 3]> = img.data.chunks_exact(3).map(|p| mats.rgb_to_lab([p[0], p[1], p[2]])).collect();
            let mut mu = [0.0; 3];
            let mut sigma = [0.0; 3];
            for c in 0..3 {
                let xs: Vec<f64> = labs.iter().zip(&mask).map(|(l, &k)| if k == 0 { l[c] } else { 0.0 }).collect();
                mu[c] = (0.0 + pairwise(&xs)) / kept as f64;
                let ds: Vec<f64> = labs.iter().zip(&mask).map(|(l, &k)| if k == 0 { (l[c] - mu[c]) * (l[c] - mu[c]) } else { 0.0 }).collect();
                sigma[c] = ((0.0 + pairwise(&ds)) / kept as f64).sqrt();
            }
            let stats = lab_mean_std(&img, Some(&m)).unwrap();
            prop_assert_eq!(stats.mu().map(f64::to_bits), mu.map(f64::to_bits));
            prop_assert_eq!(stats.sigma().map(f64::to_bits), sigma.map(f64::to_bits));
            let out = reinhard(&img, LabStats::bcss(), None, Some(&m)).unwrap();
            let t = Reinhard::new(stats, LabStats::bcss());
            for (i, p) in img.data.chunks_exact(3).enumerate() {
                let want = if mask[i] == 0 { t.pixel([p[0], p[1], p[2]]) } else { [p[0], p[1], p[2]] };
                prop_assert_eq!(&out.data[i * 3..i * 3 + 3], &want[..]);
            }
        }

        #[test]
        fn a_constant_image_stays_constant(px in any::<[u8; 3]>(), w in 1usize..40, h in 1usize..40) {
            let img = RgbImage::filled(w, h, px);
            let out = reinhard(&img, LabStats::bcss(), None, None).unwrap();
            let first = out.pixel(0, 0);
            prop_assert!(out.data.chunks_exact(3).all(|p| p == first));
        }

        #[test]
        fn one_pixel_takes_the_target_mean(px in any::<[u8; 3]>()) {
            let img = RgbImage::filled(1, 1, px);
            let stats = lab_mean_std(&img, None).unwrap();
            prop_assert_eq!(stats.sigma(), [0.0; 3]);
            let out = reinhard(&img, LabStats::bcss(), None, None).unwrap();
            let want = lab_to_rgb(BCSS_TARGET_MU).map(to_u8);
            prop_assert_eq!(out.pixel(0, 0), want);
        }

        #[test]
        fn masked_out_pixels_are_unchanged(data in proptest::collection::vec(any::<u8>(), 3 * 60), mask in proptest::collection::vec(prop_oneof![Just(0u8), Just(255u8)], 60)) {
            let img = RgbImage { width: 12, height: 5, data };
            let m = GrayImage { width: 12, height: 5, data: mask.clone() };
            match reinhard(&img, LabStats::bcss(), None, Some(&m)) {
                Ok(out) => {
                    for (i, &k) in mask.iter().enumerate() {
                        if k != 0 {
                            prop_assert_eq!(&out.data[i * 3..i * 3 + 3], &img.data[i * 3..i * 3 + 3]);
                        }
                    }
                }
                Err(e) => prop_assert!(mask.iter().all(|&k| k != 0) && e == ReinhardError::AllMasked),
            }
        }

        #[test]
        fn all_black_with_some_white(w in 1usize..30, white in 0usize..30) {
            // Black pixels take the epsilon path; the output is finite and black stays the
            // darkest value.
            let mut img = RgbImage::filled(w, 2, [0, 0, 0]);
            for x in 0..white.min(w) {
                img.data[x * 3..x * 3 + 3].copy_from_slice(&[255, 255, 255]);
            }
            let out = reinhard(&img, LabStats::bcss(), None, None).unwrap();
            let black = out.pixel(w - 1, 1);
            prop_assert!(out.data.chunks_exact(3).all(|p| p[0] >= black[0]));
        }

        #[test]
        fn the_colour_index_gives_the_passes_numbers_and_pixels(
            w in 1usize..40,
            h in 1usize..12,
            palette in proptest::collection::vec(any::<[u8; 3]>(), 1..6),
            picks in proptest::collection::vec(any::<u8>(), 480),
            masked in proptest::collection::vec(prop_oneof![3 => Just(0u8), 1 => Just(255u8)], 480),
            use_mask in any::<bool>(),
            keep_masked in any::<bool>(),
        ) {
            // Few colours, in runs and scattered, so that ids repeat and neighbours share them.
            let data: Vec<u8> = (0..w * h).flat_map(|i| palette[picks[i] as usize % palette.len()]).collect();
            let img = RgbImage { width: w, height: h, data };
            let mask = GrayImage { width: w, height: h, data: masked[..w * h].to_vec() };
            let mask = use_mask.then_some(&mask);
            prop_assume!(mask.is_none_or(|m| m.data.contains(&0)));
            let passes = passes_mean_std(&img, mask).unwrap();
            let mut index = ColourIndex::new(w, h, 8);
            for y in 0..h {
                index.push_row(img.row(y), mask.map(|m| m.row(y))).unwrap();
            }
            let stats = index.statistics().unwrap();
            // Bit for bit: the same values summed in the same tree.
            prop_assert_eq!(stats.mu().map(f64::to_bits), passes.mu().map(f64::to_bits));
            prop_assert_eq!(stats.sigma().map(f64::to_bits), passes.sigma().map(f64::to_bits));
            let target = LabStats::bcss();
            let mut t = Reinhard::new(passes, target);
            let mut rows = Vec::new();
            index.normalize_rows(passes, target, keep_masked, |_, row| {
                rows.extend_from_slice(row);
                Ok::<(), ReinhardError>(())
            }).unwrap();
            let mut want = vec![0u8; w * 3];
            for y in 0..h {
                let keep = mask.filter(|_| keep_masked).map(|m| m.row(y));
                t.row(img.row(y), keep, &mut want).unwrap();
                prop_assert_eq!(&rows[y * w * 3..(y + 1) * w * 3], &want[..]);
            }
        }

        #[test]
        fn a_colour_index_refuses_more_colours_than_its_limit(n in 2usize..40) {
            let data: Vec<u8> = (0..n).flat_map(|i| [i as u8, 7, 9]).collect();
            let mut index = ColourIndex::new(n, 1, n - 1);
            prop_assert_eq!(index.push_row(&data, None), Err(ReinhardError::TooManyColours { limit: n - 1 }));
            // The in-memory function falls back to the passes with the same result.
            let img = RgbImage { width: n, height: 1, data };
            prop_assert_eq!(lab_mean_std(&img, None).unwrap(), passes_mean_std(&img, None).unwrap());
        }

        #[test]
        fn normalising_an_image_already_at_the_target_changes_it_by_at_most_one(data in proptest::collection::vec(any::<u8>(), 3 * 64)) {
            // The target is the image's own statistics: every pixel goes to lab and back, and
            // only the truncation of a value a last bit under an integer may lower it by one.
            let img = RgbImage { width: 8, height: 8, data };
            let own = lab_mean_std(&img, None).unwrap();
            prop_assume!(own.sigma().iter().all(|&s| s > 0.0));
            let out = reinhard(&img, own, None, None).unwrap();
            let worst = img.data.iter().zip(&out.data).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
            prop_assert!(worst <= 1, "worst difference {}", worst);
        }
    }
}
