//! An Atom (RFC 4287) feed of CAP messages, one entry per readiness entry,
//! the CAP `alert` inline as XML content.

use std::fmt::Write;

use yui_core::{Body, NodeId};

use super::{cap, xml_escape as x};
use crate::EntryView;

fn atom_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The feed of `entries` (readiness only) as published by `node`.
pub fn feed(entries: &[EntryView], node: &NodeId, name: &str, lang: &str) -> String {
    let updated = entries.iter().map(|e| e.created_at).max().unwrap_or(0);
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    o.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">");
    let _ = write!(o, "<id>urn:yui:{node}:readiness</id>");
    let _ = write!(o, "<title>{}</title>", x(&format!("yui: {name}")));
    let _ = write!(o, "<updated>{}</updated>", atom_time(updated));
    let _ = write!(o, "<author><name>{}</name></author>", x(name));
    let _ = write!(
        o,
        "<generator version=\"{}\">yui</generator>",
        env!("CARGO_PKG_VERSION")
    );
    for e in entries {
        let Body::Readiness(r) = &e.body else {
            continue;
        };
        let Some(alert) = cap::alert(e) else { continue };
        let who = e
            .author_name
            .clone()
            .unwrap_or_else(|| e.author.to_string());
        let headline = r.headline.get(lang).unwrap_or("");
        o.push_str("<entry>");
        let _ = write!(o, "<id>urn:yui:entry:{}</id>", e.id);
        let title = if headline.is_empty() {
            format!("{who}: alert level {}", r.alert_level)
        } else {
            format!("{who}: {headline}")
        };
        let _ = write!(o, "<title>{}</title>", x(&title));
        let _ = write!(o, "<updated>{}</updated>", atom_time(e.created_at));
        let _ = write!(o, "<author><name>{}</name></author>", x(&who));
        let _ = write!(o, "<category term=\"alert-level-{}\"/>", r.alert_level);
        if e.stale {
            o.push_str("<category term=\"stale\"/>");
        }
        let _ = write!(o, "<content type=\"application/cap+xml\">{alert}</content>");
        o.push_str("</entry>");
    }
    o.push_str("</feed>\n");
    o
}
