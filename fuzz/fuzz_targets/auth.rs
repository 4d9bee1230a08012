#![no_main]
//! The auth property (fuzz/src/properties/auth.rs) under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::properties::auth::check(data));
