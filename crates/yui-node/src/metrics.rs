//! Prometheus text exposition of a node's counters and link states.
//!
//! Two pages: the full one ([`render`], admin API, behind the token) names
//! every peer by address and node id; the public one ([`render_public`],
//! `/metrics` on the federation port) has the node's own counters and only
//! counts of links by state, so an anonymous reader cannot map the network.

use std::fmt::Write;

use yui_net::{LinkState, PeerTable};
use yui_sync::Replica;

/// The full metrics page, per peer (admin API).
pub fn render(replica: &Replica, table: &PeerTable) -> String {
    let mut o = node_part(replica);
    peer_part(&mut o, table);
    o
}

/// The public metrics page: no peer addresses or ids, links counted by
/// state.
pub fn render_public(replica: &Replica, table: &PeerTable) -> String {
    let mut o = node_part(replica);
    let links = table.snapshot();
    let _ = writeln!(
        o,
        "# HELP yui_links Links of this node by state (per-peer detail is on the admin API).\n# TYPE yui_links gauge"
    );
    for (st, name) in [
        (LinkState::Connected, "connected"),
        (LinkState::Connecting, "connecting"),
        (LinkState::Backoff, "backoff"),
    ] {
        let n = links.iter().filter(|p| p.state == st).count();
        let _ = writeln!(o, "yui_links{{state=\"{name}\"}} {n}");
    }
    o
}

fn node_part(replica: &Replica) -> String {
    let c = replica.counters().snapshot();
    let mut o = String::new();
    let mut counter = |name: &str, help: &str, v: u64| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    };
    counter(
        "yui_entries_accepted_total",
        "Entries from peers or bundles stored.",
        c.accepted,
    );
    counter(
        "yui_entries_published_total",
        "Own entries published.",
        c.published,
    );
    counter(
        "yui_entries_duplicate_total",
        "Entries offered that were already held.",
        c.duplicate,
    );
    counter(
        "yui_forks_detected_total",
        "Forks detected or learnt.",
        c.forks_detected,
    );
    counter(
        "yui_gaps_total",
        "Batches that arrived ahead of a gap.",
        c.gaps,
    );
    let _ = writeln!(
        o,
        "# HELP yui_entries_refused_total Entries refused, by reason.\n# TYPE yui_entries_refused_total counter"
    );
    for (reason, v) in [
        ("untrusted", c.refused_untrusted),
        ("signature", c.refused_signature),
        ("invalid", c.refused_invalid),
        ("chain", c.refused_chain),
        ("forked", c.refused_forked),
        ("rate", c.refused_rate),
    ] {
        let _ = writeln!(o, "yui_entries_refused_total{{reason=\"{reason}\"}} {v}");
    }
    let _ = writeln!(
        o,
        "# HELP yui_limit_exceeded_total Times a peer went past a configured limit, by limit.\n# TYPE yui_limit_exceeded_total counter"
    );
    for (limit, v) in [
        ("max_message_bytes", c.limit_message_bytes),
        ("max_batch_entries", c.limit_batch_entries),
        ("max_streams_per_peer", c.limit_streams_per_peer),
        (
            "max_connections_per_address",
            c.limit_connections_per_address,
        ),
        ("want_heads", c.limit_want_heads),
    ] {
        let _ = writeln!(o, "yui_limit_exceeded_total{{limit=\"{limit}\"}} {v}");
    }
    let _ = writeln!(
        o,
        "# HELP yui_handshakes_refused_total Inbound handshakes refused, by reason.\n# TYPE yui_handshakes_refused_total counter"
    );
    for (reason, v) in [
        ("bad_proof", c.handshake_bad_proof),
        ("untrusted", c.handshake_untrusted),
        ("timeout", c.handshake_timeout),
        ("protocol", c.handshake_protocol),
    ] {
        let _ = writeln!(o, "yui_handshakes_refused_total{{reason=\"{reason}\"}} {v}");
    }
    let _ = writeln!(
        o,
        "# HELP yui_sync_bytes_total Bytes of Sync messages, by direction.\n# TYPE yui_sync_bytes_total counter\nyui_sync_bytes_total{{direction=\"sent\"}} {}\nyui_sync_bytes_total{{direction=\"received\"}} {}",
        c.sync_bytes_sent, c.sync_bytes_received
    );
    let counters = replica.counters();
    for (name, help, h) in [
        (
            "yui_verify_seconds",
            "Time to verify the signatures of one batch of entries.",
            counters.verify_seconds.snapshot(),
        ),
        (
            "yui_store_seconds",
            "Time to check and store one batch of verified entries.",
            counters.store_seconds.snapshot(),
        ),
    ] {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (le, n) in &h.buckets {
            let _ = writeln!(o, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(
            o,
            "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}",
            h.count, h.sum, h.count
        );
    }
    let entries = replica.store().entry_count().unwrap_or(0);
    let authors = replica.store().heads().map(|h| h.len()).unwrap_or(0);
    let _ = writeln!(
        o,
        "# HELP yui_entries Entries held.\n# TYPE yui_entries gauge\nyui_entries {entries}"
    );
    let bytes = replica.store().entry_bytes().unwrap_or(0);
    let _ = writeln!(
        o,
        "# HELP yui_entry_bytes Total size of the entries held, in bytes.\n# TYPE yui_entry_bytes gauge\nyui_entry_bytes {bytes}"
    );
    let _ = writeln!(o, "# HELP yui_authors Authors with entries held.\n# TYPE yui_authors gauge\nyui_authors {authors}");
    let _ = writeln!(
        o,
        "# HELP yui_publishing_held 1 while publishing is held after a restore.\n# TYPE yui_publishing_held gauge\nyui_publishing_held {}",
        u8::from(replica.is_held())
    );
    o
}

fn peer_part(o: &mut String, table: &PeerTable) {
    let links = table.snapshot();
    let _ = writeln!(
        o,
        "# HELP yui_peer_up 1 for a link with a running session.\n# TYPE yui_peer_up gauge"
    );
    for p in &links {
        let peer = p.node_id.map(|i| i.to_string()).unwrap_or_default();
        let _ = writeln!(
            o,
            "yui_peer_up{{addr=\"{}\",direction=\"{}\",peer=\"{peer}\"}} {}",
            p.addr,
            p.direction,
            u8::from(p.state == LinkState::Connected)
        );
    }
    let _ = writeln!(o, "# HELP yui_peer_behind Entries the peer lacks that this node holds.\n# TYPE yui_peer_behind gauge");
    for p in &links {
        let peer = p.node_id.map(|i| i.to_string()).unwrap_or_default();
        let _ = writeln!(
            o,
            "yui_peer_behind{{addr=\"{}\",direction=\"{}\",peer=\"{peer}\"}} {}",
            p.addr, p.direction, p.peer_behind
        );
    }
    let _ = writeln!(o, "# HELP yui_peer_missing Entries the peer holds that this node lacks (catch-up left).\n# TYPE yui_peer_missing gauge");
    for p in &links {
        let peer = p.node_id.map(|i| i.to_string()).unwrap_or_default();
        let _ = writeln!(
            o,
            "yui_peer_missing{{addr=\"{}\",direction=\"{}\",peer=\"{peer}\"}} {}",
            p.addr, p.direction, p.missing
        );
    }
    let _ = writeln!(
        o,
        "# HELP yui_peer_queue Messages queued for the peer.\n# TYPE yui_peer_queue gauge"
    );
    for p in &links {
        let peer = p.node_id.map(|i| i.to_string()).unwrap_or_default();
        let _ = writeln!(
            o,
            "yui_peer_queue{{addr=\"{}\",direction=\"{}\",peer=\"{peer}\"}} {}",
            p.addr, p.direction, p.queue
        );
    }
    let _ = writeln!(
        o,
        "# HELP yui_peer_state Link state (1 for the current one).\n# TYPE yui_peer_state gauge"
    );
    for p in &links {
        let peer = p.node_id.map(|i| i.to_string()).unwrap_or_default();
        for (name, st) in [
            ("connecting", LinkState::Connecting),
            ("connected", LinkState::Connected),
            ("down", LinkState::Backoff),
        ] {
            let _ = writeln!(
                o,
                "yui_peer_state{{addr=\"{}\",direction=\"{}\",peer=\"{peer}\",state=\"{name}\"}} {}",
                p.addr,
                p.direction,
                u8::from(p.state == st)
            );
        }
    }
}

/// The search index's gauge: entries indexed (behind the store by
/// `yui_entries` minus this while it builds).
pub fn index_part(indexed: u64) -> String {
    format!(
        "# HELP yui_index_entries Entries the search index holds.\n# TYPE yui_index_entries gauge\nyui_index_entries {indexed}\n"
    )
}
