//! The publish forms' fields: what each kind's form asks ([`Spec`]), the
//! posted fields turned into a body (`build`, or errors by field) and a
//! current version turned back into fields for an update (`fill`).

use std::collections::HashMap;

use yui_core::content::{
    AttendanceMode, CallForPartners, CallKind, Case, Contact, Event, EventStatus,
    OperationalStatus, Partnership, PartnershipKind, PolicyArea, Profile, ProfileKind, Readiness,
    StaffOffer, Supply,
};
use yui_core::{Body, Kind, LocalizedText};

use crate::format::{self, TOKYO};
use crate::i18n::Words;
use crate::staff::forms::{Errors, Fields};
use crate::text::wire;

/// How a field is entered.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// One line.
    Line,
    /// Several lines.
    Area,
    /// Date and time (Japan time).
    DateTime,
    /// A date.
    Date,
    /// A number.
    Number,
    /// One of (value, message id).
    Select(Vec<(String, String)>),
    /// A checkbox.
    Check,
    /// Free text with suggestions (the known event categories): a suggestion
    /// shows its name in the reader's language and is stored as its slug.
    Suggest,
}

/// One field of a form.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Form name.
    pub name: &'static str,
    /// Message id of its label.
    pub label: String,
    /// How it is entered.
    pub input: Input,
    /// Required.
    pub required: bool,
    /// Language of the text (for `lang`), if a text.
    pub lang: &'static str,
}

fn spec(name: &'static str, input: Input, required: bool) -> Spec {
    let lang = if name.ends_with("_en") {
        "en"
    } else if name.ends_with("_ja") {
        "ja"
    } else {
        ""
    };
    let base = name.trim_end_matches("_ja").trim_end_matches("_en");
    Spec {
        name,
        label: format!("form-{base}"),
        input,
        required,
        lang,
    }
}

fn options<T: serde::Serialize + Copy>(prefix: &str, values: &[T]) -> Input {
    Input::Select(
        values
            .iter()
            .map(|v| (wire(v), format!("{prefix}-{}", wire(v))))
            .collect(),
    )
}

const AREAS: [PolicyArea; 7] = [
    PolicyArea::DisasterPrevention,
    PolicyArea::Tourism,
    PolicyArea::Education,
    PolicyArea::Welfare,
    PolicyArea::Economy,
    PolicyArea::Culture,
    PolicyArea::Other,
];

fn contact_specs() -> Vec<Spec> {
    vec![
        spec("contact_name_ja", Input::Line, false),
        spec("contact_department_ja", Input::Line, false),
        spec("contact_email", Input::Line, false),
        spec("contact_phone", Input::Line, false),
        spec(
            "contact_audience",
            Input::Select(
                ["", "partners", "staff", "public"]
                    .iter()
                    .map(|v| {
                        let id = if v.is_empty() { "default" } else { v };
                        (v.to_string(), format!("audience-{id}"))
                    })
                    .collect(),
            ),
            false,
        ),
    ]
}

/// The fields of `kind`'s form.
pub(super) fn specs(kind: &str) -> Option<Vec<Spec>> {
    let mut v = match kind {
        "event" => vec![
            spec("title_ja", Input::Line, true),
            spec("title_en", Input::Line, false),
            spec("description_ja", Input::Area, false),
            spec("description_en", Input::Area, false),
            spec("start", Input::DateTime, true),
            spec("end", Input::DateTime, false),
            spec("location_ja", Input::Line, false),
            spec(
                "attendance",
                options(
                    "attendance",
                    &[
                        AttendanceMode::Offline,
                        AttendanceMode::Online,
                        AttendanceMode::Mixed,
                    ],
                ),
                true,
            ),
            spec("online_url", Input::Line, false),
            spec(
                "status",
                options(
                    "status-event",
                    &[
                        EventStatus::Confirmed,
                        EventStatus::Tentative,
                        EventStatus::Cancelled,
                    ],
                ),
                true,
            ),
            spec("category", Input::Suggest, false),
        ],
        "case" => vec![
            spec("title_ja", Input::Line, true),
            spec("title_en", Input::Line, false),
            spec("summary_ja", Input::Area, true),
            spec("summary_en", Input::Area, false),
            spec("outcomes_ja", Input::Area, false),
            spec("outcomes_en", Input::Area, false),
            spec("policy_area", options("area", &AREAS), true),
            spec("tags", Input::Line, false),
            spec("participants", Input::Line, false),
            spec("period_start", Input::Date, false),
            spec("period_end", Input::Date, false),
        ],
        "call" => vec![
            spec(
                "call_kind",
                options("call", &[CallKind::Need, CallKind::Offer]),
                true,
            ),
            spec("policy_area", options("area", &AREAS), true),
            spec("title_ja", Input::Line, true),
            spec("title_en", Input::Line, false),
            spec("description_ja", Input::Area, true),
            spec("description_en", Input::Area, false),
            spec("deadline", Input::Date, false),
        ],
        "readiness" => vec![
            spec(
                "alert_level",
                Input::Select(
                    (0..=5)
                        .map(|l| (l.to_string(), format!("alert-{l}")))
                        .collect(),
                ),
                true,
            ),
            spec("headline_ja", Input::Line, true),
            spec("headline_en", Input::Line, false),
            spec("description_ja", Input::Area, false),
            spec("description_en", Input::Area, false),
            spec(
                "communications",
                options(
                    "status",
                    &[
                        OperationalStatus::Normal,
                        OperationalStatus::Degraded,
                        OperationalStatus::Down,
                    ],
                ),
                true,
            ),
            spec("valid_hours", Input::Number, true),
            spec("supplies", Input::Area, false),
            spec("staff", Input::Area, false),
            spec("shelter_capacity", Input::Number, false),
            spec("shelter_available", Input::Number, false),
            spec("shelter_outside", Input::Check, false),
            spec("shelter_location_ja", Input::Line, false),
            spec(
                "shelter_audience",
                Input::Select(
                    ["public", "partners", "staff"]
                        .iter()
                        .map(|v| (v.to_string(), format!("audience-{v}")))
                        .collect(),
                ),
                false,
            ),
            spec("exercise", Input::Check, false),
        ],
        "profile" => vec![
            spec("name_ja", Input::Line, true),
            spec("name_en", Input::Line, false),
            spec(
                "profile_kind",
                options(
                    "kind",
                    &[
                        ProfileKind::Municipality,
                        ProfileKind::SpecialWard,
                        ProfileKind::Prefecture,
                        ProfileKind::WideAreaUnion,
                        ProfileKind::ForeignCity,
                        ProfileKind::Network,
                    ],
                ),
                true,
            ),
            spec("country", Input::Line, true),
            spec("code", Input::Line, false),
            spec("languages", Input::Line, false),
        ],
        "partnership" => vec![
            // The partner's options are the municipalities this node knows
            // (filled in when the page is drawn).
            spec("partner", Input::Select(Vec::new()), true),
            spec(
                "partnership_kind",
                options(
                    "tie",
                    &[
                        PartnershipKind::MutualAid,
                        PartnershipKind::SisterCity,
                        PartnershipKind::Friendship,
                        PartnershipKind::Network,
                    ],
                ),
                true,
            ),
            spec("since", Input::Date, false),
            spec("description_ja", Input::Area, false),
            spec("description_en", Input::Area, false),
        ],
        _ => return None,
    };
    if matches!(kind, "event" | "case" | "call" | "profile") {
        v.extend(contact_specs());
    }
    if matches!(kind, "event" | "case" | "call") {
        v.push(spec("exercise", Input::Check, false));
    }
    Some(v)
}

pub(super) fn kind_of(kind: &str) -> Option<Kind> {
    Some(match kind {
        "event" => Kind::Event,
        "case" => Kind::Case,
        "call" => Kind::CallForPartners,
        "readiness" => Kind::Readiness,
        "profile" => Kind::Profile,
        "partnership" => Kind::Partnership,
        _ => return None,
    })
}

fn text2(f: &Fields, base: &str) -> LocalizedText {
    let mut t = Vec::new();
    for lang in ["ja", "en"] {
        let v = f.get(&format!("{base}_{lang}"));
        if !v.is_empty() {
            t.push((lang.to_owned(), v.to_owned()));
        }
    }
    LocalizedText(t)
}

fn put2(m: &mut HashMap<String, String>, base: &str, t: &LocalizedText) {
    for (lang, v) in &t.0 {
        if lang == "ja" || lang == "en" {
            m.insert(format!("{base}_{lang}"), v.clone());
        }
    }
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

fn local_time(w: &Words, errors: &mut Errors, name: &str, s: &str) -> Option<String> {
    if s.is_empty() {
        return Some(String::new());
    }
    match crate::format::local_input(s) {
        Some(t) => Some(t.to_rfc3339()),
        None => {
            errors.put(name, w.named("staff-bad-time", s));
            None
        }
    }
}

fn contact(f: &Fields) -> Contact {
    Contact {
        name: text2(f, "contact_name"),
        department: text2(f, "contact_department"),
        email: f.get("contact_email").to_owned(),
        phone: f.get("contact_phone").to_owned(),
        url: String::new(),
    }
}

fn put_contact(m: &mut HashMap<String, String>, c: &Contact) {
    put2(m, "contact_name", &c.name);
    put2(m, "contact_department", &c.department);
    m.insert("contact_email".into(), c.email.clone());
    m.insert("contact_phone".into(), c.phone.clone());
}

fn list(s: &str) -> Vec<String> {
    s.split([',', '、', ' ', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// "毛布 500 枚" lines, one per line of a text area.
fn supply_lines(w: &Words, errors: &mut Errors, name: &str, s: &str) -> Vec<(String, f64, String)> {
    let mut out = Vec::new();
    for line in s.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [what, q, rest @ ..] if q.parse::<f64>().is_ok() => {
                out.push(((*what).to_owned(), q.parse().unwrap_or(0.0), rest.join(" ")))
            }
            _ => errors.put(name, w.named("form-bad-line", line)),
        }
    }
    out
}

/// The body the form describes, or errors by field.
/// The stored form of a category typed in the form: a known category's slug
/// when it was typed by its name in the reader's language, else the text.
fn category_slug(w: &Words, typed: &str) -> String {
    crate::pages::EVENT_CATEGORIES
        .iter()
        .find(|c| crate::pages::category_label(w, c) == typed)
        .map_or_else(|| typed.to_owned(), |c| (*c).to_owned())
}

pub(super) fn build(
    kind: &str,
    f: &Fields,
    w: &Words,
    previous: Option<&Body>,
) -> Result<Body, Errors> {
    let mut e = Errors::default();
    for s in specs(kind).unwrap_or_default() {
        if s.required && s.input != Input::Check && f.get(s.name).is_empty() {
            e.put(s.name, w.get("staff-required"));
        }
    }
    let body = match kind {
        "event" => {
            let start = local_time(w, &mut e, "start", f.get("start")).unwrap_or_default();
            let end = local_time(w, &mut e, "end", f.get("end")).unwrap_or_default();
            let sequence = match previous {
                Some(Body::Event(p)) => p.sequence + 1,
                _ => 0,
            };
            Body::Event(Event {
                title: text2(f, "title"),
                description: text2(f, "description"),
                sequence,
                status: parse_enum(f.get("status")).unwrap_or_default(),
                start,
                end,
                time_zone: "Asia/Tokyo".into(),
                attendance: parse_enum(f.get("attendance")).unwrap_or_default(),
                location: text2(f, "location"),
                online_url: f.get("online_url").to_owned(),
                category: category_slug(w, f.get("category").trim()),
                contact: contact(f),
                exercise: f.has("exercise"),
                ..Default::default()
            })
        }
        "case" => Body::Case(Case {
            title: text2(f, "title"),
            summary: text2(f, "summary"),
            outcomes: text2(f, "outcomes"),
            policy_area: parse_enum(f.get("policy_area")).unwrap_or_default(),
            tags: list(f.get("tags")),
            participants: list(f.get("participants")),
            period_start: f.get("period_start").to_owned(),
            period_end: f.get("period_end").to_owned(),
            contact: contact(f),
            attachments: match previous {
                Some(Body::Case(p)) => p.attachments.clone(),
                _ => Vec::new(),
            },
            exercise: f.has("exercise"),
        }),
        "call" => Body::CallForPartners(CallForPartners {
            kind: parse_enum(f.get("call_kind")).unwrap_or_default(),
            policy_area: parse_enum(f.get("policy_area")).unwrap_or_default(),
            title: text2(f, "title"),
            description: text2(f, "description"),
            deadline: f.get("deadline").to_owned(),
            contact: contact(f),
            exercise: f.has("exercise"),
        }),
        "readiness" => {
            let now = yui_sync::now_ms();
            let hours: i64 = f.get("valid_hours").parse().unwrap_or_else(|_| {
                e.put(
                    "valid_hours",
                    w.named("staff-bad-quantity", f.get("valid_hours")),
                );
                6
            });
            let num = |e: &mut Errors, name: &str| -> u32 {
                let v = f.get(name);
                if v.is_empty() {
                    return 0;
                }
                v.parse().unwrap_or_else(|_| {
                    e.put(name, w.named("staff-bad-quantity", v));
                    0
                })
            };
            let capacity = num(&mut e, "shelter_capacity");
            let available = num(&mut e, "shelter_available");
            let supplies = supply_lines(w, &mut e, "supplies", f.get("supplies"))
                .into_iter()
                .map(|(what, quantity, unit)| Supply {
                    item: LocalizedText::one("ja", &what),
                    quantity,
                    unit,
                    available_from: 0,
                })
                .collect();
            let staff = supply_lines(w, &mut e, "staff", f.get("staff"))
                .into_iter()
                .map(|(what, count, days)| StaffOffer {
                    skill: LocalizedText::one("ja", &what),
                    count: count as u32,
                    days: days
                        .trim_end_matches(['日', 'd'])
                        .trim()
                        .parse()
                        .unwrap_or(0),
                    self_sufficient: true,
                })
                .collect();
            let (facilities, area_codes, contact) = match previous {
                Some(Body::Readiness(p)) => (
                    p.facilities.clone(),
                    p.area_codes.clone(),
                    p.contact.clone(),
                ),
                _ => Default::default(),
            };
            Body::Readiness(Readiness {
                as_of: now,
                valid_until: now + hours.clamp(1, 24 * 14) * 3_600_000,
                alert_level: f.get("alert_level").parse().unwrap_or(0),
                headline: text2(f, "headline"),
                description: text2(f, "description"),
                communications: parse_enum(f.get("communications")).unwrap_or_default(),
                facilities,
                supplies,
                staff,
                shelter: (capacity > 0).then(|| yui_core::content::Shelter {
                    capacity,
                    available,
                    accepts_outside_evacuees: f.has("shelter_outside"),
                    location: text2(f, "shelter_location"),
                }),
                resources: Vec::new(),
                area_codes,
                contact,
                exercise: f.has("exercise"),
            })
        }
        "profile" => Body::Profile(Profile {
            audience_key: Vec::new(),
            name: text2(f, "name"),
            kind: parse_enum(f.get("profile_kind")).unwrap_or_default(),
            country: f.get("country").to_owned(),
            code: f.get("code").to_owned(),
            languages: list(f.get("languages")),
            contact: contact(f),
        }),
        "partnership" => {
            let partner = match f.get("partner").parse::<yui_core::NodeId>() {
                Ok(p) => p,
                Err(_) => {
                    e.put("partner", w.get("staff-required"));
                    return Err(e);
                }
            };
            Body::Partnership(Partnership {
                kind: parse_enum(f.get("partnership_kind")).unwrap_or_default(),
                partner,
                partner_code: f.get("partner_code").to_owned(),
                since: f.get("since").to_owned(),
                description: text2(f, "description"),
            })
        }
        _ => return Err(e),
    };
    if e.is_empty() {
        Ok(body)
    } else {
        Err(e)
    }
}

/// The form's fields of a published body (an update starts from it).
pub(super) fn fill(body: &Body) -> HashMap<String, String> {
    let mut m = HashMap::new();
    let dt = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&TOKYO).format("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default()
    };
    match body {
        Body::Event(e) => {
            put2(&mut m, "title", &e.title);
            put2(&mut m, "description", &e.description);
            put2(&mut m, "location", &e.location);
            m.insert("start".into(), dt(&e.start));
            m.insert("end".into(), dt(&e.end));
            m.insert("attendance".into(), wire(&e.attendance));
            m.insert("status".into(), wire(&e.status));
            m.insert("online_url".into(), e.online_url.clone());
            m.insert("category".into(), e.category.clone());
            put_contact(&mut m, &e.contact);
            if e.exercise {
                m.insert("exercise".into(), "on".into());
            }
        }
        Body::Case(c) => {
            put2(&mut m, "title", &c.title);
            put2(&mut m, "summary", &c.summary);
            put2(&mut m, "outcomes", &c.outcomes);
            m.insert("policy_area".into(), wire(&c.policy_area));
            m.insert("tags".into(), c.tags.join(", "));
            m.insert("participants".into(), c.participants.join(", "));
            m.insert("period_start".into(), c.period_start.clone());
            m.insert("period_end".into(), c.period_end.clone());
            put_contact(&mut m, &c.contact);
            if c.exercise {
                m.insert("exercise".into(), "on".into());
            }
        }
        Body::CallForPartners(c) => {
            m.insert("call_kind".into(), wire(&c.kind));
            m.insert("policy_area".into(), wire(&c.policy_area));
            put2(&mut m, "title", &c.title);
            put2(&mut m, "description", &c.description);
            m.insert("deadline".into(), c.deadline.clone());
            put_contact(&mut m, &c.contact);
            if c.exercise {
                m.insert("exercise".into(), "on".into());
            }
        }
        Body::Readiness(r) => {
            m.insert("alert_level".into(), r.alert_level.to_string());
            put2(&mut m, "headline", &r.headline);
            put2(&mut m, "description", &r.description);
            m.insert("communications".into(), wire(&r.communications));
            m.insert("valid_hours".into(), "6".into());
            let supplies: Vec<String> = r
                .supplies
                .iter()
                .map(|s| {
                    format!(
                        "{} {} {}",
                        s.item.get("ja").unwrap_or_default(),
                        format::quantity(s.quantity),
                        s.unit
                    )
                })
                .collect();
            m.insert("supplies".into(), supplies.join("\n"));
            let staff: Vec<String> = r
                .staff
                .iter()
                .map(|s| {
                    format!(
                        "{} {} {}",
                        s.skill.get("ja").unwrap_or_default(),
                        s.count,
                        s.days
                    )
                })
                .collect();
            m.insert("staff".into(), staff.join("\n"));
            if let Some(s) = &r.shelter {
                m.insert("shelter_capacity".into(), s.capacity.to_string());
                m.insert("shelter_available".into(), s.available.to_string());
                if s.accepts_outside_evacuees {
                    m.insert("shelter_outside".into(), "on".into());
                }
                put2(&mut m, "shelter_location", &s.location);
            }
            if r.exercise {
                m.insert("exercise".into(), "on".into());
            }
        }
        Body::Profile(p) => {
            put2(&mut m, "name", &p.name);
            m.insert("profile_kind".into(), wire(&p.kind));
            m.insert("country".into(), p.country.clone());
            m.insert("code".into(), p.code.clone());
            m.insert("languages".into(), p.languages.join(", "));
            put_contact(&mut m, &p.contact);
        }
        Body::Partnership(p) => {
            m.insert("partner".into(), p.partner.to_string());
            m.insert("partnership_kind".into(), wire(&p.kind));
            m.insert("since".into(), p.since.clone());
            put2(&mut m, "description", &p.description);
        }
        _ => {}
    }
    m
}
