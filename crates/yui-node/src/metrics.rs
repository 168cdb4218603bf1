//! A node's counters and link states in the OpenMetrics text format,
//! written by `prometheus-client`. That crate writes label values as given
//! (prometheus/client_rust#151), so every value here goes through
//! [`Escaped`]: a peer's address is whatever an operator typed, and a quote
//! or line feed in it must not break the page for the scraper.
//!
//! Two pages: the full one ([`render`], admin API, behind the token) names
//! every peer by address and node id; the public one ([`render_public`],
//! `/metrics` on the federation port) has the node's own counters and only
//! counts of links by state, so an anonymous reader cannot map the network.
//! Values are read once per scrape from the replica's counters (a
//! [`Collector`] over one snapshot): nothing is kept twice.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use yui_net::{LinkState, PeerStatus, PeerTable};
use yui_sync::HistogramSnapshot;
use yui_sync::Replica;

/// The content type of both pages.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A label value escaped as the text formats require (`\\`, `\"`, `\n`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Escaped(String);

impl EncodeLabelValue for Escaped {
    fn encode(&self, enc: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        for c in self.0.chars() {
            match c {
                '\\' => enc.write_str("\\\\")?,
                '"' => enc.write_str("\\\"")?,
                '\n' => enc.write_str("\\n")?,
                c => enc.write_char(c)?,
            }
        }
        Ok(())
    }
}

type Labels = Vec<(&'static str, Escaped)>;

/// A metric's name, help and series.
type Family<V> = (&'static str, &'static str, Vec<(Labels, V)>);

/// One scrape's values.
#[derive(Debug)]
struct Scrape {
    counters: Vec<Family<u64>>,
    gauges: Vec<Family<i64>>,
    histograms: Vec<(&'static str, &'static str, HistogramSnapshot)>,
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, help, series) in &self.counters {
            family(
                &mut enc,
                name,
                help,
                MetricType::Counter,
                series,
                ConstCounter::new,
            )?;
        }
        for (name, help, series) in &self.gauges {
            family(
                &mut enc,
                name,
                help,
                MetricType::Gauge,
                series,
                ConstGauge::new,
            )?;
        }
        for (name, help, h) in &self.histograms {
            let mut m = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
            // The snapshot counts cumulatively; the encoder adds up per
            // bucket itself, and takes `f64::MAX` for +Inf.
            let mut buckets: Vec<(f64, u64)> = Vec::with_capacity(h.buckets.len() + 1);
            let mut below = 0;
            for (le, cumulative) in &h.buckets {
                buckets.push((*le, cumulative.saturating_sub(below)));
                below = *cumulative;
            }
            buckets.push((f64::MAX, h.count.saturating_sub(below)));
            m.encode_histogram::<Labels>(h.sum, h.count, &buckets, None)?;
        }
        Ok(())
    }
}

/// One metric and its series; a single series without labels is written
/// as `name_total 10`, not `name_total{} 10`.
fn family<V: Copy, M: EncodeMetric>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    series: &[(Labels, V)],
    make: impl Fn(V) -> M,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    match series {
        [(labels, v)] if labels.is_empty() => make(*v).encode(m),
        _ => {
            for (labels, v) in series {
                make(*v).encode(m.encode_family(labels)?)?;
            }
            Ok(())
        }
    }
}

fn one(v: u64) -> Vec<(Labels, u64)> {
    vec![(Vec::new(), v)]
}

fn by(label: &'static str, values: &[(&str, u64)]) -> Vec<(Labels, u64)> {
    values
        .iter()
        .map(|(k, v)| (vec![(label, Escaped((*k).to_owned()))], *v))
        .collect()
}

fn node_part(replica: &Replica, indexed: u64) -> Scrape {
    let c = replica.counters().snapshot();
    let counters = vec![
        (
            "yui_entries_accepted",
            "Entries from peers or bundles stored.",
            one(c.accepted),
        ),
        (
            "yui_entries_published",
            "Own entries published.",
            one(c.published),
        ),
        (
            "yui_entries_duplicate",
            "Entries offered that were already held.",
            one(c.duplicate),
        ),
        (
            "yui_forks_detected",
            "Forks detected or learnt.",
            one(c.forks_detected),
        ),
        (
            "yui_gaps",
            "Batches that arrived ahead of a gap.",
            one(c.gaps),
        ),
        (
            "yui_entries_refused",
            "Entries refused, by reason.",
            by(
                "reason",
                &[
                    ("untrusted", c.refused_untrusted),
                    ("signature", c.refused_signature),
                    ("invalid", c.refused_invalid),
                    ("chain", c.refused_chain),
                    ("forked", c.refused_forked),
                    ("rate", c.refused_rate),
                ],
            ),
        ),
        (
            "yui_limit_exceeded",
            "Times a peer went past a configured limit, by limit.",
            by(
                "limit",
                &[
                    ("max_message_bytes", c.limit_message_bytes),
                    ("max_batch_entries", c.limit_batch_entries),
                    ("max_streams_per_peer", c.limit_streams_per_peer),
                    (
                        "max_connections_per_address",
                        c.limit_connections_per_address,
                    ),
                    ("want_heads", c.limit_want_heads),
                ],
            ),
        ),
        (
            "yui_handshakes_refused",
            "Inbound handshakes refused, by reason.",
            by(
                "reason",
                &[
                    ("bad_proof", c.handshake_bad_proof),
                    ("untrusted", c.handshake_untrusted),
                    ("timeout", c.handshake_timeout),
                    ("protocol", c.handshake_protocol),
                ],
            ),
        ),
        (
            "yui_sync_bytes",
            "Bytes of Sync messages, by direction.",
            by(
                "direction",
                &[
                    ("sent", c.sync_bytes_sent),
                    ("received", c.sync_bytes_received),
                ],
            ),
        ),
        (
            "yui_sync_wants_sent",
            "Want messages sent to peers (openings, replies, repairs).",
            vec![(Labels::new(), c.sync_wants_sent)],
        ),
        (
            "yui_sync_lane_entries_sent",
            "Entries sent to peers on the urgent lane (readiness, aid, acknowledgements).",
            vec![(Labels::new(), c.sync_lane_entries_sent)],
        ),
        (
            "yui_sync_heads_announced",
            "Heads announced to relays instead of their entries (lazy push).",
            vec![(Labels::new(), c.sync_heads_announced)],
        ),
        (
            "yui_sync_grafts",
            "Authors asked for after a peer announced a head still missing here after the grace time.",
            vec![(Labels::new(), c.sync_grafts)],
        ),
        (
            "yui_store_bulk_yields",
            "Times a bulk batch being stored let a waiting small write (a readiness update, a publish) go first.",
            vec![(Labels::new(), c.bulk_yields)],
        ),
    ];
    let store = replica.store();
    let gauge = |v: u64| vec![(Labels::new(), i64::try_from(v).unwrap_or(i64::MAX))];
    let gauges = vec![
        (
            "yui_entries",
            "Entries held.",
            gauge(store.entry_count().unwrap_or(0)),
        ),
        (
            "yui_entry_bytes",
            "Total size of the entries held, in bytes.",
            gauge(store.entry_bytes().unwrap_or(0)),
        ),
        (
            "yui_authors",
            "Authors with entries held.",
            gauge(store.heads().map(|h| h.len() as u64).unwrap_or(0)),
        ),
        (
            "yui_publishing_held",
            "1 while publishing is held after a restore.",
            gauge(u64::from(replica.is_held())),
        ),
        (
            "yui_index_entries",
            "Entries the search index holds.",
            gauge(indexed),
        ),
    ];
    let counters_ = replica.counters();
    let histograms = vec![
        (
            "yui_verify_seconds",
            "Time to verify the signatures of one batch of entries.",
            counters_.verify_seconds.snapshot(),
        ),
        (
            "yui_store_seconds",
            "Time to check and store one batch of verified entries.",
            counters_.store_seconds.snapshot(),
        ),
    ];
    Scrape {
        counters,
        gauges,
        histograms,
    }
}

fn text(scrape: Scrape) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String does not fail");
    out
}

fn peer_labels(p: &PeerStatus) -> Labels {
    vec![
        ("addr", Escaped(p.addr.clone())),
        ("direction", Escaped(p.direction.to_string())),
        (
            "peer",
            Escaped(p.node_id.map(|i| i.to_string()).unwrap_or_default()),
        ),
    ]
}

/// The full metrics page, per peer (admin API).
pub fn render(replica: &Replica, table: &PeerTable, indexed: u64) -> String {
    let mut s = node_part(replica, indexed);
    let links = table.snapshot();
    let per = |f: &dyn Fn(&PeerStatus) -> i64| -> Vec<(Labels, i64)> {
        links.iter().map(|p| (peer_labels(p), f(p))).collect()
    };
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    s.gauges.push((
        "yui_peer_up",
        "1 for a link with a running session.",
        per(&|p| i64::from(p.state == LinkState::Connected)),
    ));
    s.gauges.push((
        "yui_peer_behind",
        "Entries the peer lacks that this node holds.",
        per(&|p| clamp(p.peer_behind)),
    ));
    s.gauges.push((
        "yui_peer_missing",
        "Entries the peer holds that this node lacks (catch-up left).",
        per(&|p| clamp(p.missing)),
    ));
    s.gauges.push((
        "yui_peer_queue",
        "Messages queued for the peer.",
        per(&|p| clamp(p.queue as u64)),
    ));
    let mut states = Vec::new();
    for p in &links {
        for (name, st) in [
            ("connecting", LinkState::Connecting),
            ("connected", LinkState::Connected),
            ("down", LinkState::Backoff),
        ] {
            let mut l = peer_labels(p);
            l.push(("state", Escaped(name.to_owned())));
            states.push((l, i64::from(p.state == st)));
        }
    }
    s.gauges.push((
        "yui_peer_state",
        "Link state (1 for the current one).",
        states,
    ));
    text(s)
}

/// The public metrics page: no peer addresses or ids, links counted by
/// state.
pub fn render_public(replica: &Replica, table: &PeerTable, indexed: u64) -> String {
    let mut s = node_part(replica, indexed);
    let links = table.snapshot();
    let count = |st: LinkState| links.iter().filter(|p| p.state == st).count() as i64;
    s.gauges.push((
        "yui_links",
        "Links of this node by state (per-peer detail is on the admin API).",
        [
            (LinkState::Connected, "connected"),
            (LinkState::Connecting, "connecting"),
            (LinkState::Backoff, "backoff"),
        ]
        .into_iter()
        .map(|(st, name)| (vec![("state", Escaped(name.to_owned()))], count(st)))
        .collect(),
    ));
    text(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let s = Scrape {
            counters: Vec::new(),
            gauges: vec![(
                "yui_peer_up",
                "x",
                vec![(
                    vec![("addr", Escaped("evil\\\"} 1\nyui_fake 1".to_owned()))],
                    1,
                )],
            )],
            histograms: Vec::new(),
        };
        let out = text(s);
        assert!(!out.contains("\nyui_fake"), "{out}");
        assert!(out.contains(r#"addr="evil\\\"} 1\nyui_fake 1""#), "{out}");
        assert!(out.trim_end().ends_with("# EOF"));
    }
}
