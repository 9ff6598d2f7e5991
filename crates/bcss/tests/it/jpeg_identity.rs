//! Decoded pixels of real DSA region JPEGs equal Pillow's (libjpeg-turbo) bit for bit.
//!
//! The JPEGs were returned by a real Girder 3 + large_image 1.35.6 server
//! (`compat/real-dsa`); `pillow_decoded.json` holds the SHA-256 of the RGB bytes that
//! `PIL.Image.open(f).convert('RGB').tobytes()` gave (Pillow 13, libjpeg-turbo 3.2). The original
//! downloader decoded with Pillow, so any other decoder (zune-jpeg differs by 1-2 levels on these
//! very files) would change the dataset.

use sha2::{Digest, Sha256};

/// `(file name, JPEG bytes, what Pillow decoded)` of every fixture JPEG.
fn server_jpegs() -> Vec<(String, Vec<u8>, serde_json::Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jpeg");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("pillow_decoded.json")).unwrap()).unwrap();
    let entries = expected.as_object().unwrap().iter().filter(|(name, _)| !name.starts_with('_'));
    entries.map(|(name, want)| (name.clone(), std::fs::read(dir.join(name)).unwrap(), want.clone())).collect()
}

#[test]
fn server_jpegs_decode_exactly_like_pillow() {
    let fixtures = server_jpegs();
    assert_eq!(fixtures.len(), 2);
    for (name, bytes, want) in &fixtures {
        let img = bcss::codec::decode_rgb(bytes).unwrap();
        assert_eq!(img.width as u64, want["width"].as_u64().unwrap(), "{name}");
        assert_eq!(img.height as u64, want["height"].as_u64().unwrap(), "{name}");
        let px = |x: usize, y: usize| -> Vec<u64> {
            img.data[(y * img.width + x) * 3..][..3].iter().map(|&v| u64::from(v)).collect()
        };
        let mid: Vec<u64> = want["pixel_mid"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!(px(img.width / 2, img.height / 2), mid, "{name}: middle pixel");
        let digest = Sha256::digest(&img.data);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, want["sha256_rgb"].as_str().unwrap(), "{name}: RGB bytes differ from Pillow's");
    }
}

/// The row-by-row decoder (libjpeg's scanline API, what downloads stream through) gives the
/// same bytes as Pillow on the same real server JPEGs.
#[test]
fn server_jpegs_decode_row_by_row_exactly_like_pillow() {
    let fixtures = server_jpegs();
    assert_eq!(fixtures.len(), 2);
    for (name, bytes, want) in &fixtures {
        let mut rows = bcss::codec::jpeg::RowDecoder::new(&bytes[..], bcss::codec::SizeLimit::default()).unwrap();
        let mut band = vec![0u8; rows.width() * 3 * 7];
        let mut hasher = Sha256::new();
        while let n @ 1.. = rows.read_rows(&mut band).unwrap() {
            hasher.update(&band[..n * rows.width() * 3]);
        }
        rows.finish().unwrap();
        let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, want["sha256_rgb"].as_str().unwrap(), "{name}: rows differ from Pillow's");
    }
}
