#![no_main]
//! The filter property (fuzz/src/properties/filter.rs) under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::properties::filter::check(data));
