//! yui-core: what every part of yui agrees on, with no I/O.
//!
//! # Layout
//! - [`keys`]: [`SecretKey`] (zeroized on drop), [`PublicKey`], [`Signature`]
//!   and the one signature validity rule (ZIP-215 plus weak-key rejection)
//!   shared by single and batch verification.
//! - [`node_id`]: [`NodeId`], the identity of a node or author, with one text
//!   form (`yui1…`, bech32m) used everywhere.
//! - [`entry`]: [`Entry`], [`SignedEntry`], [`EntryId`]: the signed log entry
//!   and its id.
//! - [`audience`]: restricted parts ([`audience::Sealed`]), audience epochs,
//!   withdrawal, and the HPKE and AEAD that seal them.
//! - [`content`]: entry bodies ([`Body`]) and localized text.
//! - [`validate`]: structural checks and the chain rule ([`ChainCheck`]).
//!
//! The wire encoding of [`Entry`] is protobuf and lives in `yui-net`; this
//! crate sees an entry's bytes only as bytes to sign and verify.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audience;
pub mod content;
pub mod entry;
pub mod keys;
pub mod node_id;
pub mod validate;

pub use content::{Body, Kind, LocalizedText};
pub use entry::{Entry, EntryId, Head, SignedEntry};
pub use keys::{PublicKey, SecretKey, Signature, VerifyError};
pub use node_id::{NodeId, ParseNodeIdError};
pub use validate::{ChainCheck, Limits, ValidationError};

/// Unix time in milliseconds, the one clock unit yui uses on the wire.
pub type UnixMillis = i64;
