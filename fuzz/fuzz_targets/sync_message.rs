//! Fuzz target: `yui_net::fuzz::sync_message` (see that module for the invariants).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yui_net::fuzz::sync_message(data));
