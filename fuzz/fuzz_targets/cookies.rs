//! Fuzzes pets_web::fuzz::cookies: no input may panic or hang it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pets_web::fuzz::cookies(data));
