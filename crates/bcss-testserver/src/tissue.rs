//! The H&E-like picture ([`crate::image::Picture::Tissue`]), for download benchmarks.
//!
//! The test pattern ([`crate::image::colour`]) is sharp repeating gradients, which PNG and JPEG
//! compressors treat very differently from stained tissue. This picture is built to compress
//! like a real region (compare `he_image` in `scripts/bench-png.py`):
//!
//! - a *stroma* density `s` in 0..=1: value noise (random values at the corners of a grid of
//!   cells, blended with smoothstep) at cells of 400, 60 and 12 px, summed, normalised and
//!   clipped as `clamp(0.5 + 0.9 z)`, so about a quarter of the picture is bare glass and a
//!   quarter dense stroma, in patches from a few pixels to several hundred;
//! - white glass mixed with pink stroma by `s`, plus *fibres*: value noise at 7 x 3 px cells,
//!   about 8 grey levels, weighted by `s`;
//! - *nuclei*: a 12 px cell holds at most one, decided by a hash of the cell, with its centre
//!   anywhere in the cell, a radius of 3-5 px, a shade of purple and a soft edge of 1.5 px;
//!   they fade out with the stroma, so the glass stays clear;
//! - *sensor noise* per pixel and channel, about 3 grey levels (a sum of three uniforms).
//!
//! Every random number is a hash of integer coordinates ([`hash`], a splitmix64 finaliser), so
//! a pixel depends on (bx, by) alone: any region at any offset agrees with any other, and
//! nothing repeats (no texture is tiled, which would hand LZ77 compressors long false matches).
//! The float arithmetic is plain `f32` operations, deterministic for the same inputs.
//!
//! Rendering goes row by row ([`paint_row`]), keeping the noise values of the cells it is in,
//! so a pixel costs a few dozen float operations and one hash; [`tissue`] is the same
//! computation for one pixel.

const WHITE: [f32; 3] = [238.0, 232.0, 240.0];
const PINK: [f32; 3] = [222.0, 150.0, 190.0];
const PURPLE: [f32; 3] = [110.0, 60.0, 150.0];

/// Standard deviation of one value-noise layer (uniform corners in [-1, 1), smoothstep blend)
/// and of the weighted sum of the stroma layers (0.429 * sqrt(0.6^2 + 0.3^2 + 0.1^2)), measured
/// over 200 000 x 200 000 base pixels (the test `spreads_match_the_constants` checks them), so
/// that the normalised fields have unit spread.
const LAYER_SD: f32 = 0.429;
const STROMA_SD: f32 = 0.291;

/// Nucleus grid cell (px), the chance that a cell holds one (of 65536) and its soft edge (px).
const NUCLEUS_CELL: u64 = 12;
const NUCLEUS_CHANCE: u64 = 13_000;
const NUCLEUS_EDGE: f32 = 0.75;

const SEED_NUCLEI: u64 = 0x6e75_636c_6569;
const SEED_NOISE: u64 = 0x006e_6f69_7365;

/// The colour of base pixel (bx, by) in the tissue picture.
pub fn tissue(bx: u64, by: u64) -> [u8; 3] {
    let mut px = [0; 3];
    paint_row(by, &[bx], &mut px, 3);
    px
}

/// A 64-bit hash of (seed, x, y): two rounds of splitmix64 (golden-ratio step, then its
/// finaliser), so neighbouring coordinates give unrelated bits.
pub fn hash(seed: u64, x: u64, y: u64) -> u64 {
    mix(row_key(seed, y) ^ x)
}

/// The first round of [`hash`], which depends on the row alone: a row computes it once.
fn row_key(seed: u64, y: u64) -> u64 {
    mix(seed ^ y)
}

fn mix(v: u64) -> u64 {
    let mut z = v.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A value in [-1, 1) from the top 24 bits of a hash (exact in `f32`).
fn unit(h: u64) -> f32 {
    (h >> 40) as u32 as f32 / (1u32 << 23) as f32 - 1.0
}

const fn smooth(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// `smooth(k / N)` for k in 0..N: the blend weights across a cell, computed once at compile
/// time (and so the same for every pixel in every region).
const fn smooth_table<const N: usize>() -> [f32; N] {
    let mut t = [0.0; N];
    let mut k = 0;
    while k < N {
        t[k] = smooth(k as f32 / N as f32);
        k += 1;
    }
    t
}

/// One layer of value noise on cells of `W x H` base pixels, along one base row. The sizes are
/// constants so that `bx / W` compiles to a multiplication and the blend weights to a table.
struct Layer<const W: usize, const H: usize, const SEED: u64> {
    /// The row keys ([`row_key`]) of the grid lines above and below the row, and the row's
    /// blend weight between them.
    above: u64,
    below: u64,
    ty: f32,
    /// The cell column whose two edges are in `left` and `right`.
    i: Option<u64>,
    left: f32,
    right: f32,
}

impl<const W: usize, const H: usize, const SEED: u64> Layer<W, H, SEED> {
    const WEIGHTS: [f32; W] = smooth_table::<W>();
    const ROW_WEIGHTS: [f32; H] = smooth_table::<H>();

    fn new(by: u64) -> Self {
        let (j, dy) = (by / H as u64, (by % H as u64) as usize);
        let (above, below) = (row_key(SEED, j), row_key(SEED, j + 1));
        Layer { above, below, ty: Self::ROW_WEIGHTS[dy], i: None, left: 0.0, right: 0.0 }
    }

    /// The noise on the vertical grid line `i`, at this row.
    fn edge(&self, i: u64) -> f32 {
        lerp(unit(mix(self.above ^ i)), unit(mix(self.below ^ i)), self.ty)
    }

    /// The noise at (bx, this row), in about [-1, 1].
    #[inline(always)]
    fn at(&mut self, bx: u64) -> f32 {
        let i = bx / W as u64;
        if self.i != Some(i) {
            // Cached by cell: the same values a fresh computation gives, only not recomputed
            // (moving one cell right, the old right edge is the new left one).
            self.left = if self.i.is_some_and(|p| p + 1 == i) { self.right } else { self.edge(i) };
            self.right = self.edge(i + 1);
            self.i = Some(i);
        }
        lerp(self.left, self.right, Self::WEIGHTS[(bx % W as u64) as usize])
    }
}

/// A nucleus near the current row, in coordinates relative to the left edge of the nucleus cell
/// being drawn.
#[derive(Clone, Copy, Default)]
struct Nucleus {
    x: f32,
    /// Squared vertical distance from the row to the centre.
    dy2: f32,
    r: f32,
    colour: [f32; 3],
}

/// The nuclei that can touch one 12 px stretch of a row (those of the 3 x 3 cells around it).
struct Nuclei {
    by: u64,
    /// The first cell row that can reach row `by`, and the row keys of it and the next ones.
    j0: u64,
    keys: [u64; 3],
    /// The nucleus cell column in `near` (`u64::MAX`: none yet).
    i: u64,
    near: [Nucleus; 9],
    n: usize,
}

impl Nuclei {
    fn new(by: u64) -> Self {
        let j0 = (by / NUCLEUS_CELL).saturating_sub(1);
        let keys = [0, 1, 2].map(|k| row_key(SEED_NUCLEI, j0 + k));
        Nuclei { by, j0, keys, i: u64::MAX, near: [Nucleus::default(); 9], n: 0 }
    }

    /// Collects the nuclei that reach row `by` within cell column `i`. A nucleus reaches at
    /// most `5 + NUCLEUS_EDGE` < 12 px from its centre, so the neighbouring cells suffice.
    /// (Once per 12 px: kept out of line so the per-pixel loop stays small.)
    #[inline(never)]
    fn enter(&mut self, i: u64) {
        let (cell, j) = (NUCLEUS_CELL as f32, self.by / NUCLEUS_CELL);
        let row = (self.by % NUCLEUS_CELL) as u32 as f32 + 0.5;
        self.n = 0;
        for (cj, key) in (self.j0..=j + 1).zip(self.keys) {
            for ci in i.saturating_sub(1)..=i + 1 {
                let h = mix(key ^ ci);
                if (h & 0xFFFF) >= NUCLEUS_CHANCE {
                    continue;
                }
                let byte = |k: u32| ((h >> (16 + 8 * k)) & 0xFF) as u32 as f32 * (1.0 / 256.0);
                // Centre relative to cell (i, j); the cells are at most one apart.
                let x = ((ci + 1 - i) as u32 as f32 - 1.0 + byte(0)) * cell;
                let y = ((cj + 1 - j) as u32 as f32 - 1.0 + byte(1)) * cell;
                let r = 3.0 + 2.0 * byte(2);
                let reach = r + NUCLEUS_EDGE;
                let dy = row - y;
                if dy.abs() >= reach || x + reach <= 0.0 || x - reach >= cell {
                    continue;
                }
                // Some nuclei darker, some paler.
                let shade = 0.85 + 0.3 * byte(3);
                self.near[self.n] = Nucleus { x, dy2: dy * dy, r, colour: PURPLE.map(|c| c * shade) };
                self.n += 1;
            }
        }
        self.i = i;
    }

    /// How much nucleus covers (bx, this row) (0..=1), and its colour.
    #[inline(always)]
    fn at(&mut self, bx: u64) -> (f32, [f32; 3]) {
        let i = bx / NUCLEUS_CELL;
        if i != self.i {
            self.enter(i);
        }
        // (`as u32` first: a small integer converts in one instruction.)
        let x = (bx % NUCLEUS_CELL) as u32 as f32 + 0.5;
        let mut best = (0.0, PURPLE);
        for n in &self.near[..self.n] {
            let d2 = (x - n.x) * (x - n.x) + n.dy2;
            let reach = n.r + NUCLEUS_EDGE;
            if d2 < reach * reach {
                let w = ((reach - d2.sqrt()) * (0.5 / NUCLEUS_EDGE)).min(1.0);
                if w > best.0 {
                    best = (w, n.colour);
                }
            }
        }
        best
    }
}

/// The stroma density's three layers.
struct Stroma(Layer<400, 400, 1>, Layer<60, 60, 2>, Layer<12, 12, 3>);

impl Stroma {
    fn new(by: u64) -> Self {
        Stroma(Layer::new(by), Layer::new(by), Layer::new(by))
    }

    /// The raw sum at (bx, this row), before normalisation.
    #[inline(always)]
    fn at(&mut self, bx: u64) -> f32 {
        0.6 * self.0.at(bx) + 0.3 * self.1.at(bx) + 0.1 * self.2.at(bx)
    }
}

/// The fibre noise: short streaks.
type Fibre = Layer<7, 3, 4>;

/// Paints base row `by` at the base columns `cols` into `out`, a pixel every `stride` bytes
/// (3 for RGB, 4 for RGBA: alpha is left alone): pixel k is [`tissue`]`(cols[k], by)`. Any
/// order of columns works; increasing order is fastest (noise values are kept per cell).
pub fn paint_row(by: u64, cols: &[u64], out: &mut [u8], stride: usize) {
    assert!(stride >= 3 && out.len() >= cols.len() * stride, "room for every pixel");
    let mut stroma = Stroma::new(by);
    let mut fibre = Fibre::new(by);
    let mut nuclei = Nuclei::new(by);
    let noise_key = row_key(SEED_NOISE, by);
    for (&bx, px) in cols.iter().zip(out.chunks_exact_mut(stride)) {
        let s = (0.5 + (0.9 / STROMA_SD) * stroma.at(bx)).clamp(0.0, 1.0);
        let fibre = (8.0 / LAYER_SD) * s * fibre.at(bx);
        let (nucleus, purple) = nuclei.at(bx);
        // Nuclei lie in tissue: none on bare glass, full strength from a third of the density.
        let nucleus = nucleus * (3.0 * s).min(1.0);
        // Per channel the sum of three 7-bit uniforms (mean 190.5, standard deviation 64): bits
        // 21c..21c+21 of the hash, summed for the three channels at once in 21-bit lanes.
        let noise = mix(noise_key ^ bx);
        const LANES: u64 = 0x7F | 0x7F << 21 | 0x7F << 42;
        let sums = (noise & LANES) + ((noise >> 7) & LANES) + ((noise >> 14) & LANES);
        for (c, o) in px[..3].iter_mut().enumerate() {
            let base = WHITE[c] + (PINK[c] - WHITE[c]) * s + fibre;
            let sum = ((sums >> (21 * c)) & 0x1FF) as u32 as f32;
            let v = lerp(base, purple[c], nucleus) + (sum - 190.5) * (3.0 / 64.0);
            // Rounded (half to even) by adding 2^23: the float's low mantissa bits are then the
            // integer (cheaper than `round` and a saturating `as`). No clamp needed: v stays in
            // 42..=250 (at least purple * 0.85 less 8.9 of noise; at most the lighter of glass
            // and stroma plus 18.7 * s of fibre, under 241, plus 8.9), see the test
            // `colours_stay_in_range`.
            *o = (v + 8_388_608.0).to_bits() as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcss_model::Rect;

    use crate::image::{render_picture, sample_index, Picture};

    /// Mean and standard deviation.
    fn spread(v: impl Iterator<Item = f64>) -> (f64, f64) {
        let v: Vec<f64> = v.collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (mean, (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64).sqrt())
    }

    #[test]
    fn spreads_match_the_constants() {
        // Sampled sparsely over a large area: the coarse layer's cells are 400 px.
        let (mut stroma, mut fibre) = (Vec::new(), Vec::new());
        for by in (0..100_000).step_by(101) {
            let (mut s, mut f) = (Stroma::new(by), Fibre::new(by));
            for bx in (0..100_000).step_by(103) {
                stroma.push(f64::from(s.at(bx)));
                fibre.push(f64::from(f.at(bx)));
            }
        }
        let (m, sd) = spread(stroma.into_iter());
        assert!(m.abs() < 0.02 && (sd / f64::from(STROMA_SD) - 1.0).abs() < 0.03, "stroma mean {m}, sd {sd}");
        let (m, sd) = spread(fibre.into_iter());
        assert!(m.abs() < 0.02 && (sd / f64::from(LAYER_SD) - 1.0).abs() < 0.03, "fibre mean {m}, sd {sd}");
    }

    #[test]
    fn hash_spreads_neighbours() {
        // Neighbouring inputs differ in about half their bits.
        let a = hash(1, 100, 200);
        for b in [hash(1, 101, 200), hash(1, 100, 201), hash(2, 100, 200), hash(1, 200, 100)] {
            assert!((20..=44).contains(&(a ^ b).count_ones()), "{a:x} {b:x}");
        }
    }

    fn render(left: u64, top: u64, w: u64, h: u64) -> Vec<u8> {
        let region = Rect { left, top, right: left + w, bottom: top + h };
        render_picture(Picture::Tissue, region, w, h, false)
    }

    #[test]
    fn deterministic_and_independent_of_the_region() {
        assert_eq!(tissue(12_345, 6_789), tissue(12_345, 6_789));
        // A region at an offset is the crop of a larger one at the origin, pixel for pixel.
        let (w, h) = (700, 500);
        let big = render(0, 0, w, h);
        let (l, t, cw, ch) = (413, 257, 190, 133);
        let crop = render(l, t, cw, ch);
        for y in 0..ch {
            let from = (((t + y) * w + l) * 3) as usize;
            let at = (y * cw * 3) as usize;
            assert_eq!(&crop[at..at + cw as usize * 3], &big[from..from + cw as usize * 3], "row {y}");
        }
        // Scaled regions sample the same function; columns in any order give the same pixels.
        let region = Rect { left: 5_000, top: 7_000, right: 5_999, bottom: 7_601 };
        let small = render_picture(Picture::Tissue, region, 250, 150, true);
        for (k, px) in small.chunks(4).enumerate().step_by(97) {
            let (i, j) = (k as u64 % 250, k as u64 / 250);
            let (bx, by) = (5_000 + sample_index(i, 999, 250), 7_000 + sample_index(j, 601, 150));
            assert_eq!(px, [tissue(bx, by).as_slice(), &[255]].concat(), "pixel ({i}, {j})");
        }
        let cols: Vec<u64> = (0..3_000).rev().step_by(7).collect();
        let mut row = vec![0; cols.len() * 3];
        paint_row(4_321, &cols, &mut row, 3);
        for (px, &bx) in row.chunks(3).zip(&cols) {
            assert_eq!(px, tissue(bx, 4_321), "column {bx}");
        }
    }

    #[test]
    fn does_not_repeat() {
        // Windows of 256 x 256 some distance apart (in all directions; 256 and 1024 would catch
        // a tiled texture or a weak hash), each compared at several places: almost no pixel is
        // repeated exactly (what an LZ77 match needs), and most differ beyond the sensor noise
        // (the structure differs too, not only the noise).
        let places = [(20_000, 30_000), (3_000, 9_000), (140_000, 2_000), (61_000, 77_000)];
        let windows: Vec<Vec<u8>> = places.iter().map(|&(x, y)| render(x, y, 256, 256)).collect();
        for (dx, dy) in [(256, 0), (0, 256), (1024, 0), (0, 1024), (1024, 1024), (4096, 0), (0, 65_536)] {
            let (mut same, mut far, mut all) = (0, 0, 0);
            for (&(x, y), a) in places.iter().zip(&windows) {
                let b = render(x + dx, y + dy, 256, 256);
                for (p, q) in a.chunks(3).zip(b.chunks(3)) {
                    let d: i32 = p.iter().zip(q).map(|(&u, &v)| (i32::from(u) - i32::from(v)).abs()).sum();
                    (same, far, all) = (same + usize::from(d == 0), far + usize::from(d > 30), all + 1);
                }
            }
            let (same, far) = (same as f64 / all as f64, far as f64 / all as f64);
            assert!(same < 0.01 && far > 0.5, "({dx}, {dy}) apart: {same:.3} the same, {far:.3} far apart");
        }
    }

    #[test]
    fn looks_like_stained_tissue() {
        // Statistics of scripts/bench-png.py's he_image (2000 x 1500): means 226/187/213,
        // standard deviations 17/39/23, 37% of pixels lighter than 225 (grey), 2% darker than 150.
        for (left, top) in [(1_000, 2_000), (51_000, 7_000), (300_000, 90_000)] {
            let px = render(left, top, 1_000, 1_000);
            let channel = |c: usize| spread(px.chunks(3).map(|p| f64::from(p[c])));
            let grey: Vec<f64> = px.chunks(3).map(|p| p.iter().map(|&v| f64::from(v)).sum::<f64>() / 3.0).collect();
            let share = |f: &dyn Fn(f64) -> bool| grey.iter().filter(|&&g| f(g)).count() as f64 / grey.len() as f64;
            let (r, g, b) = (channel(0), channel(1), channel(2));
            let at = format!("at ({left}, {top}): R {r:.1?} G {g:.1?} B {b:.1?}");
            assert!(
                (205.0..240.0).contains(&r.0) && (165.0..210.0).contains(&g.0) && (195.0..230.0).contains(&b.0),
                "{at}"
            );
            assert!((10.0..40.0).contains(&r.1) && (25.0..60.0).contains(&g.1) && (10.0..40.0).contains(&b.1), "{at}");
            let (light, dark) = (share(&|g| g > 225.0), share(&|g| g < 150.0));
            assert!((0.15..0.65).contains(&light) && (0.01..0.12).contains(&dark), "{at}: light {light}, dark {dark}");
        }
    }

    #[test]
    fn colours_stay_in_range() {
        // The rounding in paint_row needs 0 <= v <= 255; the bounds are 42 and 250 (see there),
        // so a channel outside 40..=251 would mean a wrapped value.
        let px = render(77_000, 13_000, 1_500, 1_500);
        let (lo, hi) = (px.iter().min().unwrap(), px.iter().max().unwrap());
        assert!(*lo >= 40 && *hi <= 251, "channels from {lo} to {hi}");
    }
}
