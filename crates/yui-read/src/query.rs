//! What a reader may ask: [`Query`], the parameters every caller shares
//! (the admin API's query string, the CLI's flags, the pages' links), their
//! checks, and the facts of an entry the index files it by (when it
//! happens, when it goes stale, its texts).
//!
//! Bad parameters are refused with a message naming the parameter; a text
//! query of any size or mix of characters is bounded
//! ([`MAX_Q_CHARS`], [`MAX_CLAUSES`]) before it reaches the index.

use chrono::{DateTime, NaiveDate, TimeZone};
use serde::Deserialize;
use yui_core::content::{AidStep, AttendanceMode, ObjectRef, PolicyArea};
use yui_core::validate::parse_event_time;
use yui_core::{Body, Kind, LocalizedText, NodeId};
use yui_sync::{ReplicaError, StoredEntry};

pub use crate::analyzer::normalize;

/// Results per page when the caller does not say.
pub const DEFAULT_LIMIT: usize = 50;
/// Results per page at most.
pub const MAX_LIMIT: usize = 500;
/// How deep a ranked text search pages (the default order pages by a
/// keyset cursor, without limit).
pub const MAX_OFFSET: usize = 10_000;
/// A text query longer than this is refused.
pub const MAX_Q_CHARS: usize = 256;
/// A text query with more words or phrases than this is refused.
pub const MAX_CLAUSES: usize = 16;

/// Query parameters (also the admin API's query string).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Query {
    /// One kind (`event`, `readiness`, `case`, `call_for_partners`,
    /// `partnership`, `profile`, `acknowledgement`); all but retractions when
    /// absent.
    #[param(
        pattern = "^(event|readiness|case|call_for_partners|partnership|profile|acknowledgement|endorsement|revocation|key_rotation|aid|reply)$"
    )]
    pub kind: Option<String>,
    /// Only this author.
    #[param(value_type = Option<String>, pattern = "^yui1[02-9ac-hj-np-z]{58}$")]
    pub author: Option<NodeId>,
    /// A month `YYYY-MM`: shorthand for from/to.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub month: Option<String>,
    /// From (date `YYYY-MM-DD` in `tz`, or RFC 3339).
    pub from: Option<String>,
    /// Until (exclusive), same forms.
    pub to: Option<String>,
    /// Time zone dates are read in (default Asia/Tokyo).
    pub tz: Option<String>,
    /// Cases and calls of this policy area.
    #[param(value_type = Option<String>, pattern = "^(tourism|disaster_prevention|education|welfare|economy|culture|other)$")]
    pub policy_area: Option<PolicyArea>,
    /// Readiness at or above this alert level.
    #[param(minimum = 0, maximum = 5)]
    pub min_alert_level: Option<u32>,
    /// Readiness at exactly this alert level.
    #[param(minimum = 0, maximum = 5)]
    pub alert_level: Option<u32>,
    /// true: only stale entries; false: only fresh ones.
    pub stale: Option<bool>,
    /// Text to find (any language). Words must all match; "quoted words"
    /// must match as a phrase; a Japanese or Chinese word matches inside a
    /// sentence. Ranked by relevance.
    #[param(max_length = 256)]
    pub q: Option<String>,
    /// Cases with this tag, events of this category.
    pub tag: Option<String>,
    /// Entries with text in this language (BCP 47 tag as published).
    pub lang: Option<String>,
    /// Events of this attendance mode (offline, online, mixed).
    #[param(value_type = Option<String>, pattern = "^(offline|online|mixed)$")]
    pub attendance: Option<AttendanceMode>,
    /// Results per page ([`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// Where the page starts: the `next` of the page before.
    pub cursor: Option<String>,
    /// Count results by kind, policy area, municipality, language and
    /// month.
    pub facets: Option<bool>,
    /// Aid steps of the thread started by this object, and replies to it:
    /// `<author node id>/<object id>`.
    #[param(value_type = Option<String>)]
    pub about: Option<ObjectRef>,
    /// Aid requests and offers addressed to this municipality code
    /// (`*partners`: to every mutual-aid partner).
    pub addressed_to: Option<String>,
    /// Aid steps of this kind (`request`, `offer`, `decline`, `accept`,
    /// `commit`, `dispatch`, `arrive`, `release`, `cancel`).
    #[param(value_type = Option<String>)]
    pub step: Option<AidStep>,
    /// Acknowledgements of this entry (id, hex).
    #[param(pattern = "^[0-9a-f]{64}$")]
    pub acknowledges: Option<String>,
    /// Search restricted text this node opened too. Set by the callers
    /// that serve this node's staff (the admin API, signed-in pages); never
    /// from a query string.
    #[serde(skip)]
    #[param(ignore)]
    pub restricted: bool,
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The default order: after this `(order, tie)`.
    After(u64, u64),
    /// Ranked text search: after this many results.
    Offset(usize),
}

impl Cursor {
    /// Parses a cursor as [`Cursor::encode`] wrote it.
    pub fn parse(s: &str) -> Result<Self, QueryError> {
        let bad = || QueryError::Bad(format!("cursor: {s:?} is not a cursor this node gave"));
        if let Some(rest) = s.strip_prefix('k') {
            let (o, t) = rest.split_once('.').ok_or_else(bad)?;
            let o = u64::from_str_radix(o, 16).map_err(|_| bad())?;
            let t = u64::from_str_radix(t, 16).map_err(|_| bad())?;
            Ok(Self::After(o, t))
        } else if let Some(rest) = s.strip_prefix('o') {
            let n: usize = rest.parse().map_err(|_| bad())?;
            if n > MAX_OFFSET {
                return Err(QueryError::Bad(format!(
                    "cursor: pages go at most {MAX_OFFSET} results deep; narrow the query"
                )));
            }
            Ok(Self::Offset(n))
        } else {
            Err(bad())
        }
    }

    /// The cursor as text (opaque to callers).
    pub fn encode(&self) -> String {
        match self {
            Self::After(o, t) => format!("k{o:x}.{t:x}"),
            Self::Offset(n) => format!("o{n}"),
        }
    }
}

/// A query that cannot be run as asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A parameter is malformed.
    #[error("{0}")]
    Bad(String),
    /// The store failed.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    /// The search index failed.
    #[error("search index: {0}")]
    Index(String),
    /// The store or the keyring failed.
    #[error("store: {0}")]
    Store(String),
}

fn parse_time(field: &str, s: &str, tz: chrono_tz::Tz) -> Result<i64, QueryError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| QueryError::Bad(format!("{field}: {s:?} is not YYYY-MM-DD or RFC 3339")))?;
    Ok(midnight(d, tz))
}

fn midnight(d: NaiveDate, tz: chrono_tz::Tz) -> i64 {
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .map_or(0, |t| t.timestamp_millis())
}

impl Query {
    /// The one kind asked for, if any.
    pub fn kind(&self) -> Result<Option<Kind>, QueryError> {
        self.kind
            .as_deref()
            .map(|k| {
                k.parse::<Kind>()
                    .map_err(|e| QueryError::Bad(format!("kind: {e}")))
            })
            .transpose()
    }

    /// Results per page.
    pub fn page_size(&self) -> Result<usize, QueryError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(0) => Err(QueryError::Bad("limit: must be at least 1".into())),
            Some(n) if n > MAX_LIMIT => Err(QueryError::Bad(format!(
                "limit: at most {MAX_LIMIT} per page; follow `next` for more"
            ))),
            Some(n) => Ok(n),
        }
    }

    /// The text query's clauses: words and "quoted phrases".
    pub fn clauses(&self) -> Result<Vec<String>, QueryError> {
        let Some(q) = self.q.as_deref() else {
            return Ok(Vec::new());
        };
        let chars = q.chars().count();
        if chars > MAX_Q_CHARS {
            return Err(QueryError::Bad(format!(
                "q: {chars} characters; at most {MAX_Q_CHARS}"
            )));
        }
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        for c in q.chars() {
            match c {
                '"' | '\u{201C}' | '\u{201D}' | '＂' => {
                    if !cur.trim().is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                    cur.clear();
                    quoted = !quoted;
                }
                c if c.is_whitespace() && !quoted => {
                    if !cur.trim().is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                    cur.clear();
                }
                c => cur.push(c),
            }
        }
        if !cur.trim().is_empty() {
            out.push(cur);
        }
        if out.len() > MAX_CLAUSES {
            return Err(QueryError::Bad(format!(
                "q: {} words or phrases; at most {MAX_CLAUSES}",
                out.len()
            )));
        }
        Ok(out)
    }

    /// The month asked for, when the index's month buckets answer it: a
    /// `month` read in Asia/Tokyo with no other bound. `year × 12 + month`.
    pub fn tokyo_month(&self) -> Option<u64> {
        let tz_ok = self.tz.as_deref().is_none_or(|t| t == "Asia/Tokyo");
        if !tz_ok || self.from.is_some() || self.to.is_some() {
            return None;
        }
        let m = self.month.as_deref()?;
        let d = NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok()?;
        use chrono::Datelike;
        Some(u64::try_from(d.year()).ok()? * 12 + u64::from(d.month()))
    }

    /// `[from, to)` in Unix ms.
    pub fn range(&self) -> Result<(Option<i64>, Option<i64>), QueryError> {
        let tz: chrono_tz::Tz = self
            .tz
            .as_deref()
            .unwrap_or("Asia/Tokyo")
            .parse()
            .map_err(|_| QueryError::Bad("tz: not an IANA time zone".into()))?;
        let mut from = self
            .from
            .as_deref()
            .map(|s| parse_time("from", s, tz))
            .transpose()?;
        let mut to = self
            .to
            .as_deref()
            .map(|s| parse_time("to", s, tz))
            .transpose()?;
        if let Some(m) = &self.month {
            let first = NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
                .map_err(|_| QueryError::Bad(format!("month: {m:?} is not YYYY-MM")))?;
            let next = first
                .checked_add_months(chrono::Months::new(1))
                .ok_or_else(|| QueryError::Bad("month out of range".into()))?;
            from = Some(midnight(first, tz));
            to = Some(midnight(next, tz));
        }
        Ok((from, to))
    }
}

/// Every text of a body, for search.
pub fn body_texts(body: &Body) -> Vec<&LocalizedText> {
    match body {
        Body::Profile(p) => vec![&p.name, &p.contact.name, &p.contact.department],
        Body::Event(e) => vec![
            &e.title,
            &e.description,
            &e.location,
            &e.contact.name,
            &e.contact.department,
        ],
        Body::Readiness(r) => {
            let mut v = vec![&r.headline, &r.description];
            v.extend(r.supplies.iter().map(|s| &s.item));
            v.extend(r.staff.iter().map(|s| &s.skill));
            v.extend(r.facilities.iter().map(|f| &f.name));
            v.extend(r.resources.iter().map(|m| &m.item));
            v
        }
        Body::Case(c) => vec![
            &c.title,
            &c.summary,
            &c.outcomes,
            &c.contact.name,
            &c.contact.department,
        ],
        Body::CallForPartners(c) => vec![&c.title, &c.description],
        Body::Partnership(p) => vec![&p.description],
        Body::Acknowledgement(a) => vec![&a.note],
        Body::Endorsement(e) => vec![&e.name],
        Body::Revocation(r) => vec![&r.reason],
        Body::KeyRotation(_) => Vec::new(),
        Body::Retraction(r) => vec![&r.reason],
        Body::Aid(a) => {
            let mut v = vec![&a.note, &a.deliver_to];
            v.extend(a.lines.iter().map(|l| &l.what));
            v
        }
        Body::Reply(r) => vec![&r.text],
        _ => Vec::new(),
    }
}

/// When an entry happens, for time filters: `[start, end)` in Unix ms.
pub fn time_span(e: &StoredEntry) -> (i64, i64) {
    match &e.entry.body {
        Body::Event(ev) => {
            let start = parse_event_time(&ev.start, ev.all_day).unwrap_or(e.entry.created_at);
            let end = if !ev.end.is_empty() {
                parse_event_time(&ev.end, ev.all_day).unwrap_or(start)
            } else if ev.duration_minutes > 0 {
                start + i64::from(ev.duration_minutes) * 60_000
            } else if ev.all_day {
                start + 86_400_000
            } else {
                start
            };
            (start, end.max(start))
        }
        Body::Readiness(r) => (r.as_of, r.valid_until),
        // A case happens over its period (whole days, Japan time); one
        // without a period, when it was published.
        Body::Case(c) => match parse_event_time(&c.period_start, true) {
            Ok(start) => {
                let end =
                    parse_event_time(&c.period_end, true).map_or(start, |end| end + 86_400_000 - 1);
                (start, end.max(start))
            }
            Err(_) => (e.entry.created_at, e.entry.created_at),
        },
        _ => (e.entry.created_at, e.entry.created_at),
    }
}

/// Whether an entry is stale at `now`: readiness past valid-until, or any
/// entry past its expiry.
pub fn is_stale(e: &StoredEntry, now: i64) -> bool {
    let expired = e.entry.expires_at.is_some_and(|t| t <= now);
    match &e.entry.body {
        Body::Readiness(r) => expired || r.valid_until <= now,
        _ => expired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_finds_japanese_inside_sentences_and_width_variants() {
        let hay = normalize("杉並区と南伊豆町が共同で特別養護老人ホームを整備した事例");
        assert!(hay.contains(&normalize("老人ホーム")));
        assert!(hay.contains(&normalize("南伊豆")));
        assert!(normalize("ＷＩＮＴＥＲ Cities").contains(&normalize("winter")));
        assert!(normalize("ｶﾞｲﾄﾞ").contains(&normalize("ガイド")));
    }

    #[test]
    fn clauses_split_words_and_quoted_phrases_and_bound_size() {
        let q = |s: &str| Query {
            q: Some(s.into()),
            ..Default::default()
        };
        assert_eq!(
            q("防災 \"winter cities\" 訓練").clauses().unwrap(),
            ["防災", "winter cities", "訓練"]
        );
        assert_eq!(q("\"unbalanced").clauses().unwrap(), ["unbalanced"]);
        assert!(q("").clauses().unwrap().is_empty());
        assert!(q(&"あ".repeat(MAX_Q_CHARS + 1)).clauses().is_err());
        assert!(q(&"a ".repeat(MAX_CLAUSES + 1)).clauses().is_err());
        assert!(q(&"a ".repeat(MAX_CLAUSES)).clauses().is_ok());
    }

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        for c in [Cursor::After(7, u64::MAX), Cursor::Offset(50)] {
            assert_eq!(Cursor::parse(&c.encode()).unwrap(), c);
        }
        for bad in ["", "x", "k1", "kz.1", "o-1", "o99999999"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn month_is_read_in_the_time_zone() {
        let q = Query {
            month: Some("2027-02".into()),
            ..Default::default()
        };
        let (from, to) = q.range().unwrap();
        assert_eq!(
            from,
            Some(
                DateTime::parse_from_rfc3339("2027-02-01T00:00:00+09:00")
                    .unwrap()
                    .timestamp_millis()
            )
        );
        assert_eq!(
            to,
            Some(
                DateTime::parse_from_rfc3339("2027-03-01T00:00:00+09:00")
                    .unwrap()
                    .timestamp_millis()
            )
        );
        assert!(Query {
            month: Some("2027-13".into()),
            ..Default::default()
        }
        .range()
        .is_err());
    }
}
