//! Exports people's tools already read: iCalendar (RFC 5545) for events,
//! CAP 1.2 for readiness, an Atom feed of CAP messages, and JSON.
//!
//! Each exporter is a pure function of entries (already queried) to text.

pub mod atom;
pub mod cap;
pub mod ical;

/// Escapes text for XML content and attributes.
/// `s` without the characters XML 1.0 forbids (quick-xml escapes the rest).
pub fn xml_chars(s: &str) -> String {
    s.chars()
        .filter(|c| (*c as u32) >= 0x20 || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// Escapes text for XML (the Atom writer).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 forbids.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// RFC 3339 with an explicit `+00:00` offset (CAP forbids `Z`).
pub fn cap_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
}
