//! The one font of bcss's pictures: DejaVu Sans (Bitstream Vera derivative, free licence in
//! `fonts/LICENSE-DejaVu.txt`), embedded in the library so a bitmap has the same text on every
//! machine and nothing is read from the system.

use std::sync::OnceLock;

/// The TrueType file.
pub const DEJAVU_SANS: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

/// The family name charts ask for.
pub const FAMILY: &str = "sans-serif";

/// Registers the font with `plotters` under [`FAMILY`] (once per process). Returns false if the
/// embedded file could not be read as a font (never expected; text is then left out of bitmaps).
pub fn ensure_registered() -> bool {
    static DONE: OnceLock<bool> = OnceLock::new();
    *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, DEJAVU_SANS).is_ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_font_registers() {
        assert!(super::ensure_registered());
        assert!(super::ensure_registered(), "a second call is a no-op that still says yes");
    }
}
