//! Deflate without a match search: each block's own Huffman codes over the bytes, plus runs of
//! zeros (matches at distance 1).
//!
//! Why our own: the filtered rows of a photographic image (H&E tissue after a JPEG round trip)
//! hold almost no repeats worth a back-reference. There the match search that is most of
//! zlib's and libdeflate's time buys nothing, and their greedy and lazy parsers even lose
//! bytes: short matches cost more than the literals they replace. On the 4806 x 3870 H&E-like
//! benchmark image (BENCHMARKS.md, "PNG encoding") Huffman codes fitted to every 64 KiB of
//! filtered rows are smaller than zlib level 6 (Pillow's default) and libdeflate level 5, at a
//! small fraction of their CPU. What remains worth a match in such rows is flat colour (glass,
//! white gaps, saturated areas): after filtering, runs of zeros, which distance-1 matches take. Content full of longer repeats (label masks, synthetic test patterns) is still better
//! served by libdeflate; [`super::encoder`] decides that per piece.
//!
//! No crate does this: zlib's `Z_HUFFMAN_ONLY`/`Z_RLE` strategies are the same idea inside a
//! general deflate (several times slower, and with one Huffman code per 16 K symbols chosen
//! by zlib's block heuristics), and `fdeflate` uses one fixed code tuned for typical PNGs,
//! about 8% larger on tissue.
//!
//! Output: a raw-deflate piece of non-final dynamic-Huffman blocks (RFC 1951, 3.2.7), ended by
//! an empty stored block when more pieces follow (back on a byte boundary, as zlib's sync flush)
//! or by an empty final block. Pieces made on different threads join by concatenation.
//!
//! Invariant: pure; no I/O.

/// Input bytes per block: each block gets codes fitted to its own bytes (a header is about
/// 80 bytes, 0.2% of a block's output on tissue; finer blocks follow changes of content).
pub(crate) const BLOCK_BYTES: usize = 1 << 16;

/// Shortest run of zeros after a zero that is coded as a match: a match costs about 8-12 bits,
/// a literal of flat colour 1-2 bits.
const MIN_RUN: usize = 8;

/// Deflate's longest match.
const MAX_MATCH: usize = 258;

/// The order in which code-length code lengths are sent (RFC 1951, 3.2.7).
const CL_ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// Length symbol (257..=285), extra bits and extra value for every match length 3..=258.
const LENGTHS: [(u16, u8, u16); 259] = length_table();

const fn length_table() -> [(u16, u8, u16); 259] {
    // Base length and extra bits of symbols 257..=285 (RFC 1951, 3.2.5).
    const BASE: [u16; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
        258,
    ];
    const EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
    let mut t = [(0u16, 0u8, 0u16); 259];
    let mut s = 0;
    while s < 29 {
        let mut len = BASE[s];
        let end = if s == 28 { 259 } else { BASE[s + 1] };
        while len < end {
            t[len as usize] = (257 + s as u16, EXTRA[s], len - BASE[s]);
            len += 1;
        }
        s += 1;
    }
    t
}

/// Compresses `data` as one piece of a raw-deflate stream (see the module docs). A piece that is
/// not `last` ends on a byte boundary with a non-final block, so another piece may follow.
/// Also returns the bits each block took, in order (a caller compares them with other coders).
pub(crate) fn piece(data: &[u8], last: bool) -> (Vec<u8>, Vec<u64>) {
    let mut w = BitWriter::with_capacity(data.len() + data.len() / 4 + 1024);
    let mut sizes = Vec::with_capacity(data.len().div_ceil(BLOCK_BYTES));
    let mut runs = Vec::new();
    for block in data.chunks(BLOCK_BYTES) {
        // A code is at most 15 bits, a match (length, extra, distance) at most 21 bits for 3 or
        // more bytes, a header under 400 bytes: two bytes a byte is room enough.
        w.reserve(2 * block.len() + 512);
        let before = w.bits();
        write_block(&mut w, block, &mut runs);
        sizes.push(w.bits() - before);
    }
    w.reserve(16);
    if last {
        // An empty final block with the fixed codes: BFINAL 1, BTYPE 01, end-of-block (7 zeros).
        w.put(0b011, 3);
        w.put(0, 7);
    } else {
        // An empty stored block: BFINAL 0, BTYPE 00, padding to the byte, LEN 0, NLEN 0xFFFF.
        w.put(0, 3);
        w.align();
        w.put(0xFFFF_0000, 32);
    }
    (w.finish(), sizes)
}

/// A run of zero bytes after a zero byte: coded as matches at distance 1.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    len: usize,
}

/// Finds the runs of zero bytes in `block` that hold an aligned 8-byte word of zeros (so the
/// search looks at one word per 8 bytes: runs of 15 zeros or more are always found, shorter ones
/// sometimes, which costs a few bits). A run's first zero stays a literal, the rest is the
/// match, so a run starts one byte into the zeros; [`MIN_RUN`] bytes at least.
///
/// Why zeros only: flat colour, the one repeat left in the filtered rows of tissue, filters to
/// zeros with every PNG filter.
fn find_runs(block: &[u8], runs: &mut Vec<Run>) {
    runs.clear();
    let mut w = 0;
    while w + 8 <= block.len() {
        if block[w..w + 8] != [0; 8] {
            w += 8;
            continue;
        }
        let first = block[..w].iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        let end = w + block[w..].iter().position(|&b| b != 0).unwrap_or(block.len() - w);
        if end - first > MIN_RUN {
            runs.push(Run { start: first + 1, len: end - first - 1 });
        }
        w = end.next_multiple_of(8);
    }
}

/// Splits a run into match lengths of 3..=258 (a tail of 1 or 2 bytes stays literals).
fn match_lengths(mut len: usize, mut each: impl FnMut(usize)) -> usize {
    while len >= 3 {
        let take = if len > MAX_MATCH && len - MAX_MATCH < 3 { len - 3 } else { len.min(MAX_MATCH) };
        each(take);
        len -= take;
    }
    len
}

/// Writes `block` as one non-final dynamic-Huffman block.
fn write_block(w: &mut BitWriter, block: &[u8], runs: &mut Vec<Run>) {
    find_runs(block, runs);
    // Symbol counts: every byte, less the bytes inside matches, plus the length symbols.
    let mut freq = [0u32; 286];
    histogram(block, &mut freq);
    for r in runs.iter() {
        let tail = match_lengths(r.len, |m| {
            freq[usize::from(LENGTHS[m].0)] += 1;
        });
        freq[0] -= (r.len - tail) as u32;
    }
    freq[256] = 1;
    let mut lit_len = [0u8; 286];
    code_lengths(&freq, 15, &mut lit_len);
    let lit_code = canonical_codes(&lit_len);
    // Distance 1 is the only distance used: code 0. Two codes of one bit keep the code complete.
    let dist_len = [1u8, 1];
    write_header(w, &lit_len, &dist_len);

    let mut at = 0;
    for r in runs.iter() {
        write_literals(w, &block[at..r.start], &lit_code, &lit_len);
        let tail = match_lengths(r.len, |m| {
            let (sym, extra, bits) = LENGTHS[m];
            let s = usize::from(sym);
            // Length code, its extra bits, then distance code 0 (one bit, 0): at most 21 bits.
            let word = u64::from(lit_code[s]) | (u64::from(bits) << lit_len[s]);
            w.put(word, u32::from(lit_len[s]) + u32::from(extra) + 1);
        });
        for _ in 0..tail {
            w.put(u64::from(lit_code[0]), u32::from(lit_len[0]));
        }
        at = r.start + r.len;
    }
    write_literals(w, &block[at..], &lit_code, &lit_len);
    w.put(u64::from(lit_code[256]), u32::from(lit_len[256]));
}

/// Counts the bytes of `data` into `freq[0..256]`, in four tables so that runs of one byte do
/// not wait on their own increments.
fn histogram(data: &[u8], freq: &mut [u32; 286]) {
    let mut t = [[0u32; 256]; 4];
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        t[0][usize::from(q[0])] += 1;
        t[1][usize::from(q[1])] += 1;
        t[2][usize::from(q[2])] += 1;
        t[3][usize::from(q[3])] += 1;
    }
    for &b in quads.remainder() {
        t[0][usize::from(b)] += 1;
    }
    for (i, f) in freq.iter_mut().take(256).enumerate() {
        *f = t[0][i] + t[1][i] + t[2][i] + t[3][i];
    }
}

/// Writes bytes as literals, three to a flush of the bit buffer (3 x 15 bits fit beside 7).
fn write_literals(w: &mut BitWriter, bytes: &[u8], code: &[u16; 286], len: &[u8; 286]) {
    let mut triples = bytes.chunks_exact(3);
    for t in &mut triples {
        let (a, b, c) = (usize::from(t[0]), usize::from(t[1]), usize::from(t[2]));
        let (la, lb) = (u32::from(len[a]), u32::from(len[b]));
        let word = u64::from(code[a]) | (u64::from(code[b]) << la) | (u64::from(code[c]) << (la + lb));
        w.put(word, la + lb + u32::from(len[c]));
    }
    for &b in triples.remainder() {
        w.put(u64::from(code[usize::from(b)]), u32::from(len[usize::from(b)]));
    }
}

/// Writes a dynamic block's header: BFINAL 0, BTYPE 10, and the two codes' lengths, themselves
/// run-length coded with a code-length code (RFC 1951, 3.2.7).
fn write_header(w: &mut BitWriter, lit_len: &[u8; 286], dist_len: &[u8]) {
    let hlit = 257 + lit_len[257..].iter().rposition(|&l| l != 0).map_or(0, |p| p + 1);
    let all: Vec<u8> = lit_len[..hlit].iter().chain(dist_len).copied().collect();
    // (symbol, extra bits, extra value) of the code-length alphabet.
    let mut items: Vec<(u8, u8, u8)> = Vec::with_capacity(all.len());
    let mut i = 0;
    while i < all.len() {
        let l = all[i];
        let run = all[i..].iter().take_while(|&&x| x == l).count();
        let mut left = run;
        if l == 0 {
            while left >= 11 {
                let k = left.min(138);
                items.push((18, 7, (k - 11) as u8));
                left -= k;
            }
            if left >= 3 {
                items.push((17, 3, (left - 3) as u8));
                left = 0;
            }
        } else {
            items.push((l, 0, 0));
            left -= 1;
            while left >= 3 {
                let k = left.min(6);
                items.push((16, 2, (k - 3) as u8));
                left -= k;
            }
        }
        items.extend(std::iter::repeat_n((l, 0, 0), left));
        i += run;
    }
    let mut cl_freq = [0u32; 19];
    for &(s, _, _) in &items {
        cl_freq[usize::from(s)] += 1;
    }
    let mut cl_len = [0u8; 19];
    code_lengths(&cl_freq, 7, &mut cl_len);
    let cl_code = canonical_codes(&cl_len);
    let hclen = 4.max(CL_ORDER.iter().rposition(|&s| cl_len[s] != 0).map_or(0, |p| p + 1));

    w.put(0b100, 3);
    w.put((hlit - 257) as u64, 5);
    w.put((dist_len.len() - 1) as u64, 5);
    w.put((hclen - 4) as u64, 4);
    for &s in &CL_ORDER[..hclen] {
        w.put(u64::from(cl_len[s]), 3);
    }
    for (s, extra, value) in items {
        let s = usize::from(s);
        w.put(u64::from(cl_code[s]) | (u64::from(value) << cl_len[s]), u32::from(cl_len[s]) + u32::from(extra));
    }
}

/// Huffman code lengths for `freq`, none over `limit` bits, into `lens` (0 for unused symbols).
/// The code is always complete: a single used symbol gets a one-bit partner (zlib's inflate
/// refuses incomplete code-length codes).
fn code_lengths(freq: &[u32], limit: u32, lens: &mut [u8]) {
    lens.fill(0);
    // Used symbols, least frequent first (ties by symbol, so the result is deterministic).
    let mut leaves: Vec<(u32, u16)> =
        freq.iter().enumerate().filter(|&(_, &f)| f > 0).map(|(s, &f)| (f, s as u16)).collect();
    match leaves.len() {
        0 => return,
        1 => {
            let s = usize::from(leaves[0].1);
            lens[s] = 1;
            lens[usize::from(s == 0)] = 1;
            return;
        }
        _ => {}
    }
    leaves.sort_unstable();
    let n = leaves.len();
    // Huffman's construction with two queues: the sorted leaves, and the internal nodes, which
    // are made in order of weight. Node k < n is leaf k; node k >= n is internal.
    let mut weight: Vec<u64> = leaves.iter().map(|&(f, _)| u64::from(f)).collect();
    weight.resize(2 * n - 1, 0);
    let mut parent = vec![0usize; 2 * n - 1];
    let (mut next_leaf, mut next_inner) = (0, n);
    for k in n..2 * n - 1 {
        let mut take = || {
            let use_leaf = next_leaf < n && (next_inner >= k || weight[next_leaf] <= weight[next_inner]);
            if use_leaf {
                next_leaf += 1;
                next_leaf - 1
            } else {
                next_inner += 1;
                next_inner - 1
            }
        };
        let (a, b) = (take(), take());
        weight[k] = weight[a] + weight[b];
        parent[a] = k;
        parent[b] = k;
    }
    // Depths from the root down: a parent's index is always above its children's.
    let mut depth = vec![0u32; 2 * n - 1];
    for k in (0..2 * n - 2).rev() {
        depth[k] = depth[parent[k]] + 1;
    }
    // Counts per length, the too-long ones cut to the limit; then the code is made whole again
    // (its Kraft sum back to 1) by moving leaves one level down, one unit of excess at a time.
    let mut count = [0u32; 16];
    for &d in &depth[..n] {
        count[d.min(limit) as usize] += 1;
    }
    let full = 1u64 << limit;
    let mut total: u64 = (1..=limit).map(|l| u64::from(count[l as usize]) << (limit - l)).sum();
    while total > full {
        count[limit as usize] -= 1;
        let i = (1..limit).rev().find(|&i| count[i as usize] > 0).expect("a shorter code exists while over full");
        count[i as usize] -= 1;
        count[i as usize + 1] += 2;
        total -= 1;
    }
    // The longest codes to the least frequent symbols.
    let mut next = leaves.iter();
    for l in (1..=limit).rev() {
        for _ in 0..count[l as usize] {
            let &(_, s) = next.next().expect("as many lengths as leaves");
            lens[usize::from(s)] = l as u8;
        }
    }
}

/// Canonical codes for `lens` (RFC 1951, 3.2.2), bit-reversed for LSB-first output.
fn canonical_codes<const N: usize>(lens: &[u8; N]) -> [u16; N] {
    let mut count = [0u16; 16];
    for &l in lens {
        count[usize::from(l)] += 1;
    }
    count[0] = 0;
    let mut next = [0u16; 16];
    let mut code = 0u16;
    for l in 1..16 {
        code = (code + count[l - 1]) << 1;
        next[l] = code;
    }
    let mut codes = [0u16; N];
    for (c, &l) in codes.iter_mut().zip(lens) {
        if l > 0 {
            let v = next[usize::from(l)];
            next[usize::from(l)] += 1;
            *c = v.reverse_bits() >> (16 - l);
        }
    }
    codes
}

/// LSB-first bit output into a buffer with room for every `put` of a block: each `put` stores
/// the whole 64-bit accumulator and advances by the whole bytes in it (no per-byte loop, no
/// length-dependent copy).
struct BitWriter {
    out: Vec<u8>,
    /// Bytes of `out` written (the rest is room).
    pos: usize,
    buf: u64,
    n: u32,
}

impl BitWriter {
    fn with_capacity(bytes: usize) -> BitWriter {
        BitWriter { out: vec![0; bytes + 8], pos: 0, buf: 0, n: 0 }
    }

    /// Makes room for `bytes` more output bytes.
    fn reserve(&mut self, bytes: usize) {
        if self.out.len() < self.pos + bytes + 8 {
            self.out.resize((self.pos + bytes + 8).max(2 * self.out.len()), 0);
        }
    }

    /// Appends the low `n <= 56` bits of `bits` (the rest zero). The caller has reserved room.
    #[inline(always)]
    fn put(&mut self, bits: u64, n: u32) {
        debug_assert!(n <= 56 && bits >> n == 0, "{n} bits: {bits:#x}");
        self.buf |= bits << self.n;
        self.n += n;
        self.out[self.pos..self.pos + 8].copy_from_slice(&self.buf.to_le_bytes());
        let bytes = self.n / 8;
        self.pos += bytes as usize;
        // At most 7 + 56 bits: a shift of at most 56.
        self.buf >>= 8 * bytes;
        self.n %= 8;
    }

    /// Bits written so far.
    fn bits(&self) -> u64 {
        self.pos as u64 * 8 + u64::from(self.n)
    }

    /// Pads with zero bits to the next byte.
    fn align(&mut self) {
        if self.n > 0 {
            self.put(0, 8 - self.n);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.align();
        self.out.truncate(self.pos);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inflates a raw-deflate stream with zlib-rs (an independent decoder).
    fn inflate(raw: &[u8], size: usize) -> Vec<u8> {
        let mut d = flate2::Decompress::new(false);
        let mut out = vec![0u8; size + 16];
        let status = d.decompress(raw, &mut out, flate2::FlushDecompress::Finish).expect("valid deflate");
        assert_eq!(status, flate2::Status::StreamEnd, "the stream ends");
        assert_eq!(d.total_in() as usize, raw.len(), "the whole stream is used");
        out.truncate(d.total_out() as usize);
        out
    }

    fn kraft(lens: &[u8]) -> f64 {
        lens.iter().filter(|&&l| l > 0).map(|&l| 0.5f64.powi(i32::from(l))).sum()
    }

    #[test]
    fn lengths_are_complete_and_limited() {
        // Fibonacci weights make a degenerate tree far deeper than 15.
        let mut fib = vec![1u32, 1];
        while fib.len() < 30 {
            let k = fib.len();
            fib.push(fib[k - 1] + fib[k - 2]);
        }
        let mut lens = [0u8; 30];
        code_lengths(&fib, 15, &mut lens);
        assert!(lens.iter().all(|&l| (1..=15).contains(&l)), "{lens:?}");
        assert!((kraft(&lens) - 1.0).abs() < 1e-12, "{lens:?}");
        // The most frequent symbol never gets a longer code than a less frequent one.
        for i in 1..30 {
            assert!(lens[i] <= lens[i - 1], "{lens:?}");
        }
        let mut lens = [0u8; 19];
        code_lengths(&[5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 7, &mut lens);
        assert_eq!((lens[0], lens[1]), (1, 1), "one symbol gets a partner");
        code_lengths(&[0; 19], 7, &mut lens);
        assert!(lens.iter().all(|&l| l == 0));
    }

    #[test]
    fn pieces_join_and_inflate_to_the_input() {
        let mut rng = fastrand::Rng::with_seed(7);
        // Noise, runs of every length around the thresholds, a long flat stretch, and skewed bytes.
        let mut data: Vec<u8> = (0..100_000).map(|_| rng.u8(..)).collect();
        for len in [1, 2, 3, 7, 8, 9, 10, 15, 16, 17, 258, 259, 260, 261, 262, 516, 1000] {
            data.extend(std::iter::repeat_n(0, len));
            data.push(rng.u8(1..));
            data.extend(std::iter::repeat_n(rng.u8(..), len));
        }
        data.extend(std::iter::repeat_n(0u8, 200_000));
        data.extend((0..150_000).map(|_| if rng.u8(..) < 250 { 0 } else { rng.u8(..) }));
        let (a, b) = data.split_at(123_457);
        let (pa, sizes) = piece(a, false);
        let (pb, _) = piece(b, true);
        assert_eq!(sizes.len(), a.len().div_ceil(BLOCK_BYTES));
        let mut joined = pa;
        joined.extend(pb);
        assert!(inflate(&joined, data.len()) == data);
        // Flat data costs a few bits a run, not a bit a byte.
        let (flat, _) = piece(&[0u8; 1 << 20], true);
        assert!(flat.len() < 2000, "{} bytes", flat.len());
    }

    #[test]
    fn tiny_and_empty_pieces_inflate() {
        for data in [&b""[..], b"a", b"ab", b"aaaaaaaaaaaaaaaaaaaaaaaaaa", &[0u8; 3]] {
            let (z, _) = piece(data, true);
            assert_eq!(inflate(&z, data.len()), data);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_round_trip(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..5000),
                                flat in 0usize..600, cut in 0usize..5000) {
            let mut data = data;
            let at = cut.min(data.len());
            data.splice(at..at, std::iter::repeat_n(0u8, flat));
            let (first, second) = data.split_at(at);
            let (mut z, _) = piece(first, false);
            z.extend(piece(second, true).0);
            proptest::prop_assert_eq!(inflate(&z, data.len()), data);
        }
    }
}
