//! Fuzz targets of mpns-proto: the checks (`checks`, shared with
//! `mpns-proto/tests/fuzz_regressions.rs`) and the `arbitrary` inputs of the
//! structured targets (`arb`). See README.md.

pub mod arb;
pub mod checks;
