//! The read model: everything a reader asks of a node — queries over the
//! current versions of objects, text search, the facts derived across
//! authors (a partnership active when both sides stated it,
//! acknowledgements per entry, staleness), and the exports people's tools
//! read (iCalendar, CAP 1.2, Atom). Pure over the replica's store: no HTTP,
//! no CLI; the admin API, the public routes and the CLI all call it.
//!
//! Entry points: [`query::run`] with a [`query::Query`] and a
//! [`query::Context`] (names, acknowledgements, partnerships gathered once
//! per request), returning [`EntryView`]s; the `export` functions take those
//! views.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod export;
pub mod query;
mod view;

pub use view::EntryView;
