//! iCalendar (RFC 5545): one VCALENDAR with every current event.
//!
//! Times are written in UTC (`…Z`), which every client reads the same way,
//! with the event's IANA zone in `X-YUI-TZID`; all-day events use
//! `VALUE=DATE`. SEQUENCE rises with every published version of the event, so
//! calendars replace the old version; cancelled events keep their UID with
//! `STATUS:CANCELLED`.

use yui_core::content::{AttendanceMode, EventStatus};
use yui_core::validate::parse_event_time;
use yui_core::Body;

use crate::EntryView;

/// Escapes a TEXT value.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets without splitting a UTF-8 character.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

fn date(s: &str) -> String {
    s.replace('-', "")
}

/// Events in a calendar rendered whole for a subscriber (the public
/// `calendar.ics` of the exports and of the pages): at most this many.
pub const SUBSCRIPTION_EVENTS: usize = 2_000;

/// Where such a calendar starts: a month before `now_ms` (what a
/// subscriber needs; older events are in the admin API's whole export).
pub fn subscription_from(now_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(now_ms - 30 * 86_400_000)
        .unwrap_or_default()
        .to_rfc3339()
}

/// The calendar of `events` (other kinds are skipped), texts in `lang`.
pub fn calendar(events: &[EntryView], lang: &str, name: &str) -> String {
    let mut out = begin(name);
    for e in events {
        out.push_str(&vevent(e, lang, None));
    }
    out.push_str(&end());
    out
}

/// The lines that open a calendar named `name` (a streamed export writes
/// these, then [`vevent`] per event, then [`end`]).
pub fn begin(name: &str) -> String {
    let mut out = String::new();
    let mut line = |l: String| fold(&l, &mut out);
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line(format!(
        "PRODID:-//yui//yui {}//EN",
        env!("CARGO_PKG_VERSION")
    ));
    line("CALSCALE:GREGORIAN".into());
    line("METHOD:PUBLISH".into());
    line(format!("X-WR-CALNAME:{}", text(name)));
    out
}

/// The line that closes a calendar.
pub fn end() -> String {
    "END:VCALENDAR\r\n".into()
}

/// One VEVENT for `e`, texts in `lang` (empty for other kinds). With
/// `page`, the event's `URL` is its page on the node (a calendar app links
/// back to it) and the online meeting link is a `CONFERENCE` (RFC 7986);
/// without, the online link is the `URL`.
pub fn vevent(e: &EntryView, lang: &str, page: Option<&str>) -> String {
    let mut out = String::new();
    let mut line = |l: String| fold(&l, &mut out);
    {
        let Body::Event(ev) = &e.body else {
            return out;
        };
        line("BEGIN:VEVENT".into());
        line(format!("UID:{}@{}", e.object_id, e.author));
        line(format!("DTSTAMP:{}", utc(e.created_at)));
        line(format!("LAST-MODIFIED:{}", utc(e.created_at)));
        let sequence = ev.sequence.max(e.version.saturating_sub(1) as u32);
        line(format!("SEQUENCE:{sequence}"));
        line(format!(
            "STATUS:{}",
            match ev.status {
                EventStatus::Tentative => "TENTATIVE",
                EventStatus::Confirmed => "CONFIRMED",
                EventStatus::Cancelled => "CANCELLED",
            }
        ));
        if ev.all_day {
            line(format!("DTSTART;VALUE=DATE:{}", date(&ev.start)));
            if !ev.end.is_empty() {
                // DTEND of an all-day event is exclusive: the day after.
                let end = chrono::NaiveDate::parse_from_str(&ev.end, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.succ_opt())
                    .map(|d| d.format("%Y%m%d").to_string())
                    .unwrap_or_else(|| date(&ev.end));
                line(format!("DTEND;VALUE=DATE:{end}"));
            }
        } else if let Ok(start) = parse_event_time(&ev.start, false) {
            line(format!("DTSTART:{}", utc(start)));
            if let Ok(end) = parse_event_time(&ev.end, false) {
                line(format!("DTEND:{}", utc(end)));
            } else if ev.duration_minutes > 0 {
                line(format!("DURATION:PT{}M", ev.duration_minutes));
            }
        }
        if !ev.time_zone.is_empty() {
            line(format!("X-YUI-TZID:{}", ev.time_zone));
        }
        let localized = |prop: &str, t: &yui_core::LocalizedText| {
            t.get(lang).map(|s| {
                let tag =
                    t.0.iter()
                        .find(|(_, v)| v == s)
                        .map(|(l, _)| l.clone())
                        .unwrap_or_else(|| lang.to_owned());
                format!("{prop};LANGUAGE={tag}:{}", text(s))
            })
        };
        if let Some(l) = localized("SUMMARY", &ev.title) {
            // A drill says so where a calendar shows it first.
            line(match (ev.exercise, l.split_once(':')) {
                (true, Some((prop, title))) => format!("{prop}:【訓練】{title}"),
                _ => l,
            });
        }
        if let Some(l) = localized("DESCRIPTION", &ev.description) {
            line(l);
        }
        if let Some(l) = localized("LOCATION", &ev.location) {
            line(l);
        }
        match page {
            Some(page) => {
                line(format!("URL:{page}"));
                if !ev.online_url.is_empty() {
                    line(format!(
                        "CONFERENCE;VALUE=URI;FEATURE=VIDEO:{}",
                        ev.online_url
                    ));
                }
            }
            None if !ev.online_url.is_empty() => line(format!("URL:{}", ev.online_url)),
            None => {}
        }
        if !ev.category.is_empty() {
            line(format!("CATEGORIES:{}", text(&ev.category)));
        }
        if ev.exercise {
            line("X-YUI-EXERCISE:TRUE".to_owned());
        }
        line(format!(
            "X-YUI-ATTENDANCE:{}",
            match ev.attendance {
                AttendanceMode::Offline => "OFFLINE",
                AttendanceMode::Online => "ONLINE",
                AttendanceMode::Mixed => "MIXED",
            }
        ));
        if let Some(name) = &e.author_name {
            line(format!("X-YUI-AUTHOR:{}", text(name)));
        }
        if !ev.contact.email.is_empty() {
            let cn = ev
                .contact
                .department
                .get(lang)
                .or(ev.contact.name.get(lang))
                .unwrap_or("");
            line(format!(
                "ORGANIZER;CN=\"{}\":mailto:{}",
                cn.replace('"', ""),
                ev.contact.email
            ));
        }
        line("END:VEVENT".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_utf8_and_75_octets() {
        let mut out = String::new();
        fold(&format!("SUMMARY:{}", "冬の都市会議".repeat(10)), &mut out);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(
            unfolded.trim_end(),
            format!("SUMMARY:{}", "冬の都市会議".repeat(10))
        );
    }

    #[test]
    fn a_drill_says_so_in_its_summary() {
        let ev = yui_core::content::Event {
            title: yui_core::LocalizedText::one("ja", "合同防災訓練"),
            start: "2027-02-10T10:00:00+09:00".into(),
            exercise: true,
            ..Default::default()
        };
        let e = EntryView {
            sealed: None,
            author: yui_core::NodeId::new(yui_core::SecretKey::from_seed(&[1; 32]).public_key()),
            author_name: None,
            seq: 1,
            id: String::new(),
            object_id: "drill".into(),
            created_at: 1,
            expires_at: None,
            kind: "event".into(),
            version: 1,
            stale: false,
            partnership: None,
            acknowledged_by: Vec::new(),
            revoked: false,
            snippet: None,
            body: Body::Event(ev),
        };
        let v = vevent(&e, "ja", None).replace("\r\n ", "");
        assert!(
            v.contains("SUMMARY;LANGUAGE=ja:【訓練】合同防災訓練"),
            "{v}"
        );
        assert!(v.contains("X-YUI-EXERCISE:TRUE"));
    }

    #[test]
    fn text_escapes() {
        assert_eq!(text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
