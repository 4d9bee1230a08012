//! The properties the fuzz targets check, one module per parser. The same file is
//! compiled into `tests/fuzz_regressions.rs`, which runs every seed and every kept
//! finding through it with `cargo test` (no nightly needed).

pub mod properties;
