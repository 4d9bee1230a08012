#![no_main]
//! The jwt property (fuzz/src/properties/jwt.rs) under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::properties::jwt::check(data));
