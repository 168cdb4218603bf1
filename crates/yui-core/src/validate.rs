//! Checks an entry must pass before anything is stored, and the chain rule.
//!
//! Signature checks live in [`crate::keys`]; trust is decided by `yui-sync`.

use chrono::{DateTime, NaiveDate};

use crate::content::{
    AidMessage, AidStep, Body, CallForPartners, Case, Contact, Event, LocalizedText, Partnership,
    Profile, Readiness, ResourceMessageType,
};
use crate::entry::{Entry, EntryId, Head};
use crate::UnixMillis;

/// Size and clock limits applied to every entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
///
/// `max_entry_bytes`, `max_object_id_bytes`, `max_text_bytes` and
/// `max_clock_skew_ms` decide whether an entry belongs to a log: they are
/// protocol constants (`Limits::default()`, written in `entry.proto`), the
/// same on every node, never taken from local config. Only
/// `entries_per_author_per_minute` is local policy.
pub struct Limits {
    /// Largest encoded `Entry` accepted.
    pub max_entry_bytes: usize,
    /// Longest object id, in bytes.
    pub max_object_id_bytes: usize,
    /// Longest single text, in bytes.
    pub max_text_bytes: usize,
    /// How far in the future `created_at` may be.
    pub max_clock_skew_ms: i64,
    /// New entries (created within the last hour) accepted per author per
    /// minute from peers, as a token bucket that holds a minute's worth;
    /// 0 = no limit. Local policy, not validity: an entry refused for rate
    /// is asked for again later.
    pub entries_per_author_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entry_bytes: 64 * 1024,
            max_object_id_bytes: 128,
            max_text_bytes: 16 * 1024,
            max_clock_skew_ms: 10 * 60 * 1000,
            entries_per_author_per_minute: 600,
        }
    }
}

/// Why an entry is not acceptable. Each message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The encoded entry is too large.
    #[error("entry is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Size seen.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// A required field is missing.
    #[error("{0} is required")]
    Missing(&'static str),
    /// A field has a value outside its rules.
    #[error("{field}: {reason}")]
    Invalid {
        /// Field path.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// `created_at` is too far ahead of this node's clock.
    #[error(
        "created_at is {ahead_ms} ms in the future (limit {limit_ms} ms): check the author's clock"
    )]
    FromTheFuture {
        /// How far ahead.
        ahead_ms: i64,
        /// Allowed skew.
        limit_ms: i64,
    },
}

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> ValidationError {
    ValidationError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Checks an entry's fields. `encoded_len` is the size of its bytes; `now`
/// this node's clock.
pub fn validate_entry(
    entry: &Entry,
    encoded_len: usize,
    now: UnixMillis,
    limits: &Limits,
) -> Result<(), ValidationError> {
    if encoded_len > limits.max_entry_bytes {
        return Err(ValidationError::TooLarge {
            size: encoded_len,
            limit: limits.max_entry_bytes,
        });
    }
    if entry.seq == 0 {
        return Err(invalid("seq", "must start at 1"));
    }
    match (entry.seq, entry.prev) {
        (1, Some(_)) => return Err(invalid("prev", "must be empty at seq 1")),
        (s, None) if s > 1 => return Err(ValidationError::Missing("prev")),
        _ => {}
    }
    if entry.created_at <= 0 {
        return Err(ValidationError::Missing("created_at"));
    }
    let ahead = entry.created_at - now;
    if ahead > limits.max_clock_skew_ms {
        return Err(ValidationError::FromTheFuture {
            ahead_ms: ahead,
            limit_ms: limits.max_clock_skew_ms,
        });
    }
    if let Some(exp) = entry.expires_at {
        if exp <= entry.created_at {
            return Err(invalid("expires_at", "must be after created_at"));
        }
    }
    validate_object_id(&entry.object_id, limits)?;
    if let Some(sealed) = &entry.sealed {
        crate::audience::validate_sealed(sealed, &entry.body, limits)?;
    }
    match &entry.body {
        Body::Profile(p) => validate_profile(p, limits),
        Body::Event(e) => validate_event(e, limits),
        Body::Readiness(r) => validate_readiness(r, limits),
        Body::Case(c) => validate_case(c, limits),
        Body::CallForPartners(c) => validate_call(c, limits),
        Body::Partnership(p) => validate_partnership(p, entry, limits),
        Body::Endorsement(e) => {
            if e.subject == entry.author {
                return Err(invalid(
                    "endorsement.subject",
                    "a key cannot endorse itself",
                ));
            }
            if !e.code.is_empty() {
                validate_municipality_code(&e.code).map_err(|r| invalid("endorsement.code", r))?;
            }
            if !e.country.is_empty()
                && (e.country.len() != 2 || !e.country.chars().all(|c| c.is_ascii_uppercase()))
            {
                return Err(invalid(
                    "endorsement.country",
                    "must be an ISO 3166-1 alpha-2 code such as JP",
                ));
            }
            validate_text("endorsement.name", &e.name, limits)
        }
        Body::Revocation(r) => validate_text("revocation.reason", &r.reason, limits),
        Body::KeyRotation(k) => {
            if k.new_key == entry.author {
                return Err(invalid(
                    "key_rotation.new_key",
                    "must differ from the old key",
                ));
            }
            k.new_key
                .public_key()
                .verify(
                    &crate::keys::rotation_message(
                        entry.author.public_key(),
                        k.new_key.public_key(),
                    ),
                    &k.countersignature,
                )
                .map_err(|_| {
                    invalid(
                        "key_rotation.countersignature",
                        "is not the new key's signature",
                    )
                })
        }
        Body::Acknowledgement(a) => validate_text("acknowledgement.note", &a.note, limits),
        Body::Retraction(r) => validate_text("retraction.reason", &r.reason, limits),
        Body::Aid(a) => validate_aid(a, limits),
        Body::Reply(r) => {
            if r.text.is_empty() {
                return Err(ValidationError::Missing("reply.text"));
            }
            validate_text("reply.text", &r.text, limits)
        }
        Body::Audience(a) => crate::audience::validate_audience(a, entry),
        Body::Withdrawal(w) => crate::audience::validate_withdrawal(w, limits),
        // A newer release's body: the header rules above (size, clock,
        // chain fields, object id) are all this release can check, and all
        // it needs to store and forward the entry.
        Body::Unknown(_) => Ok(()),
    }
}

/// What this node may publish: every kind but [`Body::Unknown`], which is
/// only ever received (a newer release's body).
pub fn publishable(body: &Body) -> Result<(), ValidationError> {
    match body {
        Body::Unknown(_) => Err(invalid(
            "body",
            "an unknown kind is only ever received; publish one of the kinds this release knows",
        )),
        Body::Readiness(r) if !r.resources.is_empty() => Err(invalid(
            "readiness.resources",
            "requests and offers are aid entries of their own now (yui aid request, yui aid respond); \
             readiness keeps the status",
        )),
        _ => Ok(()),
    }
}

pub(crate) fn validate_object_id(id: &str, limits: &Limits) -> Result<(), ValidationError> {
    if id.is_empty() {
        return Err(ValidationError::Missing("object_id"));
    }
    if id.len() > limits.max_object_id_bytes {
        return Err(invalid(
            "object_id",
            format!(
                "{} bytes, over the limit of {}",
                id.len(),
                limits.max_object_id_bytes
            ),
        ));
    }
    if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(
            "object_id",
            "must not contain spaces or control characters",
        ));
    }
    Ok(())
}

/// Checks a BCP 47 language tag's syntax (`ja`, `en-GB`, `zh-Hant`).
pub fn validate_lang_tag(tag: &str) -> Result<(), String> {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(format!(
            "{tag:?} is not a BCP 47 language tag (e.g. ja, en, zh-Hant)"
        ));
    }
    for sub in parts {
        if !(1..=8).contains(&sub.len()) || !sub.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "{tag:?} is not a BCP 47 language tag (bad subtag {sub:?})"
            ));
        }
    }
    Ok(())
}

pub(crate) fn validate_text(
    field: &'static str,
    t: &LocalizedText,
    limits: &Limits,
) -> Result<(), ValidationError> {
    // Linear: a set of the tags seen (lower-cased; tags are ASCII and short,
    // checked by `validate_lang_tag` first), not a scan of those before.
    let mut seen = std::collections::HashSet::with_capacity(t.0.len());
    for (lang, text) in &t.0 {
        validate_lang_tag(lang).map_err(|e| invalid(field, e))?;
        if !seen.insert(lang.to_ascii_lowercase()) {
            return Err(invalid(field, format!("language {lang} given twice")));
        }
        if text.len() > limits.max_text_bytes {
            return Err(invalid(
                field,
                format!("text in {lang} is over {} bytes", limits.max_text_bytes),
            ));
        }
    }
    Ok(())
}

fn validate_contact(
    field: &'static str,
    c: &Contact,
    limits: &Limits,
) -> Result<(), ValidationError> {
    validate_text(field, &c.name, limits)?;
    validate_text(field, &c.department, limits)?;
    if !c.email.is_empty() && !c.email.contains('@') {
        return Err(invalid(field, format!("email {:?} has no @", c.email)));
    }
    if !c.url.is_empty() {
        validate_url(field, &c.url)?;
    }
    Ok(())
}

fn validate_url(field: &'static str, url: &str) -> Result<(), ValidationError> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(invalid(field, format!("{url:?} is not an http(s) URL")))
    }
}

/// Checks a Japanese local government code: 6 digits, the last a check digit
/// `(11 - (6*d1 + 5*d2 + 4*d3 + 3*d4 + 2*d5) % 11) % 10`.
pub fn validate_local_government_code(code: &str) -> Result<(), String> {
    let digits: Vec<u32> = code.chars().filter_map(|c| c.to_digit(10)).collect();
    if code.len() != 6 || digits.len() != 6 {
        return Err(format!("{code:?} is not a 6-digit local government code"));
    }
    let sum: u32 = digits[..5]
        .iter()
        .zip([6, 5, 4, 3, 2])
        .map(|(d, w)| d * w)
        .sum();
    let check = (11 - sum % 11) % 10;
    if check != digits[5] {
        return Err(format!(
            "{code:?} has a wrong check digit (expected {check})"
        ));
    }
    Ok(())
}

/// Checks a municipality code: a Japanese local government code, or for a
/// foreign partner an ISO 3166-1 alpha-2 code, `-`, and its own id.
pub fn validate_municipality_code(code: &str) -> Result<(), String> {
    if code.chars().all(|c| c.is_ascii_digit()) {
        return validate_local_government_code(code);
    }
    match code.split_once('-') {
        Some((cc, id))
            if cc.len() == 2
                && cc.chars().all(|c| c.is_ascii_uppercase())
                && !id.is_empty()
                && id.len() <= 32
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{code:?} is neither a 6-digit local government code nor a foreign code like KR-busan"
        )),
    }
}

fn validate_profile(p: &Profile, limits: &Limits) -> Result<(), ValidationError> {
    if p.name.is_empty() {
        return Err(ValidationError::Missing("profile.name"));
    }
    validate_text("profile.name", &p.name, limits)?;
    if !p.code.is_empty() {
        validate_municipality_code(&p.code).map_err(|e| invalid("profile.code", e))?;
    }
    if !p.country.is_empty()
        && (p.country.len() != 2 || !p.country.chars().all(|c| c.is_ascii_uppercase()))
    {
        return Err(invalid(
            "profile.country",
            "must be an ISO 3166-1 alpha-2 code such as JP",
        ));
    }
    for l in &p.languages {
        validate_lang_tag(l).map_err(|e| invalid("profile.languages", e))?;
    }
    if !p.audience_key.is_empty() && p.audience_key.len() != crate::audience::KEY_BYTES {
        return Err(invalid(
            "profile.audience_key",
            "must be a 32-byte X25519 public key",
        ));
    }
    validate_contact("profile.contact", &p.contact, limits)
}

/// Parses an event time: RFC 3339 with offset, or a date for all-day events.
/// Returns Unix milliseconds (dates at 00:00 UTC, for ordering only).
pub fn parse_event_time(s: &str, all_day: bool) -> Result<UnixMillis, String> {
    if all_day {
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|e| format!("{s:?} is not a date YYYY-MM-DD: {e}"))?;
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            format!("{s:?} is not an RFC 3339 time with offset (2026-02-10T10:00:00+09:00): {e}")
        })
}

fn validate_time_zone(tz: &str) -> Result<(), String> {
    tz.parse::<chrono_tz::Tz>()
        .map(|_| ())
        .map_err(|_| format!("{tz:?} is not an IANA time zone name such as Asia/Tokyo"))
}

fn parse_date(field: &'static str, s: &str) -> Result<NaiveDate, ValidationError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| invalid(field, format!("{s:?} is not a date YYYY-MM-DD")))
}

fn validate_quantity(field: &'static str, q: f64) -> Result<(), ValidationError> {
    if q.is_finite() && q >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            field,
            "quantity must be a finite number of at least 0",
        ))
    }
}

fn validate_codes(field: &'static str, codes: &[String]) -> Result<(), ValidationError> {
    if codes.len() > 256 {
        return Err(invalid(field, "more than 256 codes"));
    }
    for c in codes {
        validate_municipality_code(c).map_err(|r| invalid(field, r))?;
    }
    Ok(())
}

/// Checks an EDXL-RM reference: `<author node id>/<message_id>`.
pub fn parse_resource_reference(r: &str) -> Result<(crate::NodeId, &str), String> {
    let (author, id) = r
        .split_once('/')
        .ok_or_else(|| format!("{r:?} is not <author node id>/<message_id>"))?;
    let author = author.parse().map_err(|e| format!("{r:?}: {e}"))?;
    if id.is_empty() {
        return Err(format!("{r:?} has an empty message id"));
    }
    Ok((author, id))
}

/// Most lines one aid step carries.
pub const MAX_AID_LINES: usize = 64;

fn validate_aid(a: &AidMessage, limits: &Limits) -> Result<(), ValidationError> {
    use AidStep as S;
    let needs_lines = matches!(a.step, S::Request | S::Offer);
    if needs_lines && a.lines.is_empty() {
        return Err(invalid(
            "aid.lines",
            format!("a {} names at least one thing", a.step.name()),
        ));
    }
    if a.lines.len() > MAX_AID_LINES {
        return Err(invalid(
            "aid.lines",
            format!("{} lines, over the limit of {MAX_AID_LINES}", a.lines.len()),
        ));
    }
    match a.step {
        S::Request => {
            if a.request.is_some() || a.offer.is_some() {
                return Err(invalid(
                    "aid.request",
                    "a request starts a thread and answers nothing",
                ));
            }
            if a.to.is_empty() && !a.to_partners {
                return Err(invalid(
                    "aid.to",
                    "address the request to municipalities, or to every mutual-aid partner",
                ));
            }
        }
        S::Offer => {
            if a.offer.is_some() {
                return Err(invalid(
                    "aid.offer",
                    "an offer answers a request, not an offer",
                ));
            }
        }
        S::Decline => {
            if a.request.is_none() {
                return Err(ValidationError::Missing("aid.request"));
            }
            if a.note.is_empty() {
                return Err(invalid("aid.note", "a decline gives its reason"));
            }
        }
        S::Accept | S::Commit | S::Dispatch | S::Arrive | S::Release => {
            if a.offer.is_none() {
                return Err(invalid(
                    "aid.offer",
                    format!("a {} names the offer it is about", a.step.name()),
                ));
            }
        }
        S::Cancel => {
            if a.request.is_none() && a.offer.is_none() {
                return Err(invalid(
                    "aid.request",
                    "a cancel names the request or the offer it withdraws",
                ));
            }
        }
    }
    for (i, l) in a.lines.iter().enumerate() {
        let field = "aid.lines";
        if l.what.is_empty() {
            return Err(invalid(
                field,
                format!("line {} says nothing of what", i + 1),
            ));
        }
        validate_text("aid.lines.what", &l.what, limits)?;
        if !(l.quantity.is_finite() && l.quantity > 0.0 && l.quantity <= 1e12) {
            return Err(invalid(
                "aid.lines.quantity",
                format!("line {}: {} is not a quantity above 0", i + 1, l.quantity),
            ));
        }
        if l.unit.len() > 32 {
            return Err(invalid("aid.lines.unit", "longer than 32 bytes"));
        }
        if l.days > 366 {
            return Err(invalid(
                "aid.lines.days",
                format!("{} days is over a year", l.days),
            ));
        }
        if a.step == S::Request && l.answers_line != 0 {
            return Err(invalid(
                "aid.lines.answers_line",
                "a request answers no line",
            ));
        }
    }
    if a.needed_by < 0 || a.eta < 0 {
        return Err(invalid(
            "aid.eta",
            "times are Unix milliseconds, not negative",
        ));
    }
    validate_codes("aid.to", &a.to)?;
    validate_text("aid.deliver_to", &a.deliver_to, limits)?;
    validate_text("aid.note", &a.note, limits)
}

fn validate_readiness(r: &Readiness, limits: &Limits) -> Result<(), ValidationError> {
    if r.as_of <= 0 {
        return Err(ValidationError::Missing("readiness.as_of"));
    }
    if r.valid_until <= r.as_of {
        return Err(invalid("readiness.valid_until", "must be after as_of"));
    }
    if r.alert_level > 5 {
        return Err(invalid(
            "readiness.alert_level",
            format!("{} is not 0-5", r.alert_level),
        ));
    }
    validate_text("readiness.headline", &r.headline, limits)?;
    validate_text("readiness.description", &r.description, limits)?;
    for f in &r.facilities {
        if f.name.is_empty() {
            return Err(ValidationError::Missing("readiness.facilities.name"));
        }
        validate_text("readiness.facilities", &f.name, limits)?;
        validate_text("readiness.facilities", &f.note, limits)?;
    }
    for s in &r.supplies {
        if s.item.is_empty() {
            return Err(ValidationError::Missing("readiness.supplies.item"));
        }
        validate_text("readiness.supplies.item", &s.item, limits)?;
        validate_quantity("readiness.supplies.quantity", s.quantity)?;
    }
    for s in &r.staff {
        if s.skill.is_empty() || s.count == 0 {
            return Err(invalid(
                "readiness.staff",
                "each offer needs a skill and a count",
            ));
        }
        validate_text("readiness.staff.skill", &s.skill, limits)?;
    }
    if let Some(sh) = &r.shelter {
        if sh.available > sh.capacity {
            return Err(invalid(
                "readiness.shelter.available",
                "is more than capacity",
            ));
        }
        validate_text("readiness.shelter.location", &sh.location, limits)?;
    }
    let mut ids = std::collections::HashSet::new();
    for m in &r.resources {
        if m.message_id.is_empty() {
            return Err(ValidationError::Missing("readiness.resources.message_id"));
        }
        if !ids.insert(m.message_id.as_str()) {
            return Err(invalid(
                "readiness.resources.message_id",
                format!("{:?} used twice", m.message_id),
            ));
        }
        let needs_reference = !matches!(
            m.kind,
            ResourceMessageType::Request | ResourceMessageType::Offer
        );
        if m.references.is_empty() {
            if needs_reference {
                return Err(invalid(
                    "readiness.resources.references",
                    format!("a {:?} must reference the message it answers", m.kind),
                ));
            }
        } else {
            parse_resource_reference(&m.references)
                .map_err(|e| invalid("readiness.resources.references", e))?;
        }
        if m.kind == ResourceMessageType::Request && m.item.is_empty() {
            return Err(ValidationError::Missing("readiness.resources.item"));
        }
        validate_text("readiness.resources.item", &m.item, limits)?;
        validate_text("readiness.resources.note", &m.note, limits)?;
        validate_quantity("readiness.resources.quantity", m.quantity)?;
        validate_codes("readiness.resources.to", &m.to)?;
    }
    validate_codes("readiness.area_codes", &r.area_codes)?;
    validate_contact("readiness.contact", &r.contact, limits)
}

fn validate_case(c: &Case, limits: &Limits) -> Result<(), ValidationError> {
    if c.title.is_empty() {
        return Err(ValidationError::Missing("case.title"));
    }
    validate_text("case.title", &c.title, limits)?;
    validate_text("case.summary", &c.summary, limits)?;
    validate_text("case.outcomes", &c.outcomes, limits)?;
    if c.tags.len() > 32 || c.tags.iter().any(|t| t.is_empty() || t.len() > 64) {
        return Err(invalid("case.tags", "at most 32 tags of 1-64 bytes"));
    }
    validate_codes("case.participants", &c.participants)?;
    if !c.period_start.is_empty() {
        let start = parse_date("case.period_start", &c.period_start)?;
        if !c.period_end.is_empty() && parse_date("case.period_end", &c.period_end)? < start {
            return Err(invalid("case.period_end", "is before period_start"));
        }
    } else if !c.period_end.is_empty() {
        return Err(invalid("case.period_end", "needs period_start"));
    }
    for a in &c.attachments {
        if a.name.is_empty() {
            return Err(ValidationError::Missing("case.attachments.name"));
        }
        if a.sha256.len() != 64
            || !a
                .sha256
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return Err(invalid(
                "case.attachments.sha256",
                "must be 64 lower-case hex digits",
            ));
        }
        if !a.url.is_empty() {
            validate_url("case.attachments.url", &a.url)?;
        }
    }
    validate_contact("case.contact", &c.contact, limits)
}

fn validate_call(c: &CallForPartners, limits: &Limits) -> Result<(), ValidationError> {
    if c.title.is_empty() {
        return Err(ValidationError::Missing("call_for_partners.title"));
    }
    validate_text("call_for_partners.title", &c.title, limits)?;
    validate_text("call_for_partners.description", &c.description, limits)?;
    if !c.deadline.is_empty() {
        parse_date("call_for_partners.deadline", &c.deadline)?;
    }
    validate_contact("call_for_partners.contact", &c.contact, limits)
}

fn validate_partnership(
    p: &Partnership,
    entry: &Entry,
    limits: &Limits,
) -> Result<(), ValidationError> {
    if p.partner == entry.author {
        return Err(invalid(
            "partnership.partner",
            "a municipality cannot partner with itself",
        ));
    }
    if !p.partner_code.is_empty() {
        validate_municipality_code(&p.partner_code)
            .map_err(|r| invalid("partnership.partner_code", r))?;
    }
    if !p.since.is_empty() {
        parse_date("partnership.since", &p.since)?;
    }
    validate_text("partnership.description", &p.description, limits)
}

fn validate_event(e: &Event, limits: &Limits) -> Result<(), ValidationError> {
    if e.title.is_empty() {
        return Err(ValidationError::Missing("event.title"));
    }
    validate_text("event.title", &e.title, limits)?;
    validate_text("event.description", &e.description, limits)?;
    validate_text("event.location", &e.location, limits)?;
    if e.start.is_empty() {
        return Err(ValidationError::Missing("event.start"));
    }
    let start = parse_event_time(&e.start, e.all_day).map_err(|r| invalid("event.start", r))?;
    if !e.end.is_empty() {
        let end = parse_event_time(&e.end, e.all_day).map_err(|r| invalid("event.end", r))?;
        if end < start {
            return Err(invalid("event.end", "is before start"));
        }
        if e.duration_minutes != 0 {
            return Err(invalid(
                "event.duration_minutes",
                "give end or duration, not both",
            ));
        }
    }
    if !e.time_zone.is_empty() {
        validate_time_zone(&e.time_zone).map_err(|r| invalid("event.time_zone", r))?;
    }
    if !e.online_url.is_empty() {
        validate_url("event.online_url", &e.online_url)?;
    }
    for c in e.organisers.iter().chain(&e.partners) {
        validate_municipality_code(c).map_err(|r| invalid("event.organisers/partners", r))?;
    }
    validate_contact("event.contact", &e.contact, limits)
}

/// Where a new entry stands relative to the author's log as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainCheck {
    /// `seq == head + 1` and `prev` is the head's id: append it.
    Append,
    /// Already stored (same id at that seq).
    Duplicate,
    /// `seq` is beyond `head + 1`: earlier entries are missing.
    Gap {
        /// Current contiguous head seq (0 = none).
        head: u64,
    },
    /// A different entry is stored at this seq: the author forked.
    Fork {
        /// Id of the entry already stored at that seq.
        existing: EntryId,
    },
    /// `seq == head + 1` but `prev` names another entry: the author signed a
    /// different history (evidence of a fork we have not seen).
    PrevMismatch,
}

/// Classifies `entry` (with id `id`) against the author's `head` and the id
/// stored at `entry.seq`, if any.
pub fn check_chain(
    head: Option<Head>,
    entry: &Entry,
    id: EntryId,
    stored_at_seq: Option<EntryId>,
) -> ChainCheck {
    let head_seq = head.map_or(0, |h| h.seq);
    if entry.seq <= head_seq {
        return match stored_at_seq {
            Some(existing) if existing == id => ChainCheck::Duplicate,
            Some(existing) => ChainCheck::Fork { existing },
            // A store that holds the head holds every seq below it.
            None => ChainCheck::Gap { head: head_seq },
        };
    }
    if entry.seq > head_seq + 1 {
        return ChainCheck::Gap { head: head_seq };
    }
    if entry.prev != head.map(|h| h.id) {
        return ChainCheck::PrevMismatch;
    }
    ChainCheck::Append
}

#[cfg(test)]
mod tests;
