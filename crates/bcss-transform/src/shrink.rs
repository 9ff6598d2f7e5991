//! Shrinking RGB pictures by an integer factor with a box filter, fed a row at a time: a
//! streamed pass over a large ROI holds one group of rows' sums, never the picture (overlays,
//! their thumbnails, the report's thumbnails).
//!
//! Output pixel `(o, r)` is the rounded mean of the source pixels `o*f .. o*f+f` x
//! `r*f .. r*f+f` that exist (edge blocks average the pixels they have): with `f = 2`, a row
//! `0 10 7` over `20 30 9` gives `15 8` (`(0+10+20+30+2)/4`, `(7+9+1)/2`).

/// Averages blocks of `f x f` pixels of RGB rows fed one at a time (edge blocks average the
/// pixels they have).
pub struct Shrink {
    f: usize,
    src_w: usize,
    out_w: usize,
    /// u64: a block of a thumbnail can hold a whole ROI (2^31 pixels x 255 overflows u32).
    sums: Vec<u64>,
    counts: Vec<u64>,
    rows_in_group: usize,
}

impl Shrink {
    /// Shrinks rows of `src_w` pixels by `f` in both directions.
    pub fn new(src_w: usize, f: usize) -> Shrink {
        let out_w = src_w.div_ceil(f);
        Shrink { f, src_w, out_w, sums: vec![0; out_w * 3], counts: vec![0; out_w], rows_in_group: 0 }
    }

    /// Adds a row; returns an output row when a group of `f` rows is complete.
    pub fn push(&mut self, row: &[u8], out: &mut Vec<u8>) -> bool {
        for x in 0..self.src_w {
            let o = x / self.f;
            self.counts[o] += 1;
            for c in 0..3 {
                self.sums[o * 3 + c] += u64::from(row[x * 3 + c]);
            }
        }
        self.rows_in_group += 1;
        if self.rows_in_group == self.f {
            self.flush(out)
        } else {
            false
        }
    }

    /// Emits a partial group, if any.
    pub fn flush(&mut self, out: &mut Vec<u8>) -> bool {
        if self.rows_in_group == 0 {
            return false;
        }
        out.clear();
        for o in 0..self.out_w {
            let n = self.counts[o];
            for c in 0..3 {
                out.push(((self.sums[o * 3 + c] + n / 2) / n) as u8);
            }
        }
        self.sums.fill(0);
        self.counts.fill(0);
        self.rows_in_group = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrink_averages_blocks_with_partial_edges() {
        let mut s = Shrink::new(3, 2);
        let mut out = Vec::new();
        assert!(!s.push(&[0, 0, 0, 10, 10, 10, 7, 7, 7], &mut out));
        assert!(s.push(&[20, 20, 20, 30, 30, 30, 9, 9, 9], &mut out));
        assert_eq!(out, vec![15, 15, 15, 8, 8, 8]);
        assert!(!s.flush(&mut out));
    }
}
