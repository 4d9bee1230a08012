#![no_main]
//! The timestamp property (fuzz/src/properties/timestamp.rs) under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::properties::timestamp::check(data));
