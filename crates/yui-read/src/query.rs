//! Queries over what a node knows: current versions of objects, filtered by
//! kind, author, time, policy area, alert level, staleness and text, with
//! derived facts (partnership confirmed by both sides, acknowledgements).
//!
//! Full-text search normalises with NFKC and lower case and matches
//! substrings, so it finds a Japanese word inside a sentence (no word
//! boundaries needed) as well as English words and full-width/half-width
//! variants.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeZone};
use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;
use yui_core::content::{PartnershipKind, PolicyArea};
use yui_core::validate::parse_event_time;
use yui_core::{Body, EntryId, Kind, LocalizedText, NodeId};
use yui_sync::{Replica, ReplicaError, StoredEntry};

use crate::EntryView;

/// Query parameters (also the admin API's query string).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Query {
    /// One kind (`event`, `readiness`, `case`, `call_for_partners`,
    /// `partnership`, `profile`, `acknowledgement`); all but retractions when
    /// absent.
    pub kind: Option<String>,
    /// Only this author.
    pub author: Option<NodeId>,
    /// A month `YYYY-MM`: shorthand for from/to.
    pub month: Option<String>,
    /// From (date `YYYY-MM-DD` in `tz`, or RFC 3339).
    pub from: Option<String>,
    /// Until (exclusive), same forms.
    pub to: Option<String>,
    /// Time zone dates are read in (default Asia/Tokyo).
    pub tz: Option<String>,
    /// Cases and calls of this policy area.
    pub policy_area: Option<PolicyArea>,
    /// Readiness at or above this alert level.
    pub min_alert_level: Option<u32>,
    /// true: only stale entries; false: only fresh ones.
    pub stale: Option<bool>,
    /// Text to find (any language).
    pub q: Option<String>,
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
}

/// Normalises text for search: NFKC, lower case.
pub fn normalize(s: &str) -> String {
    s.nfkc().flat_map(char::to_lowercase).collect()
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
    /// The kinds to look at.
    pub fn kinds(&self) -> Result<Vec<Kind>, QueryError> {
        match &self.kind {
            Some(k) => Ok(vec![k.parse::<Kind>().map_err(QueryError::Bad)?]),
            None => Ok(Kind::ALL
                .into_iter()
                .filter(|k| *k != Kind::Retraction)
                .collect()),
        }
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
        _ => Vec::new(),
    }
}

fn matches_text(body: &Body, needle: &str) -> bool {
    let tags: Vec<String> = match body {
        Body::Case(c) => c.tags.clone(),
        Body::Event(e) => vec![e.category.clone()],
        _ => Vec::new(),
    };
    body_texts(body)
        .into_iter()
        .flat_map(|t| t.0.iter().map(|(_, s)| s.as_str()))
        .chain(tags.iter().map(String::as_str))
        .any(|s| normalize(s).contains(needle))
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

/// Derived facts computed once per query.
pub struct Context {
    names: HashMap<NodeId, String>,
    rotated: HashMap<NodeId, NodeId>,
    revoked: HashSet<NodeId>,
    acks: HashMap<EntryId, Vec<NodeId>>,
    partnerships: HashSet<(NodeId, NodeId, PartnershipKind)>,
    now: i64,
}

impl Context {
    /// Gathers names, acknowledgements and partnership statements.
    pub fn gather(
        replica: &Replica,
        names: HashMap<NodeId, String>,
        now: i64,
    ) -> Result<Self, ReplicaError> {
        let mut acks: HashMap<EntryId, Vec<NodeId>> = HashMap::new();
        for a in replica.current(Kind::Acknowledgement)? {
            if let Body::Acknowledgement(ack) = &a.entry.body {
                acks.entry(ack.entry_id).or_default().push(a.entry.author);
            }
        }
        let partnerships = replica
            .current(Kind::Partnership)?
            .into_iter()
            .filter_map(|e| match e.entry.body {
                // Identities, not keys: a rotated key's statements still count.
                Body::Partnership(p) => Some((
                    replica.current_key(&e.entry.author),
                    replica.current_key(&p.partner),
                    p.kind,
                )),
                _ => None,
            })
            .collect();
        let revoked = replica
            .current(Kind::Revocation)?
            .iter()
            .filter_map(|e| match &e.entry.body {
                Body::Revocation(r) if replica.is_revoked(&r.subject) => Some(r.subject),
                _ => None,
            })
            .collect();
        let rotated = replica
            .current(Kind::KeyRotation)?
            .into_iter()
            .map(|e| (e.entry.author, replica.current_key(&e.entry.author)))
            .collect();
        Ok(Self {
            names,
            rotated,
            revoked,
            acks,
            partnerships,
            now,
        })
    }

    fn key(&self, id: &NodeId) -> NodeId {
        self.rotated.get(id).copied().unwrap_or(*id)
    }

    /// The API view of an entry with its derived facts.
    pub fn view(&self, e: StoredEntry, version: usize) -> EntryView {
        let stale = is_stale(&e, self.now);
        let partnership = match &e.entry.body {
            Body::Partnership(p) => Some(
                if self.partnerships.contains(&(
                    self.key(&p.partner),
                    self.key(&e.entry.author),
                    p.kind,
                )) {
                    "active"
                } else {
                    "pending"
                }
                .to_owned(),
            ),
            _ => None,
        };
        let mut acknowledged_by = self.acks.get(&e.id).cloned().unwrap_or_default();
        acknowledged_by.sort();
        EntryView {
            author: e.entry.author,
            author_name: self.names.get(&e.entry.author).cloned(),
            seq: e.entry.seq,
            id: e.id.to_hex(),
            object_id: e.entry.object_id,
            created_at: e.entry.created_at,
            expires_at: e.entry.expires_at,
            kind: e.entry.body.kind().name().to_owned(),
            version,
            stale,
            partnership,
            acknowledged_by,
            revoked: self.revoked.contains(&e.entry.author),
            body: e.entry.body,
        }
    }
}

/// The order of query results, a total order over any mix of kinds:
/// events first, in calendar order (start, then author and object id);
/// then everything else newest first (then author and object id). Sorting
/// mixed results once compared events by start and the rest by creation,
/// which is no order at all (the sort panicked).
fn result_order(
    start_a: i64,
    a: &yui_core::Entry,
    start_b: i64,
    b: &yui_core::Entry,
) -> std::cmp::Ordering {
    let key = |start: i64, e: &yui_core::Entry| {
        let event = matches!(e.body, Body::Event(_));
        // Events: ascending start; others: descending creation time.
        let when = if event { start } else { -e.created_at };
        (!event, when, e.author, e.object_id.clone())
    };
    key(start_a, a).cmp(&key(start_b, b))
}

/// Runs `q` over the current versions of objects.
pub fn run(replica: &Replica, q: &Query, ctx: &Context) -> Result<Vec<EntryView>, QueryError> {
    let (from, to) = q.range()?;
    let needle = q.q.as_deref().map(normalize).filter(|n| !n.is_empty());
    let mut found: Vec<(i64, StoredEntry)> = Vec::new();
    for kind in q.kinds()? {
        for e in replica.current(kind)? {
            if q.author.is_some_and(|a| a != e.entry.author) {
                continue;
            }
            let (start, end) = time_span(&e);
            if from.is_some_and(|f| end < f || (end == start && start < f))
                || to.is_some_and(|t| start >= t)
            {
                continue;
            }
            if let Some(area) = q.policy_area {
                let ok = match &e.entry.body {
                    Body::Case(c) => c.policy_area == area,
                    Body::CallForPartners(c) => c.policy_area == area,
                    _ => false,
                };
                if !ok {
                    continue;
                }
            }
            if let Some(level) = q.min_alert_level {
                if !matches!(&e.entry.body, Body::Readiness(r) if r.alert_level >= level) {
                    continue;
                }
            }
            if q.stale.is_some_and(|s| s != is_stale(&e, ctx.now)) {
                continue;
            }
            if needle
                .as_deref()
                .is_some_and(|n| !matches_text(&e.entry.body, n))
            {
                continue;
            }
            found.push((start, e));
        }
    }
    found.sort_by(|(sa, a), (sb, b)| result_order(*sa, &a.entry, *sb, &b.entry));
    let mut out = Vec::with_capacity(found.len());
    for (_, e) in found {
        let version = replica
            .store()
            .history(&e.entry.author, &e.entry.object_id)
            .map_err(ReplicaError::from)?
            .len();
        out.push(ctx.view(e, version));
    }
    Ok(out)
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

    proptest::proptest! {
        /// Over random mixes of kinds, starts and creation times the result
        /// order is a total order: sorting never panics, the result is
        /// sorted, and any input order gives the same output.
        #[test]
        fn result_order_is_total_over_mixed_kinds(
            items in proptest::collection::vec((0u8..4, 0i64..5, 0i64..5, 0u8..3, 0u8..3), 0..200),
            seed in 0u64..1000,
        ) {
            use yui_core::content::{Case, Readiness};
            let entries: Vec<(i64, yui_core::Entry)> = items
                .iter()
                .map(|(kind, start, created, author, object)| {
                    let body = match kind {
                        0 | 1 => Body::Event(Default::default()),
                        2 => Body::Case(Case::default()),
                        _ => Body::Readiness(Readiness::default()),
                    };
                    let author = yui_core::NodeId::new(
                        yui_core::SecretKey::from_seed(&[*author + 1; 32]).public_key(),
                    );
                    (*start, yui_core::Entry {
                        author,
                        seq: 1,
                        prev: None,
                        created_at: *created,
                        expires_at: None,
                        object_id: format!("o{object}"),
                        body,
                    })
                })
                .collect();
            let mut a = entries.clone();
            a.sort_by(|(sa, x), (sb, y)| result_order(*sa, x, *sb, y));
            for w in a.windows(2) {
                proptest::prop_assert_ne!(
                    result_order(w[0].0, &w[0].1, w[1].0, &w[1].1),
                    std::cmp::Ordering::Greater
                );
            }
            // Another input order: a seeded rotation and reversal.
            let mut b = entries;
            if !b.is_empty() {
                let n = b.len();
                b.rotate_left((seed as usize) % n);
            }
            b.reverse();
            b.sort_by(|(sa, x), (sb, y)| result_order(*sa, x, *sb, y));
            let keys = |v: &[(i64, yui_core::Entry)]| -> Vec<(i64, i64, String, String)> {
                v.iter()
                    .map(|(s, e)| (*s, e.created_at, e.author.to_string(), e.object_id.clone()))
                    .collect()
            };
            let (ka, kb) = (keys(&a), keys(&b));
            // Equal keys may tie (same author and object): compare as multisets of ties.
            proptest::prop_assert_eq!(ka.len(), kb.len());
            for (x, y) in a.iter().zip(b.iter()) {
                proptest::prop_assert_eq!(
                    result_order(x.0, &x.1, y.0, &y.1),
                    std::cmp::Ordering::Equal
                );
            }
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
