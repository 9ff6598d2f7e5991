//! Integration tests: the real `bcss` binary against servers on 127.0.0.1 and files in
//! temporary directories. One test binary (`it`), one module per area.

mod util;
mod cli;
mod analysis;
