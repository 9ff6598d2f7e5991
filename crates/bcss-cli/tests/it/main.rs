//! Integration tests: the real `bcss` binary against servers on 127.0.0.1 and files in
//! temporary directories. One test binary (`it`), one module per area.

mod analysis;
mod badinput;
mod browser;
mod cli;
mod compat;
#[cfg(feature = "openslide")]
mod compat_extract;
#[cfg(feature = "openslide")]
mod compat_gdc;
mod download;
mod edges;
mod errors;
#[cfg(feature = "openslide")]
mod extract;
mod faults;
mod firsthour;
#[cfg(feature = "openslide")]
mod gdc;
mod harness;
mod help;
mod hostile;
mod limits;
mod lock;
mod masks;
mod normalize;
mod report;
mod resume;
#[cfg(unix)]
mod soak;
mod tls;
mod util;
