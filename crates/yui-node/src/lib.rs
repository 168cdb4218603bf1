//! yui-node: one municipality's node — config, home folder, wiring, the
//! admin API, the public routes and backups. The `yui` command line is the
//! `yui` crate; benchmarks, the demo and sample content are `yui-lab`.
//!
//! # Layout
//! - [`config`]: the typed `config.toml` with defaults and `YUI_*` overrides.
//! - [`home`]: the home folder (keys with 0600 checks, token, data).
//! - [`node`]: [`Node::start`](node::Node::start) wires store, replica,
//!   federation server, dial loops and admin API; `shutdown` drains them.
//! - [`admin`] and [`api`]: the loopback JSON API the CLI speaks.
//! - [`public`]: the public routes on the federation port.
//! - Queries, search and exports: the `yui-read` crate
//!   ([`yui_read::ReadModel`], held in [`admin::AdminState`]).
//! - [`metrics`]: Prometheus text for `/metrics`.
//! - [`client`]: the CLI's admin API client.
//! - [`backup`]: `yui backup` (consistent copy of a running node) and
//!   `yui restore` (never forks: publishing held until peers confirm).
//! - [`progress`]: entries done, rate and time left of long work.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin;
pub mod api;
pub mod audiences;
pub mod backup;
pub mod client;
pub mod config;
pub mod desk;
pub mod home;
pub mod http1;
pub mod metrics;
pub mod node;
pub mod pages;
pub mod progress;
pub mod public;
pub mod publish;
pub mod staff;

/// Installs the tracing subscriber: `filter` as for `RUST_LOG`, `format`
/// `text` or `json`. Logs go to standard error.
pub fn init_tracing(filter: &str, format: &str) {
    // The storage engine reports every open as "recovering": routine, and
    // it reads as a repair to an operator. Its warnings and errors stay.
    let filter = if filter.contains("fjall") || filter.contains("lsm_tree") {
        filter.to_owned()
    } else {
        format!("{filter},fjall=warn,lsm_tree=warn")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
