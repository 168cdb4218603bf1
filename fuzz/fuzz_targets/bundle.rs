//! Fuzz target: `yui_net::fuzz::bundle` (see that module for the invariants).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yui_net::fuzz::bundle(data));
