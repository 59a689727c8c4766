//! Fuzzes pets_web::fuzz::vote: a whole POST /vote, cookies and body, on the
//! embedded store; no input may panic or hang it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pets_web::fuzz::vote(data));
