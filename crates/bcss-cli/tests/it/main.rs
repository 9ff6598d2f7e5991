//! Integration tests: the real `bcss` binary against servers on 127.0.0.1 and files in
//! temporary directories. One test binary (`it`), one module per area.

mod util;
mod badinput;
mod cli;
mod compat;
mod tls;
mod download;
#[cfg(feature = "openslide")]
mod compat_extract;
#[cfg(feature = "openslide")]
mod extract;
mod masks;
mod harness;
mod faults;
mod resume;
mod analysis;
