//! CAP 1.2 (OASIS Common Alerting Protocol) for readiness entries: one
//! `alert` per entry, one `info` per language, the area by local government
//! code (`JP-LGCode` geocode).
//!
//! Mapping of Japan's evacuation alert level (警戒レベル) to CAP:
//! 5 → Immediate/Extreme, 4 → Immediate/Severe, 3 → Expected/Moderate,
//! 1-2 → Future/Minor, 0 → Unknown/Unknown. Levels 4-5 carry responseType
//! Evacuate, level 3 Prepare.

use yui_core::content::{OperationalStatus, Readiness, ResourceMessageType};
use yui_core::{Body, LocalizedText};

use quick_xml::events::BytesText;
use quick_xml::Writer;

use super::{cap_time, xml_chars as x};
use crate::EntryView;

/// The CAP 1.2 namespace.
pub const NS: &str = "urn:oasis:names:tc:emergency:cap:1.2";

fn urgency_severity(level: u32) -> (&'static str, &'static str) {
    match level {
        5 => ("Immediate", "Extreme"),
        4 => ("Immediate", "Severe"),
        3 => ("Expected", "Moderate"),
        1 | 2 => ("Future", "Minor"),
        _ => ("Unknown", "Unknown"),
    }
}

fn status(s: OperationalStatus) -> &'static str {
    match s {
        OperationalStatus::Normal => "normal",
        OperationalStatus::Degraded => "degraded",
        OperationalStatus::Down => "down",
    }
}

fn languages(r: &Readiness) -> Vec<String> {
    let mut langs: Vec<String> = Vec::new();
    for t in [&r.headline, &r.description] {
        for (l, _) in &t.0 {
            if !langs.iter().any(|k| k.eq_ignore_ascii_case(l)) {
                langs.push(l.clone());
            }
        }
    }
    if langs.is_empty() {
        langs.push("ja".into());
    }
    langs
}

fn get<'a>(t: &'a LocalizedText, lang: &str) -> &'a str {
    t.get(lang).unwrap_or("")
}

fn description(r: &Readiness, lang: &str) -> String {
    let ja = lang.starts_with("ja");
    let mut d = get(&r.description, lang).to_owned();
    let mut add = |s: String| {
        if !d.is_empty() {
            d.push('\n');
        }
        d.push_str(&s);
    };
    for s in &r.supplies {
        add(format!(
            "{}: {} {} {}",
            if ja {
                "提供可能物資"
            } else {
                "Supplies offered"
            },
            get(&s.item, lang),
            s.quantity,
            s.unit
        ));
    }
    for s in &r.staff {
        add(format!(
            "{}: {} × {} ({} {})",
            if ja {
                "派遣可能職員"
            } else {
                "Staff deployable"
            },
            get(&s.skill, lang),
            s.count,
            s.days,
            if ja { "日" } else { "days" }
        ));
    }
    if let Some(sh) = &r.shelter {
        add(format!(
            "{}: {}/{}{}",
            if ja {
                "避難者受入れ"
            } else {
                "Shelter places"
            },
            sh.available,
            sh.capacity,
            match (sh.accepts_outside_evacuees, ja) {
                (true, true) => "（域外避難者受入れ可）",
                (true, false) => " (outside evacuees welcome)",
                _ => "",
            }
        ));
    }
    for m in &r.resources {
        add(format!(
            "EDXL-RM {}: {} {} {}",
            resource_type(m.kind),
            get(&m.item, lang),
            m.quantity,
            m.unit
        ));
    }
    d
}

fn resource_type(t: ResourceMessageType) -> &'static str {
    match t {
        ResourceMessageType::Request => "RequestResource",
        ResourceMessageType::Offer => "OfferUnsolicitedResource",
        ResourceMessageType::Commit => "CommitResource",
        ResourceMessageType::Decline => "DeclineResource",
        ResourceMessageType::Cancel => "CancelResource",
        ResourceMessageType::Release => "ReleaseResource",
    }
}

/// The `alert` element for one readiness entry (no XML declaration), or
/// `None` for another kind. Written by quick-xml, which escapes text;
/// characters XML 1.0 forbids are dropped first.
pub fn alert(e: &EntryView) -> Option<String> {
    let Body::Readiness(r) = &e.body else {
        return None;
    };
    let mut w = Writer::new(Vec::new());
    write_alert(&mut w, e, r).expect("writing to memory does not fail");
    Some(String::from_utf8(w.into_inner()).expect("quick-xml writes UTF-8"))
}

/// `<name>text</name>`.
fn el<W: std::io::Write>(w: &mut Writer<W>, name: &str, text: &str) -> std::io::Result<()> {
    let clean = x(text);
    w.create_element(name)
        .write_text_content(BytesText::new(&clean))?;
    Ok(())
}

fn write_alert<W: std::io::Write>(
    w: &mut Writer<W>,
    e: &EntryView,
    r: &Readiness,
) -> std::io::Result<()> {
    let (urgency, severity) = urgency_severity(r.alert_level);
    w.create_element("alert")
        .with_attribute(("xmlns", NS))
        .write_inner_content(|w| {
            el(w, "identifier", &e.id)?;
            el(w, "sender", &e.author.to_string())?;
            el(w, "sent", &cap_time(e.created_at))?;
            el(w, "status", if r.exercise { "Exercise" } else { "Actual" })?;
            el(w, "msgType", if e.version > 1 { "Update" } else { "Alert" })?;
            el(w, "source", "yui")?;
            el(w, "scope", "Public")?;
            for lang in languages(r) {
                w.create_element("info")
                    .write_inner_content(|w| write_info(w, e, r, &lang, urgency, severity))?;
            }
            Ok(())
        })?;
    Ok(())
}

fn write_info<W: std::io::Write>(
    w: &mut Writer<W>,
    e: &EntryView,
    r: &Readiness,
    lang: &str,
    urgency: &str,
    severity: &str,
) -> std::io::Result<()> {
    el(w, "language", lang)?;
    el(w, "category", "Safety")?;
    el(
        w,
        "event",
        if lang.starts_with("ja") {
            "災害対応状況"
        } else {
            "Disaster readiness status"
        },
    )?;
    match r.alert_level {
        4 | 5 => el(w, "responseType", "Evacuate")?,
        3 => el(w, "responseType", "Prepare")?,
        _ => {}
    }
    el(w, "urgency", urgency)?;
    el(w, "severity", severity)?;
    el(w, "certainty", "Observed")?;
    el(w, "effective", &cap_time(r.as_of))?;
    el(w, "expires", &cap_time(r.valid_until))?;
    if let Some(n) = &e.author_name {
        el(w, "senderName", n)?;
    }
    let headline = get(&r.headline, lang);
    if !headline.is_empty() {
        el(w, "headline", headline)?;
    }
    let d = description(r, lang);
    if !d.is_empty() {
        el(w, "description", &d)?;
    }
    let contact = [r.contact.email.as_str(), r.contact.phone.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !contact.is_empty() {
        el(w, "contact", &contact)?;
    }
    let mut params: Vec<(&str, String)> = vec![
        ("JP-EvacuationAlertLevel", r.alert_level.to_string()),
        ("communications", status(r.communications).into()),
    ];
    if let Some(sh) = &r.shelter {
        params.push(("shelterCapacity", sh.capacity.to_string()));
        params.push(("shelterAvailable", sh.available.to_string()));
        params.push((
            "acceptsOutsideEvacuees",
            sh.accepts_outside_evacuees.to_string(),
        ));
    }
    for m in &r.resources {
        params.push((
            "EDXL-RM",
            format!(
                "{} {} {}",
                resource_type(m.kind),
                m.message_id,
                m.references
            )
            .trim()
            .to_owned(),
        ));
    }
    for (name, value) in params {
        w.create_element("parameter").write_inner_content(|w| {
            el(w, "valueName", name)?;
            el(w, "value", &value)
        })?;
    }
    w.create_element("area").write_inner_content(|w| {
        let area = e
            .author_name
            .clone()
            .unwrap_or_else(|| e.author.to_string());
        el(w, "areaDesc", &area)?;
        for code in &r.area_codes {
            w.create_element("geocode").write_inner_content(|w| {
                el(w, "valueName", "JP-LGCode")?;
                el(w, "value", code)
            })?;
        }
        Ok(())
    })?;
    Ok(())
}

/// A standalone CAP document for one readiness entry.
pub fn document(e: &EntryView) -> Option<String> {
    alert(e).map(|a| format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{a}\n"))
}
