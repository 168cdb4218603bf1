//! `yui publish KIND`: flags for the common fields, `--file` (JSON or TOML)
//! for the full body.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::de::DeserializeOwned;
use yui_core::content::{
    Acknowledgement, AttendanceMode, CallForPartners, CallKind, Case, Contact, Event, EventStatus,
    OperationalStatus, Partnership, PartnershipKind, PolicyArea, Profile, ProfileKind, Readiness,
    Retraction, Shelter, StaffOffer, Supply,
};
use yui_core::{Body, EntryId, LocalizedText, NodeId};

/// Options every kind shares.
#[derive(Debug, Args)]
pub struct Common {
    /// Object id: give an existing one to update (supersede) that object.
    #[arg(long = "id")]
    pub object_id: Option<String>,
    /// Language of the texts given by flags (BCP 47).
    #[arg(long, default_value = "ja")]
    pub lang: String,
    /// Read the whole body from a JSON or TOML file instead of flags.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// When the entry goes stale (RFC 3339).
    #[arg(long)]
    pub expires: Option<String>,
    /// Who reads the contact: `public`, or an audience of the node's
    /// `[privacy]` (default: its `contact_audience`, `partners` unless
    /// changed; a profile's contact window stays public unless given).
    #[arg(long, value_name = "AUDIENCE")]
    pub contact_audience: Option<String>,
}

/// Who reads a publish command's restricted parts
/// (`--contact-audience`, `--shelter-audience`).
pub fn readers(cmd: &PublishCmd) -> yui_core::audience::Readers {
    let shelter_location = match cmd {
        PublishCmd::Readiness(a) => a.shelter_audience.clone(),
        _ => None,
    };
    let c = match cmd {
        PublishCmd::Event(a) => &a.common,
        PublishCmd::Readiness(a) => &a.common,
        PublishCmd::Case(a) => &a.common,
        PublishCmd::Call(a) => &a.common,
        PublishCmd::Partnership(a) => &a.common,
        PublishCmd::Ack(a) => &a.common,
        PublishCmd::Profile(a) => &a.common,
        PublishCmd::Retract(_) => return Default::default(),
    };
    yui_core::audience::Readers {
        contact: c.contact_audience.clone(),
        shelter_location,
    }
}

/// `yui publish …`.
#[derive(Debug, Subcommand)]
pub enum PublishCmd {
    /// Publish or update a calendar event.
    Event(Box<EventArgs>),
    /// Publish this municipality's disaster-readiness status.
    Readiness(Box<ReadinessArgs>),
    /// Publish a cooperation case.
    Case(Box<CaseArgs>),
    /// Call for partners (a need or an offer).
    Call(Box<CallArgs>),
    /// State a partnership (valid once the partner states it too).
    Partnership(Box<PartnershipArgs>),
    /// Acknowledge (received and read) another entry.
    Ack(Box<AckArgs>),
    /// Publish this node's profile.
    Profile(Box<ProfileArgs>),
    /// Retract an object this node published.
    Retract(Box<RetractArgs>),
}

/// `yui publish event`.
#[derive(Debug, Args)]
pub struct EventArgs {
    #[command(flatten)]
    common: Common,
    /// A drill (訓練): shown as an exercise, kept out of real notifications.
    #[arg(long)]
    exercise: bool,
    /// Title.
    #[arg(long, required_unless_present = "file")]
    title: Option<String>,
    /// Start: RFC 3339 with offset (2027-02-10T10:00:00+09:00), or a date with --all-day.
    #[arg(long, required_unless_present = "file")]
    start: Option<String>,
    /// End, same form as start.
    #[arg(long)]
    end: Option<String>,
    /// Duration in minutes, instead of --end.
    #[arg(long, default_value_t = 0)]
    duration: u32,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// Place.
    #[arg(long)]
    location: Option<String>,
    /// IANA time zone.
    #[arg(long, default_value = "Asia/Tokyo")]
    tz: String,
    /// All-day event (start and end are dates).
    #[arg(long)]
    all_day: bool,
    /// tentative, confirmed or cancelled.
    #[arg(long, default_value = "confirmed")]
    status: String,
    /// offline, online or mixed.
    #[arg(long, default_value = "offline")]
    attendance: String,
    /// Online meeting URL.
    #[arg(long)]
    online_url: Option<String>,
    /// Category. The pages name these in the reader's language:
    /// disaster-drill, forum, culture, welfare, sports, tourism, education,
    /// staff-exchange, youth-exchange; any other text is shown as written.
    #[arg(long, default_value = "")]
    category: String,
    /// Organiser codes (repeat).
    #[arg(long = "organiser")]
    organisers: Vec<String>,
    /// Partner municipality codes (repeat).
    #[arg(long = "partner")]
    partners: Vec<String>,
    /// RFC 5545 SEQUENCE of this version.
    #[arg(long, default_value_t = 0)]
    sequence: u32,
    /// Contact e-mail.
    #[arg(long)]
    email: Option<String>,
}

/// `yui publish readiness`.
#[derive(Debug, Args)]
pub struct ReadinessArgs {
    #[command(flatten)]
    common: Common,
    /// Evacuation alert level 0-5.
    #[arg(long, default_value_t = 0)]
    alert_level: u32,
    /// A drill (訓練): shown as an exercise, CAP status Exercise.
    #[arg(long)]
    exercise: bool,
    /// One-line summary.
    #[arg(long)]
    headline: Option<String>,
    /// Details.
    #[arg(long)]
    description: Option<String>,
    /// Hours until the status is stale.
    #[arg(long, default_value_t = 24)]
    valid_hours: u32,
    /// normal, degraded or down.
    #[arg(long, default_value = "normal")]
    communications: String,
    /// Supplies on offer, ITEM:QUANTITY:UNIT (repeat).
    #[arg(long = "supply")]
    supplies: Vec<String>,
    /// Staff deployable, SKILL:COUNT:DAYS (repeat).
    #[arg(long = "staff")]
    staff: Vec<String>,
    /// Shelter places in all.
    #[arg(long)]
    shelter_capacity: Option<u32>,
    /// Shelter places free.
    #[arg(long, default_value_t = 0)]
    shelter_available: u32,
    /// The shelter takes evacuees from other municipalities.
    #[arg(long)]
    accepts_outside_evacuees: bool,
    /// Where the shelter is (in `--lang`).
    #[arg(long)]
    shelter_location: Option<String>,
    /// Who reads the shelter's location: `public` (the default) or an
    /// audience of the node's `[privacy]` — for a shelter for people
    /// fleeing violence, say. The places stay public.
    #[arg(long, value_name = "AUDIENCE")]
    shelter_audience: Option<String>,
    /// Area codes (repeat).
    #[arg(long = "area")]
    areas: Vec<String>,
}

/// `yui publish case`.
#[derive(Debug, Args)]
pub struct CaseArgs {
    #[command(flatten)]
    common: Common,
    /// A drill (訓練): shown as an exercise, kept out of real notifications.
    #[arg(long)]
    exercise: bool,
    /// Title.
    #[arg(long, required_unless_present = "file")]
    title: Option<String>,
    /// Summary.
    #[arg(long)]
    summary: Option<String>,
    /// Outcomes.
    #[arg(long)]
    outcomes: Option<String>,
    /// tourism, disaster_prevention, education, welfare, economy, culture, other.
    #[arg(long, default_value = "other")]
    policy_area: String,
    /// Tags (repeat).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Participant codes (repeat).
    #[arg(long = "participant")]
    participants: Vec<String>,
    /// Start date YYYY-MM-DD.
    #[arg(long)]
    from: Option<String>,
    /// End date YYYY-MM-DD.
    #[arg(long)]
    until: Option<String>,
    /// Person in charge.
    #[arg(long)]
    contact_name: Option<String>,
    /// Department.
    #[arg(long)]
    department: Option<String>,
    /// Contact e-mail.
    #[arg(long)]
    email: Option<String>,
}

/// `yui publish call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    #[command(flatten)]
    common: Common,
    /// A drill (訓練): shown as an exercise, kept out of real notifications.
    #[arg(long)]
    exercise: bool,
    /// need or offer.
    #[arg(long, default_value = "need")]
    kind: String,
    /// Policy area.
    #[arg(long, default_value = "other")]
    policy_area: String,
    /// Title.
    #[arg(long, required_unless_present = "file")]
    title: Option<String>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// Deadline YYYY-MM-DD.
    #[arg(long)]
    deadline: Option<String>,
    /// Contact e-mail.
    #[arg(long)]
    email: Option<String>,
}

/// `yui publish partnership`.
#[derive(Debug, Args)]
pub struct PartnershipArgs {
    #[command(flatten)]
    common: Common,
    /// The partner's node id.
    #[arg(long, required_unless_present = "file")]
    partner: Option<NodeId>,
    /// sister_city, friendship, mutual_aid or network.
    #[arg(long, default_value = "sister_city")]
    kind: String,
    /// The partner's municipality code.
    #[arg(long, default_value = "")]
    partner_code: String,
    /// Since (YYYY-MM-DD).
    #[arg(long, default_value = "")]
    since: String,
    /// Description.
    #[arg(long)]
    description: Option<String>,
}

/// `yui publish ack`.
#[derive(Debug, Args)]
pub struct AckArgs {
    #[command(flatten)]
    common: Common,
    /// Id of the entry acknowledged.
    #[arg(long, required_unless_present = "file")]
    entry: Option<EntryId>,
    /// Remarks.
    #[arg(long)]
    note: Option<String>,
}

/// `yui publish profile`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    common: Common,
    /// Name.
    #[arg(long, required_unless_present = "file")]
    name: Option<String>,
    /// municipality, special_ward, prefecture, wide_area_union, foreign_city, network.
    #[arg(long, default_value = "municipality")]
    kind: String,
    /// ISO 3166-1 alpha-2.
    #[arg(long, default_value = "JP")]
    country: String,
    /// Municipality code.
    #[arg(long, default_value = "")]
    code: String,
    /// Working languages (repeat).
    #[arg(long = "language")]
    languages: Vec<String>,
    /// Contact e-mail.
    #[arg(long)]
    email: Option<String>,
}

/// `yui publish retract`.
#[derive(Debug, Args)]
pub struct RetractArgs {
    /// Object id to retract.
    #[arg(long = "id")]
    object_id: String,
    /// Why.
    #[arg(long)]
    reason: Option<String>,
    /// Language of the reason.
    #[arg(long, default_value = "ja")]
    lang: String,
}

fn read_file<T: DeserializeOwned>(path: &PathBuf) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text)
            .with_context(|| format!("{}: not a valid body in TOML", path.display()))
    } else {
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not a valid body in JSON", path.display()))
    }
}

fn parse_enum<T: DeserializeOwned>(flag: &str, v: &str) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(v.replace('-', "_")))
        .with_context(|| format!("--{flag}: {v:?} is not a valid value"))
}

fn text(lang: &str, t: &Option<String>) -> LocalizedText {
    t.as_deref()
        .map(|t| LocalizedText::one(lang, t))
        .unwrap_or_default()
}

fn contact(
    lang: &str,
    name: &Option<String>,
    dept: &Option<String>,
    email: &Option<String>,
) -> Contact {
    Contact {
        name: text(lang, name),
        department: text(lang, dept),
        email: email.clone().unwrap_or_default(),
        ..Default::default()
    }
}

fn split3(flag: &str, v: &str) -> anyhow::Result<(String, String, String)> {
    let parts: Vec<&str> = v.splitn(3, ':').collect();
    match parts.as_slice() {
        [a, b, c] => Ok(((*a).into(), (*b).into(), (*c).into())),
        _ => anyhow::bail!("--{flag}: {v:?} must have three parts separated by ':'"),
    }
}

/// The body, object id and expiry a publish command asks for.
pub fn build(cmd: PublishCmd) -> anyhow::Result<(Body, Option<String>, Option<i64>)> {
    let expires = |c: &Common| -> anyhow::Result<Option<i64>> {
        c.expires
            .as_deref()
            .map(|s| {
                chrono::DateTime::parse_from_rfc3339(s)
                    .map(|t| t.timestamp_millis())
                    .with_context(|| format!("--expires: {s:?} is not RFC 3339"))
            })
            .transpose()
    };
    Ok(match cmd {
        PublishCmd::Event(a) => {
            let c = &a.common;
            let body = match &c.file {
                Some(f) => read_file(f)?,
                None => Event {
                    title: text(&c.lang, &a.title),
                    description: text(&c.lang, &a.description),
                    location: text(&c.lang, &a.location),
                    sequence: a.sequence,
                    status: parse_enum::<EventStatus>("status", &a.status)?,
                    start: a.start.clone().unwrap_or_default(),
                    end: a.end.clone().unwrap_or_default(),
                    duration_minutes: a.duration,
                    time_zone: a.tz.clone(),
                    all_day: a.all_day,
                    attendance: parse_enum::<AttendanceMode>("attendance", &a.attendance)?,
                    online_url: a.online_url.clone().unwrap_or_default(),
                    organisers: a.organisers.clone(),
                    partners: a.partners.clone(),
                    category: a.category.clone(),
                    contact: contact(&c.lang, &None, &None, &a.email),
                    exercise: a.exercise,
                },
            };
            (Body::Event(body), c.object_id.clone(), expires(c)?)
        }
        PublishCmd::Readiness(a) => {
            let c = &a.common;
            let body = match &c.file {
                Some(f) => read_file(f)?,
                None => {
                    let now = yui_sync::now_ms();
                    let mut supplies = Vec::new();
                    for s in &a.supplies {
                        let (item, q, unit) = split3("supply", s)?;
                        supplies.push(Supply {
                            item: LocalizedText::one(&c.lang, &item),
                            quantity: q
                                .parse()
                                .with_context(|| format!("--supply: {q:?} is not a number"))?,
                            unit,
                            available_from: 0,
                        });
                    }
                    let mut staff = Vec::new();
                    for s in &a.staff {
                        let (skill, n, days) = split3("staff", s)?;
                        staff.push(StaffOffer {
                            skill: LocalizedText::one(&c.lang, &skill),
                            count: n
                                .parse()
                                .with_context(|| format!("--staff: {n:?} is not a count"))?,
                            days: days.parse().with_context(|| {
                                format!("--staff: {days:?} is not a number of days")
                            })?,
                            self_sufficient: false,
                        });
                    }
                    Readiness {
                        as_of: now,
                        valid_until: now + i64::from(a.valid_hours.max(1)) * 3_600_000,
                        alert_level: a.alert_level,
                        exercise: a.exercise,
                        headline: text(&c.lang, &a.headline),
                        description: text(&c.lang, &a.description),
                        communications: parse_enum::<OperationalStatus>(
                            "communications",
                            &a.communications,
                        )?,
                        supplies,
                        staff,
                        shelter: a.shelter_capacity.map(|capacity| Shelter {
                            capacity,
                            available: a.shelter_available,
                            accepts_outside_evacuees: a.accepts_outside_evacuees,
                            location: a
                                .shelter_location
                                .as_deref()
                                .map(|l| LocalizedText::one(&c.lang, l))
                                .unwrap_or_default(),
                        }),
                        area_codes: a.areas.clone(),
                        ..Default::default()
                    }
                }
            };
            (Body::Readiness(body), c.object_id.clone(), expires(c)?)
        }
        PublishCmd::Case(a) => {
            let c = &a.common;
            let body = match &c.file {
                Some(f) => read_file(f)?,
                None => Case {
                    title: text(&c.lang, &a.title),
                    summary: text(&c.lang, &a.summary),
                    outcomes: text(&c.lang, &a.outcomes),
                    policy_area: parse_enum::<PolicyArea>("policy-area", &a.policy_area)?,
                    tags: a.tags.clone(),
                    participants: a.participants.clone(),
                    period_start: a.from.clone().unwrap_or_default(),
                    period_end: a.until.clone().unwrap_or_default(),
                    contact: contact(&c.lang, &a.contact_name, &a.department, &a.email),
                    attachments: Vec::new(),
                    exercise: a.exercise,
                },
            };
            (Body::Case(body), c.object_id.clone(), expires(c)?)
        }
        PublishCmd::Call(a) => {
            let c = &a.common;
            let body = match &c.file {
                Some(f) => read_file(f)?,
                None => CallForPartners {
                    kind: parse_enum::<CallKind>("kind", &a.kind)?,
                    policy_area: parse_enum::<PolicyArea>("policy-area", &a.policy_area)?,
                    title: text(&c.lang, &a.title),
                    description: text(&c.lang, &a.description),
                    deadline: a.deadline.clone().unwrap_or_default(),
                    contact: contact(&c.lang, &None, &None, &a.email),
                    exercise: a.exercise,
                },
            };
            (
                Body::CallForPartners(body),
                c.object_id.clone(),
                expires(c)?,
            )
        }
        PublishCmd::Partnership(a) => {
            let c = &a.common;
            let body = match &c.file {
                Some(f) => read_file(f)?,
                None => Partnership {
                    kind: parse_enum::<PartnershipKind>("kind", &a.kind)?,
                    partner: a.partner.expect("clap requires --partner"),
                    partner_code: a.partner_code.clone(),
                    since: a.since.clone(),
                    description: text(&c.lang, &a.description),
                },
            };
            (Body::Partnership(body), c.object_id.clone(), expires(c)?)
        }
        PublishCmd::Ack(a) => {
            let c = &a.common;
            let body = match &c.file {
                Some(f) => read_file(f)?,
                None => Acknowledgement {
                    entry_id: a.entry.expect("clap requires --entry"),
                    note: text(&c.lang, &a.note),
                    kind: Default::default(),
                },
            };
            (
                Body::Acknowledgement(body),
                c.object_id.clone(),
                expires(c)?,
            )
        }
        PublishCmd::Profile(a) => {
            let c = &a.common;
            let body = match &c.file {
                Some(f) => read_file(f)?,
                None => Profile {
                    audience_key: Vec::new(),
                    name: text(&c.lang, &a.name),
                    kind: parse_enum::<ProfileKind>("kind", &a.kind)?,
                    country: a.country.clone(),
                    code: a.code.clone(),
                    languages: a.languages.clone(),
                    contact: contact(&c.lang, &None, &None, &a.email),
                },
            };
            (Body::Profile(body), c.object_id.clone(), expires(c)?)
        }
        PublishCmd::Retract(a) => (
            Body::Retraction(Retraction {
                reason: text(&a.lang, &a.reason),
            }),
            Some(a.object_id),
            None,
        ),
    })
}
