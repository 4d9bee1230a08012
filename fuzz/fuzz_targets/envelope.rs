#![no_main]
//! The envelope property (fuzz/src/properties/envelope.rs) under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::properties::envelope::check(data));
