//! One line per entry for people.

use yui_core::Body;

use yui_node::api::EntryView;

fn lower<T: std::fmt::Debug>(v: T) -> String {
    format!("{v:?}").to_lowercase()
}

/// A line describing `e`, texts in `lang` where possible.
pub fn line(e: &EntryView, lang: &str) -> String {
    let who = e.author_name.clone().unwrap_or_else(|| e.author.short());
    let t = |x: &yui_core::LocalizedText| x.get(lang).unwrap_or("").to_owned();
    let stale = if e.stale { " [stale]" } else { "" };
    let what = match &e.body {
        Body::Event(ev) => format!("{:<26} {:<10} {}", ev.start, lower(ev.status), t(&ev.title)),
        Body::Readiness(r) => format!(
            "readiness  level {}  {}{}{}",
            r.alert_level,
            t(&r.headline),
            r.shelter
                .as_ref()
                .map(|s| format!("  shelter {}/{}", s.available, s.capacity))
                .unwrap_or_default(),
            if e.acknowledged_by.is_empty() {
                String::new()
            } else {
                format!("  acknowledged by {}", e.acknowledged_by.len())
            }
        ),
        Body::Case(c) => format!("case  {:<20} {}", lower(c.policy_area), t(&c.title)),
        Body::CallForPartners(c) => format!(
            "call  {:<5} {:<20} {}",
            lower(c.kind),
            lower(c.policy_area),
            t(&c.title)
        ),
        Body::Partnership(p) => format!(
            "partnership  {} with {} ({})",
            lower(p.kind),
            p.partner.short(),
            e.partnership.as_deref().unwrap_or("pending")
        ),
        Body::Profile(p) => format!("profile  {} {}", t(&p.name), p.code),
        Body::Acknowledgement(a) => format!("ack  {}", &a.entry_id.to_hex()[..16]),
        Body::Retraction(_) => "retraction".to_owned(),
        _ => e.kind.clone(),
    };
    format!("{what}{stale}  [{who}, {}]", e.object_id)
}

/// A search snippet for a terminal: the hits between 【 and 】.
pub fn snippet(s: &yui_read::Snippet) -> String {
    let mut out = String::new();
    let mut at = 0;
    for &(from, to) in &s.marks {
        let (Some(before), Some(hit)) = (s.text.get(at..from), s.text.get(from..to)) else {
            continue;
        };
        out.push_str(before);
        out.push('【');
        out.push_str(hit);
        out.push('】');
        at = to;
    }
    out.push_str(s.text.get(at..).unwrap_or_default());
    out.replace('\n', " ")
}
