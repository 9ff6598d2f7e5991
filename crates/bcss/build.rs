//! Builds `csrc/jpeg_rows.c` (row-by-row JPEG decoding through libjpeg-turbo's libjpeg API; see
//! the file's header for why it is C) and links libjpeg (`libjpeg62-turbo-dev` on Debian,
//! installed by scripts/setup-system.sh).

fn main() {
    println!("cargo:rerun-if-changed=csrc/jpeg_rows.c");
    cc::Build::new().file("csrc/jpeg_rows.c").warnings(true).compile("bcss_jpeg_rows");
    println!("cargo:rustc-link-lib=jpeg");
}
