//! Label-mask resizing: nearest neighbour with scikit-image's exact sampling rule.
//!
//! The original downloader resized each mask to its RGB with
//! `skimage.transform.resize(mask, shape, order=0, preserve_range=True, anti_aliasing=False)`,
//! which is `scipy.ndimage.zoom(order=0, mode='mirror', grid_mode=True)`. Per axis, with `z =
//! n_in / n_out` (f64), output index `o` samples input index `floor(c + 0.5)` where
//! `c = (o + 0.5) * z - 0.5`, mirrored to `-c` when negative (spec section 5.1). Labels are
//! copied, never interpolated, so no new code can appear.
//!
//! Worked example, 5 -> 3 columns: z = 5/3; o=0: c = 0.3333 -> 0; o=1: c = 2.0 -> 2;
//! o=2: c = 3.6667 -> 4. So `[a b c d e]` becomes `[a c e]`.
//!
//! Invariant: pure, no I/O; the f64 operations are written out separately (no fused multiply-add)
//! to match the C code bit for bit at ties.

use bcss_model::GrayImage;

/// The source index of every output index along one axis (spec 5.1).
pub fn nearest_indices(n_in: usize, n_out: usize) -> Vec<usize> {
    assert!(n_in > 0, "cannot resize an empty axis");
    let z = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|o| {
            let t = (o as f64 + 0.5) * z;
            let mut c = t - 0.5;
            if c < 0.0 {
                c = -c;
            }
            ((c + 0.5).floor() as usize).min(n_in - 1)
        })
        .collect()
}

/// The rule of [`nearest_indices`] applied to rows that arrive top to bottom, so that neither the
/// source nor the result is held whole: each source row offered gives the output rows that
/// sample it (none, one or several), appended to a buffer the caller empties as it likes. The
/// pipeline resizes base masks to the images' size with it, a band at a time, and the report
/// samples its thumbnails with it.
#[derive(Debug, Clone)]
pub struct NearestRows {
    /// Source row width (bytes: one value per pixel).
    width: usize,
    /// Output rows in all.
    out_height: usize,
    /// Per output column, its source column; per output row, its source row.
    cols: Vec<usize>,
    rows: Vec<usize>,
    /// Source and output rows so far.
    next_in: usize,
    next_out: usize,
    identity: bool,
}

impl NearestRows {
    /// A resizer of a `width x height` source to `out_width x out_height`.
    pub fn new(width: usize, height: usize, out_width: usize, out_height: usize) -> NearestRows {
        let identity = (width, height) == (out_width, out_height);
        let (cols, rows) = if identity || width == 0 || height == 0 {
            ((0..out_width).collect(), (0..out_height).collect())
        } else {
            (nearest_indices(width, out_width), nearest_indices(height, out_height))
        };
        NearestRows { width, out_height, cols, rows, next_in: 0, next_out: 0, identity }
    }

    /// Whether the output is the source (the caller may pass rows through unchanged and
    /// [`NearestRows::skip`] them).
    pub fn is_identity(&self) -> bool {
        self.identity
    }

    /// Offers the next source rows (whole rows, `width` bytes each); the output rows they give
    /// are appended to `out`. Returns how many output rows were appended.
    pub fn push_rows(&mut self, data: &[u8], out: &mut Vec<u8>) -> usize {
        let before = self.next_out;
        for src in data.chunks_exact(self.width.max(1)) {
            while self.next_out < self.out_height && self.rows[self.next_out] == self.next_in {
                out.extend(self.cols.iter().map(|&x| src[x]));
                self.next_out += 1;
            }
            self.next_in += 1;
        }
        self.next_out - before
    }

    /// Counts `n` source rows passed through unchanged by an identity resize.
    pub fn skip(&mut self, n: usize) {
        self.next_in += n;
        self.next_out = (self.next_out + n).min(self.out_height);
    }

    /// Output rows made so far.
    pub fn rows_out(&self) -> usize {
        self.next_out
    }

    /// Output rows in all.
    pub fn out_height(&self) -> usize {
        self.out_height
    }
}

/// Resizes a label mask to `out_w` x `out_h` with the rule of `nearest_indices` on each axis.
pub fn resize_nearest(src: &GrayImage, out_w: usize, out_h: usize) -> GrayImage {
    let (width, height) = (src.width, src.height);
    assert_eq!(src.data.len(), width * height, "buffer does not match its size");
    if (width, height) == (out_w, out_h) {
        return src.clone();
    }
    let cols = nearest_indices(width, out_w);
    let rows = nearest_indices(height, out_h);
    let mut out = Vec::with_capacity(out_w * out_h);
    let mut last: Option<(usize, usize)> = None;
    for &r in &rows {
        // Consecutive output rows often sample the same input row: copy the previous output row.
        if let Some((prev_r, start)) = last {
            if prev_r == r {
                out.extend_from_within(start..start + out_w);
                continue;
            }
        }
        let start = out.len();
        let line = src.row(r);
        out.extend(cols.iter().map(|&c| line[c]));
        last = Some((r, start));
    }
    GrayImage { width: out_w, height: out_h, data: out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn worked_example() {
        assert_eq!(nearest_indices(5, 3), vec![0, 2, 4]);
        let row = GrayImage { width: 5, height: 1, data: vec![1, 2, 3, 4, 5] };
        assert_eq!(resize_nearest(&row, 3, 1).data, vec![1, 3, 5]);
    }

    #[test]
    fn upsampling_by_two_repeats() {
        assert_eq!(nearest_indices(2, 4), vec![0, 0, 1, 1]);
        // z = 1/3: c = (o+0.5)/3 - 0.5 -> -0.333, 0, 0.333, 0.667, ...
        assert_eq!(nearest_indices(2, 6), vec![0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn ties_round_half_up() {
        // 4 -> 2: c = 1.5 and 3.5, floor(c + 0.5) = 2 and 4 -> clamped to 3.
        assert_eq!(nearest_indices(4, 2), vec![1, 3]);
    }

    proptest! {
        #[test]
        fn matches_an_exact_rational_oracle(n_in in 1usize..3000, n_out in 1usize..3000) {
            // Away from exact ties, the f64 rule equals the rational one:
            // index = floor((2o+1) n_in / (2 n_out)) (pixel-centre rule).
            let got = nearest_indices(n_in, n_out);
            for (o, &i) in got.iter().enumerate() {
                let num = (2 * o + 1) * n_in;
                let den = 2 * n_out;
                if num % den != 0 {
                    prop_assert_eq!(i, (num / den).min(n_in - 1));
                }
                prop_assert!(i < n_in);
            }
        }

        #[test]
        fn streamed_rows_equal_the_whole_resize(w in 1usize..30, h in 1usize..30, ow in 1usize..40, oh in 1usize..40, band in 1usize..7, seed in any::<u64>()) {
            let mut rng = fastrand::Rng::with_seed(seed);
            let src = GrayImage { width: w, height: h, data: (0..w * h).map(|_| rng.u8(0..22)).collect() };
            let whole = resize_nearest(&src, ow, oh);
            let mut r = NearestRows::new(w, h, ow, oh);
            let mut out = Vec::new();
            for rows in src.data.chunks(band * w) {
                r.push_rows(rows, &mut out);
            }
            prop_assert_eq!(r.rows_out(), oh);
            prop_assert_eq!(out, whole.data);
            prop_assert_eq!(NearestRows::new(w, h, w, h).is_identity(), true);
        }

        #[test]
        fn never_invents_labels(w in 1usize..40, h in 1usize..40, ow in 1usize..60, oh in 1usize..60, seed in any::<u64>()) {
            let mut rng = fastrand::Rng::with_seed(seed);
            let src: Vec<u8> = (0..w * h).map(|_| rng.u8(0..22)).collect();
            let out = resize_nearest(&GrayImage { width: w, height: h, data: src.clone() }, ow, oh).data;
            prop_assert_eq!(out.len(), ow * oh);
            let rows = nearest_indices(h, oh);
            let cols = nearest_indices(w, ow);
            for y in 0..oh {
                for x in 0..ow {
                    prop_assert_eq!(out[y * ow + x], src[rows[y] * w + cols[x]]);
                }
            }
        }
    }
}
