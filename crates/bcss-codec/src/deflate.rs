//! One zlib stream made of independently compressed pieces, with libdeflate.
//!
//! Why: for the pieces of rows that hold long repeats (masks, patterns), libdeflate's match
//! search writes the smallest bytes per CPU second we measured (BENCHMARKS.md, "PNG encoding"),
//! but it only compresses whole buffers, and each buffer becomes a complete raw-deflate stream
//! whose last block has the `BFINAL` bit set. A ROI must not be held whole in memory, and one
//! large ROI should use every core, so the image data is cut into pieces that are compressed on
//! their own (on rayon) and joined into the single zlib stream PNG requires, as pigz joins zlib's pieces:
//!
//! - every piece but the last is made non-final: `final_block` walks the piece's blocks (the
//!   Huffman codes are decoded, nothing is inflated) to find the bit where the last block starts
//!   and the bit where it ends; the `BFINAL` bit is cleared, and an empty stored block (3 header
//!   bits, padding to the byte, `00 00 FF FF`, as zlib's sync flush writes) brings the stream back
//!   to a byte boundary, where the next piece's first block begins;
//! - the last piece is left final; the Adler-32 of all the uncompressed bytes closes the stream.
//!
//! A piece starts with an empty history (no back-references into the previous piece), which
//! costs a few hundred bytes per megabyte of input. Where the pieces are cut depends only on the
//! data's length, never on the number of threads, so the output is the same on every machine.
//!
//! Invariant: pure; no I/O.

use libdeflater::{CompressionLvl, Compressor};

/// Why a piece could not be made: a bug (libdeflate's output is walked as written), never input.
#[derive(Debug, thiserror::Error)]
#[error("internal error in the deflate piece walker: {0}")]
pub struct PieceError(&'static str);

/// A libdeflate compressor at `level` (1 fastest, 12 smallest).
pub(crate) fn compressor(level: i32) -> Compressor {
    Compressor::new(CompressionLvl::new(level).unwrap_or_default())
}

/// The size of `data` compressed alone (a probe of how well libdeflate does on it).
pub(crate) fn compressed_len(c: &mut Compressor, data: &[u8]) -> usize {
    let mut out = vec![0u8; c.deflate_compress_bound(data.len())];
    c.deflate_compress(data, &mut out).unwrap_or(out.len())
}

/// Compresses `data` as one piece of a raw-deflate stream. A piece that is not `last` ends on a
/// byte boundary with a non-final block, so another piece may follow it.
pub(crate) fn piece(c: &mut Compressor, data: &[u8], last: bool) -> Result<Vec<u8>, PieceError> {
    let mut out = vec![0u8; c.deflate_compress_bound(data.len()) + 5];
    let n = c.deflate_compress(data, &mut out).map_err(|_| PieceError("output bound too small"))?;
    out.truncate(n);
    if !last {
        make_non_final(&mut out)?;
    }
    Ok(out)
}

/// Clears the `BFINAL` bit of a complete raw-deflate stream and appends an empty stored block.
fn make_non_final(stream: &mut Vec<u8>) -> Result<(), PieceError> {
    let (start, end) = final_block(stream)?;
    stream[start / 8] &= !(1u8 << (start % 8));
    // Zero the padding after the end-of-block code: the empty stored block's header is 3 zero
    // bits there (BFINAL 0, BTYPE 00), then padding to the byte, then LEN 0 and NLEN 0xFFFF.
    let bytes = (end + 3).div_ceil(8);
    stream.resize(bytes, 0);
    if end % 8 != 0 {
        stream[end / 8] &= (1u8 << (end % 8)) - 1;
    }
    stream.extend_from_slice(&[0x00, 0x00, 0xFF, 0xFF]);
    Ok(())
}

/// LSB-first bit reader over a deflate stream; reads past the end are zeros and are caught by
/// [`Bits::check`].
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    /// The next `n <= 32` bits, not consumed.
    #[inline]
    fn peek(&self, n: u32) -> u32 {
        let byte = self.pos / 8;
        let word = if byte + 8 <= self.data.len() {
            u64::from_le_bytes(self.data[byte..byte + 8].try_into().expect("8 bytes"))
        } else {
            let mut b = [0u8; 8];
            let tail = self.data.get(byte..).unwrap_or(&[]);
            b[..tail.len()].copy_from_slice(tail);
            u64::from_le_bytes(b)
        };
        ((word >> (self.pos % 8)) & ((1u64 << n) - 1)) as u32
    }
    #[inline]
    fn take(&mut self, n: u32) -> u32 {
        let v = self.peek(n);
        self.pos += n as usize;
        v
    }
    fn check(&self) -> Result<(), PieceError> {
        if self.pos > self.data.len() * 8 {
            return Err(PieceError("ran past the end of the piece"));
        }
        Ok(())
    }
}

/// A canonical Huffman decoding table: entry `i` (the next `bits` bits, LSB first) holds the
/// symbol and the code length (`sym << 4 | len`), or 0 where the code is longer than `bits` (or
/// none starts): those, rare by construction, are decoded bit by bit ([`Table::decode_slow`]).
/// At most [`Table::FAST_BITS`] bits keep the table (2 KiB) in the L1 cache.
struct Table {
    bits: u32,
    entries: Vec<u16>,
    /// Codes per length, and the symbols ordered by code, for the slow path.
    count: [u16; 16],
    symbols: Vec<u16>,
}

impl Table {
    const FAST_BITS: u32 = 10;

    fn new(lengths: &[u8]) -> Result<Table, PieceError> {
        let bits = u32::from(*lengths.iter().max().unwrap_or(&0)).clamp(1, Self::FAST_BITS);
        let mut count = [0u16; 16];
        for &l in lengths {
            count[l as usize] += 1;
        }
        count[0] = 0;
        let mut next = [0u32; 16];
        let mut offsets = [0usize; 16];
        let mut code = 0u32;
        for len in 1..16 {
            code = (code + u32::from(count[len - 1])) << 1;
            next[len] = code;
            offsets[len] = offsets[len - 1] + usize::from(count[len - 1]);
        }
        let mut symbols = vec![0u16; offsets[15] + usize::from(count[15])];
        let mut entries = vec![0u16; 1 << bits];
        for (sym, &len) in lengths.iter().enumerate() {
            if len == 0 {
                continue;
            }
            let c = next[len as usize];
            next[len as usize] += 1;
            if c >= 1 << len {
                return Err(PieceError("over-subscribed Huffman code"));
            }
            symbols[offsets[len as usize]] = sym as u16;
            offsets[len as usize] += 1;
            if u32::from(len) > bits {
                continue;
            }
            let rev = c.reverse_bits() >> (32 - u32::from(len));
            let entry = (sym as u16) << 4 | u16::from(len);
            let mut i = rev as usize;
            while i < entries.len() {
                entries[i] = entry;
                i += 1 << len;
            }
        }
        Ok(Table { bits, entries, count, symbols })
    }

    #[inline]
    fn decode(&self, b: &mut Bits) -> Result<usize, PieceError> {
        let e = self.entries[b.peek(self.bits) as usize];
        if e == 0 {
            return self.decode_slow(b);
        }
        b.pos += usize::from(e & 15);
        Ok(usize::from(e >> 4))
    }

    /// A code of any length, one bit at a time (canonical decoding, as zlib's `puff`).
    fn decode_slow(&self, b: &mut Bits) -> Result<usize, PieceError> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= b.take(1) as i32;
            let count = i32::from(self.count[len]);
            if code - first < count {
                return Ok(usize::from(self.symbols[(index + code - first) as usize]));
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(PieceError("invalid Huffman code"))
    }
}

const LEN_EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_EXTRA: [u8; 30] =
    [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CL_ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// The bit where the final block of a complete raw-deflate stream starts, and the bit just after
/// its end-of-block code.
pub(crate) fn final_block(stream: &[u8]) -> Result<(usize, usize), PieceError> {
    let mut b = Bits { data: stream, pos: 0 };
    loop {
        let start = b.pos;
        let is_final = b.take(1) == 1;
        match b.take(2) {
            0 => {
                b.pos = b.pos.div_ceil(8) * 8;
                let len = b.take(16) as usize;
                b.pos += 16 + 8 * len;
            }
            1 => {
                let mut lengths = [0u8; 288 + 32];
                lengths[..144].fill(8);
                lengths[144..256].fill(9);
                lengths[256..280].fill(7);
                lengths[280..288].fill(8);
                lengths[288..].fill(5);
                codes(&mut b, &lengths[..288], &lengths[288..])?;
            }
            2 => {
                let hlit = b.take(5) as usize + 257;
                let hdist = b.take(5) as usize + 1;
                let hclen = b.take(4) as usize + 4;
                let mut cl = [0u8; 19];
                for &i in &CL_ORDER[..hclen] {
                    cl[i] = b.take(3) as u8;
                }
                let cl_table = Table::new(&cl)?;
                let mut lengths = [0u8; 288 + 32];
                let mut i = 0;
                while i < hlit + hdist {
                    let (value, repeat) = match cl_table.decode(&mut b)? {
                        s @ 0..=15 => (s as u8, 1),
                        16 if i > 0 => (lengths[i - 1], 3 + b.take(2) as usize),
                        17 => (0, 3 + b.take(3) as usize),
                        18 => (0, 11 + b.take(7) as usize),
                        _ => return Err(PieceError("bad code-length code")),
                    };
                    if i + repeat > hlit + hdist {
                        return Err(PieceError("code lengths overrun"));
                    }
                    lengths[i..i + repeat].fill(value);
                    i += repeat;
                }
                b.check()?;
                codes(&mut b, &lengths[..hlit], &lengths[hlit..hlit + hdist])?;
            }
            _ => return Err(PieceError("reserved block type")),
        }
        b.check()?;
        if is_final {
            return Ok((start, b.pos));
        }
    }
}

/// Skips the codes of one Huffman block, up to and including its end-of-block code.
///
/// The hot loop of the walk (one step per literal or match): while 8 bytes remain it works on
/// one 64-bit load per match or per up to three literals (a code is at most 15 bits, a match at
/// most 48 with its extra bits); the last bytes go through [`Bits`].
fn codes(b: &mut Bits, litlen: &[u8], dist: &[u8]) -> Result<(), PieceError> {
    let lit = Table::new(litlen)?;
    let dist = Table::new(dist)?;
    let (lmask, dmask) = ((1u64 << lit.bits) - 1, (1u64 << dist.bits) - 1);
    let data = b.data;
    let fast_end = data.len().saturating_sub(8) * 8;
    let mut pos = b.pos;
    'fast: while pos < fast_end {
        let mut word = u64::from_le_bytes(data[pos / 8..pos / 8 + 8].try_into().expect("8 bytes")) >> (pos % 8);
        // 56 or more valid bits: three literals of up to 15 bits, or one match of up to 48.
        for _ in 0..3 {
            let e = lit.entries[(word & lmask) as usize];
            let (mut len, mut sym) = (u32::from(e & 15), usize::from(e >> 4));
            let slow = len == 0;
            if slow {
                b.pos = pos;
                sym = lit.decode_slow(b)?;
                len = (b.pos - pos) as u32;
            }
            if sym < 256 {
                if slow {
                    // `word` may not hold the whole long code: reload.
                    pos += len as usize;
                    continue 'fast;
                }
                pos += len as usize;
                word >>= len;
                continue;
            }
            if sym == 256 {
                b.pos = pos + len as usize;
                return Ok(());
            }
            let extra = u32::from(*LEN_EXTRA.get(sym - 257).ok_or(PieceError("bad length code"))?);
            // Reload: a match can take 15 + 5 + 15 + 13 bits.
            pos += (len + extra) as usize;
            if pos >= fast_end {
                // The distance code is in the last bytes: read it bit by bit.
                b.pos = pos;
                let d = dist.decode(b)?;
                pos = b.pos + *DIST_EXTRA.get(d).ok_or(PieceError("bad distance code"))? as usize;
                continue 'fast;
            }
            let w = u64::from_le_bytes(data[pos / 8..pos / 8 + 8].try_into().expect("8 bytes")) >> (pos % 8);
            let e = dist.entries[(w & dmask) as usize];
            let (mut len, mut sym) = (u32::from(e & 15), usize::from(e >> 4));
            if len == 0 {
                b.pos = pos;
                sym = dist.decode_slow(b)?;
                len = (b.pos - pos) as u32;
            }
            pos += len as usize + *DIST_EXTRA.get(sym).ok_or(PieceError("bad distance code"))? as usize;
            continue 'fast;
        }
    }
    b.pos = pos;
    codes_tail(b, &lit, &dist)
}

/// [`codes`] for the last bytes of a piece, through [`Bits`] (which reads zeros past the end).
fn codes_tail(b: &mut Bits, lit: &Table, dist: &Table) -> Result<(), PieceError> {
    let limit = b.data.len() * 8;
    loop {
        match lit.decode(b)? {
            0..=255 => {}
            256 => return Ok(()),
            s @ 257..=285 => {
                b.pos += LEN_EXTRA[s - 257] as usize;
                let d = dist.decode(b)?;
                b.pos += *DIST_EXTRA.get(d).ok_or(PieceError("bad distance code"))? as usize;
            }
            _ => return Err(PieceError("bad length code")),
        }
        if b.pos > limit {
            return Err(PieceError("ran past the end of the piece"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            match rng.u8(0..4) {
                // Runs, repeats and noise: every block type and long matches.
                0 => v.extend(std::iter::repeat_n(rng.u8(..), rng.usize(1..300))),
                1 if v.len() > 40000 => {
                    let from = rng.usize(v.len() - 40000..v.len() - 100);
                    let len = rng.usize(3..100);
                    v.extend_from_within(from..from + len);
                }
                _ => v.extend((0..rng.usize(1..2000)).map(|_| rng.u8(..))),
            }
        }
        v.truncate(n);
        v
    }

    /// Pieces joined with a zlib header and trailer inflate (with zlib-rs) to the input.
    fn joined(data: &[u8], piece_len: usize, level: i32) -> Vec<u8> {
        let mut c = compressor(level);
        let mut z = vec![0x78, 0x9C];
        let mut chunks: Vec<&[u8]> = data.chunks(piece_len).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for (i, chunk) in chunks.iter().enumerate() {
            z.extend(piece(&mut c, chunk, i + 1 == chunks.len()).unwrap());
        }
        z.extend(libdeflater::adler32(data).to_be_bytes());
        z
    }

    #[test]
    fn pieces_join_into_one_stream_at_every_level() {
        for (seed, level) in [(1, 1), (2, 4), (3, 5), (4, 6), (5, 9), (6, 12)] {
            let data = sample(700_000, seed);
            for piece_len in [1000, 65_536, 300_001] {
                let z = joined(&data, piece_len, level);
                let mut back = Vec::new();
                flate2::read::ZlibDecoder::new(&z[..]).read_to_end(&mut back).unwrap();
                assert!(back == data, "level {level}, pieces of {piece_len}: inflated bytes differ");
            }
        }
    }

    #[test]
    fn the_final_block_is_found_in_stored_and_fixed_streams() {
        // Incompressible data gives stored blocks; a tiny input a fixed-code block.
        let mut c = compressor(6);
        let noise: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for data in [&noise[..], b"abcabcabc", b""] {
            let z = joined(data, 70_000, 6);
            let mut back = Vec::new();
            flate2::read::ZlibDecoder::new(&z[..]).read_to_end(&mut back).unwrap();
            assert_eq!(back, data);
            let p = piece(&mut c, data, true).unwrap();
            let (_, end) = final_block(&p).unwrap();
            assert_eq!(end.div_ceil(8), p.len(), "the walk ends in the last byte");
        }
        assert!(final_block(&[0xFF, 0xFF]).is_err(), "a reserved block type is refused");
        assert!(final_block(&[0x04]).is_err(), "a stream cut short is refused");
    }
}
