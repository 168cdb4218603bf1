//! yui-lab: what is measured and shown, not run in production.
//!
//! - [`bench`]: `yui bench` — figures measured on this machine beside the
//!   limits they chase (ingest, sync, node, relay, propagation, simulation,
//!   query).
//! - [`demo`]: `yui demo` — a local network of municipalities and a relay on
//!   loopback, on embedded defaults.
//! - [`samples`]: realistic content in Japanese and English for the demo,
//!   the benchmarks and the tests.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bench;
pub mod demo;
pub mod samples;
pub mod vectors;
