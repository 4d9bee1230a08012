#![no_main]
//! The fhir_search property (fuzz/src/properties/fhir_search.rs) under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::properties::fhir_search::check(data));
