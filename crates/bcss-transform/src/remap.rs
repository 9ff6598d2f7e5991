//! Remapping label codes to classes through a 256-entry lookup table.
//!
//! The table comes from `ClassMap::lut` (`bcss::catalog::classmap`): code -> class
//! value (0 don't care, 1..=K classes), [`NOT_A_CODE`] for bytes that are not BCSS codes. A mask
//! holding such a byte is refused with the first offending value and its position, never
//! silently mapped.
//!
//! Example with `main5`: codes `[0, 1, 19, 7, 10]` become `[0, 1, 1, 0, 3]`.

use bcss_model::NOT_A_CODE;

/// A byte of a mask that is not a BCSS code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("value {value} at pixel {index} is not a code of the class map")]
pub struct BadCode {
    /// The value.
    pub value: u8,
    /// Its offset in the buffer (row-major pixel index).
    pub index: usize,
}

/// Replaces every byte of `data` by `lut[byte]`. A byte that maps to [`NOT_A_CODE`] is refused
/// (the first one, with its value and index) and `data` is left unchanged.
pub fn remap_in_place(data: &mut [u8], lut: &[u8; 256]) -> Result<(), BadCode> {
    if let Some(index) = data.iter().position(|&b| lut[b as usize] == NOT_A_CODE) {
        return Err(BadCode { value: data[index], index });
    }
    for b in data.iter_mut() {
        *b = lut[*b as usize];
    }
    Ok(())
}

/// `dst[i] = lut[src[i]]`, refusing bytes that map to [`NOT_A_CODE`] with their exact value.
pub fn remap_into(src: &[u8], dst: &mut [u8], lut: &[u8; 256]) -> Result<(), BadCode> {
    let mut bad = false;
    for (d, &s) in dst.iter_mut().zip(src) {
        let v = lut[s as usize];
        bad |= v == NOT_A_CODE;
        *d = v;
    }
    if bad {
        let index = dst.iter().position(|&b| b == NOT_A_CODE).expect("a bad byte was seen");
        return Err(BadCode { value: src[index], index });
    }
    Ok(())
}

/// Adds the byte counts of `data` to `hist`.
pub fn count_into(data: &[u8], hist: &mut [u64; 256]) {
    // Masks are made of long runs of one value: a block of 16 equal bytes is counted with one
    // comparison and one addition. Other blocks go to four partial tables, which break the
    // store-to-load dependency between neighbouring equal bytes.
    let mut parts = [[0u32; 256]; 4];
    for chunk in data.chunks(1 << 30) {
        let mut it = chunk.chunks_exact(16);
        for block in &mut it {
            let b = block[0];
            let word = u128::from_ne_bytes(block.try_into().expect("16 bytes"));
            if word == u128::from_ne_bytes([b; 16]) {
                parts[0][b as usize] += 16;
                continue;
            }
            for q in block.chunks_exact(4) {
                parts[0][q[0] as usize] += 1;
                parts[1][q[1] as usize] += 1;
                parts[2][q[2] as usize] += 1;
                parts[3][q[3] as usize] += 1;
            }
        }
        for &b in it.remainder() {
            parts[0][b as usize] += 1;
        }
        for p in &mut parts {
            for (h, c) in hist.iter_mut().zip(p.iter_mut()) {
                *h += *c as u64;
                *c = 0;
            }
        }
    }
}

/// Folds a histogram of codes into class counts `[dont_care, class 1, ..., class K]`. Returns
/// the first byte value present that is not a code of the map.
pub fn fold_counts(hist: &[u64; 256], lut: &[u8; 256], num_classes: usize) -> Result<Vec<u64>, u8> {
    let mut out = vec![0u64; num_classes + 1];
    for (code, &n) in hist.iter().enumerate() {
        if n == 0 {
            continue;
        }
        match lut[code] {
            NOT_A_CODE => return Err(code as u8),
            v => out[v as usize] += n,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_one_at_a_time_on_runs_and_noise() {
        // Runs of every length around the 16-byte blocks, then noise, at every alignment.
        let mut data = Vec::new();
        for len in 0..40u8 {
            data.extend(std::iter::repeat_n(len % 7, usize::from(len)));
        }
        data.extend((0..1000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
        for start in 0..17 {
            let mut h = [0u64; 256];
            count_into(&data[start..], &mut h);
            let mut want = [0u64; 256];
            for &b in &data[start..] {
                want[b as usize] += 1;
            }
            assert_eq!(h, want, "from {start}");
        }
    }
}
