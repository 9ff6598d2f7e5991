//! Integration tests of the library: one test binary (`it`), one module per area.

mod crates;
mod htk_masks;
mod jpeg_identity;
mod public_api;
mod reinhard;
