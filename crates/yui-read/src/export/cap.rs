//! CAP 1.2 (OASIS Common Alerting Protocol) for readiness entries: one
//! `alert` per entry, one `info` per language, the area by local government
//! code (`JP-LGCode` geocode).
//!
//! Mapping of Japan's evacuation alert level (警戒レベル) to CAP:
//! 5 → Immediate/Extreme, 4 → Immediate/Severe, 3 → Expected/Moderate,
//! 1-2 → Future/Minor, 0 → Unknown/Unknown. Levels 4-5 carry responseType
//! Evacuate, level 3 Prepare.

use std::fmt::Write;

use yui_core::content::{OperationalStatus, Readiness, ResourceMessageType};
use yui_core::{Body, LocalizedText};

use super::{cap_time, xml_escape as x};
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
/// `None` for another kind.
pub fn alert(e: &EntryView) -> Option<String> {
    let Body::Readiness(r) = &e.body else {
        return None;
    };
    let (urgency, severity) = urgency_severity(r.alert_level);
    let mut o = String::new();
    let _ = write!(o, "<alert xmlns=\"{NS}\">");
    let _ = write!(o, "<identifier>{}</identifier>", e.id);
    let _ = write!(o, "<sender>{}</sender>", e.author);
    let _ = write!(o, "<sent>{}</sent>", cap_time(e.created_at));
    o.push_str(if r.exercise {
        "<status>Exercise</status>"
    } else {
        "<status>Actual</status>"
    });
    let _ = write!(
        o,
        "<msgType>{}</msgType>",
        if e.version > 1 { "Update" } else { "Alert" }
    );
    o.push_str("<source>yui</source><scope>Public</scope>");
    for lang in languages(r) {
        o.push_str("<info>");
        let _ = write!(o, "<language>{}</language>", x(&lang));
        o.push_str("<category>Safety</category>");
        let event = if lang.starts_with("ja") {
            "災害対応状況"
        } else {
            "Disaster readiness status"
        };
        let _ = write!(o, "<event>{event}</event>");
        match r.alert_level {
            4 | 5 => o.push_str("<responseType>Evacuate</responseType>"),
            3 => o.push_str("<responseType>Prepare</responseType>"),
            _ => {}
        }
        let _ = write!(
            o,
            "<urgency>{urgency}</urgency><severity>{severity}</severity>"
        );
        o.push_str("<certainty>Observed</certainty>");
        let _ = write!(o, "<effective>{}</effective>", cap_time(r.as_of));
        let _ = write!(o, "<expires>{}</expires>", cap_time(r.valid_until));
        if let Some(n) = &e.author_name {
            let _ = write!(o, "<senderName>{}</senderName>", x(n));
        }
        let headline = get(&r.headline, &lang);
        if !headline.is_empty() {
            let _ = write!(o, "<headline>{}</headline>", x(headline));
        }
        let d = description(r, &lang);
        if !d.is_empty() {
            let _ = write!(o, "<description>{}</description>", x(&d));
        }
        let contact = [r.contact.email.as_str(), r.contact.phone.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !contact.is_empty() {
            let _ = write!(o, "<contact>{}</contact>", x(&contact));
        }
        let mut param = |name: &str, value: String| {
            let _ = write!(
                o,
                "<parameter><valueName>{name}</valueName><value>{}</value></parameter>",
                x(&value)
            );
        };
        param("JP-EvacuationAlertLevel", r.alert_level.to_string());
        param("communications", status(r.communications).into());
        if let Some(sh) = &r.shelter {
            param("shelterCapacity", sh.capacity.to_string());
            param("shelterAvailable", sh.available.to_string());
            param(
                "acceptsOutsideEvacuees",
                sh.accepts_outside_evacuees.to_string(),
            );
        }
        for m in &r.resources {
            param(
                "EDXL-RM",
                format!(
                    "{} {} {}",
                    resource_type(m.kind),
                    m.message_id,
                    m.references
                )
                .trim()
                .to_owned(),
            );
        }
        o.push_str("<area>");
        let area = e
            .author_name
            .clone()
            .unwrap_or_else(|| e.author.to_string());
        let _ = write!(o, "<areaDesc>{}</areaDesc>", x(&area));
        for code in &r.area_codes {
            let _ = write!(
                o,
                "<geocode><valueName>JP-LGCode</valueName><value>{}</value></geocode>",
                x(code)
            );
        }
        o.push_str("</area>");
        o.push_str("</info>");
    }
    o.push_str("</alert>");
    Some(o)
}

/// A standalone CAP document for one readiness entry.
pub fn document(e: &EntryView) -> Option<String> {
    alert(e).map(|a| format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{a}\n"))
}
