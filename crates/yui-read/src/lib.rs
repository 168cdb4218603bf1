//! The read model: everything a reader asks of a node — queries over the
//! current versions of objects, text search, the facts derived across
//! authors (a partnership active when both sides stated it,
//! acknowledgements per entry, staleness), and the exports people's tools
//! read (iCalendar, CAP 1.2, Atom). Pure over the replica's store: no HTTP,
//! no CLI; the admin API, the public routes and the CLI all call it.
//!
//! Entry points: [`ReadModel`] (open it over a replica, keep its index
//! current with [`ReadModel::follow`], ask it [`ReadModel::query`] with a
//! [`query::Query`]: a [`Page`] of [`EntryView`]s); the `export` functions
//! take those views. [`analyzer`] is the dictionary-free text analysis for
//! Japanese, Chinese, Korean and Latin text; [`index`] the tantivy index
//! and its watermark.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod aid;
pub mod analyzer;
pub mod export;
pub mod index;
pub mod keyring;
mod model;
mod plan;
pub mod query;
pub mod receipt;
pub mod restricted;
mod view;

pub use index::{CatchUp, IndexError, ReadIndex};
pub use keyring::{Closed, Keyring, KeyringError, Opened, SealedRef};
pub use model::{
    IndexCheck, Page, ReadModel, FOLLOW_GATHER, FOLLOW_GATHER_ENTRIES, FOLLOW_GATHER_MAX,
    FOLLOW_STEP,
};
pub use view::{EntryView, SealedView, Snippet};
