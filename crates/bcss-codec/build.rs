//! Finds libjpeg-turbo with pkg-config (both of its APIs: TurboJPEG, `libturbojpeg0-dev` on
//! Debian, for whole images; libjpeg, `libjpeg62-turbo-dev`, for row-by-row decoding), and
//! builds `csrc/jpeg_rows.c` (row-by-row JPEG decoding through the libjpeg API; see the file's
//! header for why it is C). A missing library stops the build with what to install, instead
//! of a linker error later.

fn main() {
    println!("cargo:rerun-if-changed=csrc/jpeg_rows.c");
    let mut build = cc::Build::new();
    for (module, package) in [("libturbojpeg", "libturbojpeg0-dev"), ("libjpeg", "libjpeg62-turbo-dev")] {
        match pkg_config::Config::new().probe(module) {
            // The C file is compiled against the headers of the library it links.
            Ok(lib) => {
                build.includes(&lib.include_paths);
            }
            Err(e) => panic!(
                "\n\nbcss needs libjpeg-turbo's `{module}` and pkg-config could not find it.\n\
                 On Debian or Ubuntu: apt-get install pkg-config {package} (scripts/setup-system.sh \
                 installs every system package bcss needs).\n\npkg-config said: {e}\n"
            ),
        }
    }
    build.file("csrc/jpeg_rows.c").warnings(true).compile("bcss_jpeg_rows");
}
