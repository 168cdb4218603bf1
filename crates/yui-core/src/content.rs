//! Entry bodies: what municipalities tell each other.
//!
//! Field lists follow RFC 5545 for events; readiness, cases, calls for
//! partners, partnerships and the membership bodies join as the protocol grows
//! (their field numbers are reserved in `proto/yui/v1/entry.proto`).

use serde::{Deserialize, Serialize};

mod aid;
pub use aid::{AidLine, AidMessage, AidResource, AidStep};

/// Text for people in one or more languages, in the author's order.
/// In JSON it is an object from language tag to text: `{"ja": "…", "en": "…"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalizedText(pub Vec<(String, String)>);

impl Serialize for LocalizedText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (lang, text) in &self.0 {
            m.serialize_entry(lang, text)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for LocalizedText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = LocalizedText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "an object from language tag to text, e.g. {\"ja\": \"…\", \"en\": \"…\"}",
                )
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<LocalizedText, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(LocalizedText(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl LocalizedText {
    /// One text in one language.
    pub fn one(lang: &str, text: &str) -> Self {
        Self(vec![(lang.to_owned(), text.to_owned())])
    }

    /// True if no language has text.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|(_, t)| t.is_empty())
    }

    /// The text for `lang`, falling back to its primary language (`zh` for
    /// `zh-Hant`), then to Japanese, English, then the first one given.
    pub fn get(&self, lang: &str) -> Option<&str> {
        let exact = |l: &str| {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(l))
                .map(|(_, t)| t.as_str())
        };
        let primary = lang.split('-').next().unwrap_or(lang);
        exact(lang)
            .or_else(|| {
                self.0
                    .iter()
                    .find(|(k, _)| {
                        k.split('-')
                            .next()
                            .is_some_and(|p| p.eq_ignore_ascii_case(primary))
                    })
                    .map(|(_, t)| t.as_str())
            })
            .or_else(|| exact("ja"))
            .or_else(|| exact("en"))
            .or_else(|| self.0.first().map(|(_, t)| t.as_str()))
    }
}

/// What kind of body an entry has (also the index key in stores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Kind {
    /// [`Profile`].
    Profile,
    /// [`Event`].
    Event,
    /// [`Readiness`].
    Readiness,
    /// [`Case`].
    Case,
    /// [`CallForPartners`].
    CallForPartners,
    /// [`Partnership`].
    Partnership,
    /// [`Endorsement`].
    Endorsement,
    /// [`Revocation`].
    Revocation,
    /// [`KeyRotation`].
    KeyRotation,
    /// [`Acknowledgement`].
    Acknowledgement,
    /// [`Retraction`].
    Retraction,
    /// [`AidMessage`].
    Aid,
    /// [`Reply`].
    Reply,
    /// [`crate::audience::Audience`].
    Audience,
    /// [`crate::audience::Withdrawal`].
    Withdrawal,
    /// A body this release does not know (a newer release's kind, or a
    /// value of an enum it does not know): stored and forwarded unchanged,
    /// shown as unknown, never published by this release.
    Unknown,
}

impl Kind {
    /// Stable one-byte code used in store keys. Never reuse a code.
    pub fn code(self) -> u8 {
        match self {
            Kind::Profile => 10,
            Kind::Event => 11,
            Kind::Readiness => 12,
            Kind::Case => 13,
            Kind::CallForPartners => 14,
            Kind::Partnership => 15,
            Kind::Endorsement => 16,
            Kind::Revocation => 17,
            Kind::KeyRotation => 18,
            Kind::Acknowledgement => 19,
            Kind::Retraction => 20,
            Kind::Aid => 21,
            Kind::Reply => 22,
            Kind::Audience => 23,
            Kind::Withdrawal => 24,
            Kind::Unknown => 99,
        }
    }

    /// The kind for a store code.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            10 => Kind::Profile,
            11 => Kind::Event,
            12 => Kind::Readiness,
            13 => Kind::Case,
            14 => Kind::CallForPartners,
            15 => Kind::Partnership,
            16 => Kind::Endorsement,
            17 => Kind::Revocation,
            18 => Kind::KeyRotation,
            19 => Kind::Acknowledgement,
            20 => Kind::Retraction,
            21 => Kind::Aid,
            22 => Kind::Reply,
            23 => Kind::Audience,
            24 => Kind::Withdrawal,
            99 => Kind::Unknown,
            _ => return None,
        })
    }

    /// The lower-case name used in the API and CLI.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Profile => "profile",
            Kind::Event => "event",
            Kind::Readiness => "readiness",
            Kind::Case => "case",
            Kind::CallForPartners => "call_for_partners",
            Kind::Partnership => "partnership",
            Kind::Endorsement => "endorsement",
            Kind::Revocation => "revocation",
            Kind::KeyRotation => "key_rotation",
            Kind::Acknowledgement => "acknowledgement",
            Kind::Retraction => "retraction",
            Kind::Aid => "aid",
            Kind::Reply => "reply",
            Kind::Audience => "audience",
            Kind::Withdrawal => "withdrawal",
            Kind::Unknown => "unknown",
        }
    }

    /// Every kind.
    pub const ALL: [Kind; 16] = [
        Kind::Profile,
        Kind::Event,
        Kind::Readiness,
        Kind::Case,
        Kind::CallForPartners,
        Kind::Partnership,
        Kind::Endorsement,
        Kind::Revocation,
        Kind::KeyRotation,
        Kind::Acknowledgement,
        Kind::Retraction,
        Kind::Aid,
        Kind::Reply,
        Kind::Audience,
        Kind::Withdrawal,
        Kind::Unknown,
    ];
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s || k.name().replace('_', "-") == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown kind {s:?} (one of {})", names.join(", "))
            })
    }
}

/// What an entry says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Body {
    /// Who the author is.
    Profile(Profile),
    /// A calendar event.
    Event(Event),
    /// Disaster-readiness status.
    Readiness(Readiness),
    /// A cooperation case.
    Case(Case),
    /// A call for partners.
    CallForPartners(CallForPartners),
    /// One side of a partnership.
    Partnership(Partnership),
    /// Vouches for a key.
    Endorsement(Endorsement),
    /// Withdraws trust from a key.
    Revocation(Revocation),
    /// Moves the identity to a new key.
    KeyRotation(KeyRotation),
    /// Received and read.
    Acknowledgement(Acknowledgement),
    /// Withdraws the entry's object.
    Retraction(Retraction),
    /// A step of a mutual-aid thread.
    Aid(AidMessage),
    /// A question or answer on an object.
    Reply(Reply),
    /// Who may read what the author restricts, from this epoch on.
    Audience(crate::audience::Audience),
    /// Withdraws restricted parts (personal data) of the author's objects.
    Withdrawal(crate::audience::Withdrawal),
    /// A body this release cannot read (see [`Kind::Unknown`]).
    Unknown(UnknownBody),
}

/// What a release knows of a body it cannot read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownBody {
    /// Why it cannot be read (no known body field, an enum value it does
    /// not know).
    pub reason: String,
}

impl Body {
    /// The body's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Profile(_) => Kind::Profile,
            Body::Event(_) => Kind::Event,
            Body::Readiness(_) => Kind::Readiness,
            Body::Case(_) => Kind::Case,
            Body::CallForPartners(_) => Kind::CallForPartners,
            Body::Partnership(_) => Kind::Partnership,
            Body::Endorsement(_) => Kind::Endorsement,
            Body::Revocation(_) => Kind::Revocation,
            Body::KeyRotation(_) => Kind::KeyRotation,
            Body::Acknowledgement(_) => Kind::Acknowledgement,
            Body::Retraction(_) => Kind::Retraction,
            Body::Aid(_) => Kind::Aid,
            Body::Reply(_) => Kind::Reply,
            Body::Audience(_) => Kind::Audience,
            Body::Withdrawal(_) => Kind::Withdrawal,
            Body::Unknown(_) => Kind::Unknown,
        }
    }
}

/// A person or office to reach.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Contact {
    /// Person in charge.
    pub name: LocalizedText,
    /// Department.
    pub department: LocalizedText,
    /// E-mail address.
    pub email: String,
    /// Telephone number.
    pub phone: String,
    /// Web page.
    pub url: String,
}

/// Kind of organisation a profile describes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProfileKind {
    /// City, town or village.
    #[default]
    Municipality,
    /// Tokyo special ward.
    SpecialWard,
    /// Prefecture.
    Prefecture,
    /// Wide-area union of municipalities.
    WideAreaUnion,
    /// A municipality abroad.
    ForeignCity,
    /// A network of cities.
    Network,
}

/// Who the author is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// Names in several languages.
    pub name: LocalizedText,
    /// Kind of organisation.
    pub kind: ProfileKind,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Local government code, or ISO 3166-1 code plus own id abroad.
    pub code: String,
    /// Languages the author works in.
    pub languages: Vec<String>,
    /// Contact window.
    pub contact: Contact,
    /// X25519 key for restricted content sealed to this node (32 bytes;
    /// empty when the node publishes none).
    #[serde(
        with = "crate::audience::hex_bytes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub audience_key: Vec<u8>,
}

/// RFC 5545 STATUS of an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Planned, not fixed.
    Tentative,
    /// Will happen.
    #[default]
    Confirmed,
    /// Called off.
    Cancelled,
}

/// How people attend (schema.org eventAttendanceMode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceMode {
    /// In person.
    #[default]
    Offline,
    /// Online only.
    Online,
    /// Both.
    Mixed,
}

/// A calendar event; its uid is the entry's object id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Event {
    /// Title.
    pub title: LocalizedText,
    /// Description.
    pub description: LocalizedText,
    /// RFC 5545 SEQUENCE.
    pub sequence: u32,
    /// RFC 5545 STATUS.
    pub status: EventStatus,
    /// RFC 3339 date-time with offset, or `YYYY-MM-DD` when all-day.
    pub start: String,
    /// Same form as `start`, or empty.
    pub end: String,
    /// Duration when `end` is empty (0 = unknown).
    pub duration_minutes: u32,
    /// IANA time zone, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    /// All-day event.
    pub all_day: bool,
    /// In person, online or both.
    pub attendance: AttendanceMode,
    /// Where.
    pub location: LocalizedText,
    /// Online meeting address.
    pub online_url: String,
    /// Organisers' local government codes.
    pub organisers: Vec<String>,
    /// Partner municipalities' codes.
    pub partners: Vec<String>,
    /// Category (free text, e.g. `culture`, `disaster-drill`).
    pub category: String,
    /// Who to ask.
    pub contact: Contact,
    /// A drill (訓練), not a real event.
    pub exercise: bool,
}

/// Whether a service works.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationalStatus {
    /// Works.
    #[default]
    Normal,
    /// Works in part.
    Degraded,
    /// Does not work.
    Down,
}

/// A facility and its state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Facility {
    /// Name.
    pub name: LocalizedText,
    /// State.
    pub status: OperationalStatus,
    /// Details.
    pub note: LocalizedText,
}

/// Supplies on offer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Supply {
    /// What.
    pub item: LocalizedText,
    /// How much.
    pub quantity: f64,
    /// Unit (`pcs`, `kg`, `L`, `boxes`).
    pub unit: String,
    /// From when it can be sent (Unix ms; 0 = now).
    pub available_from: i64,
}

/// Staff a municipality can send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StaffOffer {
    /// Skill (e.g. 保健師, building inspection).
    pub skill: LocalizedText,
    /// How many people.
    pub count: u32,
    /// For how many days.
    pub days: u32,
    /// Brings its own food, lodging and transport.
    pub self_sufficient: bool,
}

/// Places for evacuees from outside.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Shelter {
    /// Places in all.
    pub capacity: u32,
    /// Places free now.
    pub available: u32,
    /// Takes evacuees from other municipalities.
    pub accepts_outside_evacuees: bool,
    /// Where.
    pub location: LocalizedText,
}

/// EDXL-RM message type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceMessageType {
    /// RequestResource.
    #[default]
    Request,
    /// OfferUnsolicitedResource / ResponseToRequestResource.
    Offer,
    /// CommitResource.
    Commit,
    /// Declining a request or an offer.
    Decline,
    /// Withdrawing one's own request or offer.
    Cancel,
    /// ReleaseResource: committed resources are free again.
    Release,
}

/// One EDXL-RM resource message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceMessage {
    /// Type.
    #[serde(rename = "type")]
    pub kind: ResourceMessageType,
    /// Unique within the author.
    pub message_id: String,
    /// The message answered: `<author node id>/<message_id>`.
    pub references: String,
    /// What.
    pub item: LocalizedText,
    /// How much.
    pub quantity: f64,
    /// Unit.
    pub unit: String,
    /// Municipality codes addressed.
    pub to: Vec<String>,
    /// Remarks.
    pub note: LocalizedText,
}

/// Disaster-readiness status of a municipality.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Readiness {
    /// Time described (Unix ms).
    pub as_of: i64,
    /// Stale after (Unix ms).
    pub valid_until: i64,
    /// Evacuation alert level 0-5 (警戒レベル; 0 = none).
    pub alert_level: u32,
    /// One-line summary.
    pub headline: LocalizedText,
    /// Details.
    pub description: LocalizedText,
    /// Communications.
    pub communications: OperationalStatus,
    /// Facilities.
    pub facilities: Vec<Facility>,
    /// Supplies on offer.
    pub supplies: Vec<Supply>,
    /// Staff deployable.
    pub staff: Vec<StaffOffer>,
    /// Places for outside evacuees.
    pub shelter: Option<Shelter>,
    /// Requests and offers (EDXL-RM).
    pub resources: Vec<ResourceMessage>,
    /// Municipality codes of the area.
    pub area_codes: Vec<String>,
    /// Who to call.
    pub contact: Contact,
    /// A drill (訓練), not a real situation (CAP status `Exercise`).
    pub exercise: bool,
}

/// Policy areas cases and calls are sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyArea {
    /// 観光.
    Tourism,
    /// 防災.
    DisasterPrevention,
    /// 教育.
    Education,
    /// 福祉・高齢者介護.
    Welfare,
    /// 経済.
    Economy,
    /// 文化.
    Culture,
    /// その他.
    #[default]
    Other,
}

/// A file of a case, by digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attachment {
    /// File name.
    pub name: String,
    /// Media type.
    pub media_type: String,
    /// SHA-256 (hex).
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Where to fetch it.
    pub url: String,
}

/// A cooperation or exchange case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Case {
    /// Title.
    pub title: LocalizedText,
    /// Summary.
    pub summary: LocalizedText,
    /// Outcomes.
    pub outcomes: LocalizedText,
    /// Policy area.
    pub policy_area: PolicyArea,
    /// Free tags.
    pub tags: Vec<String>,
    /// Participants' codes.
    pub participants: Vec<String>,
    /// Start date.
    pub period_start: String,
    /// End date (empty while ongoing).
    pub period_end: String,
    /// Person in charge and department.
    pub contact: Contact,
    /// Files.
    pub attachments: Vec<Attachment>,
    /// Part of a drill (訓練).
    pub exercise: bool,
}

/// Need or offer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// Looking for partners to help.
    #[default]
    Need,
    /// Offering help or cooperation.
    Offer,
}

/// A call for partners.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallForPartners {
    /// Need or offer.
    pub kind: CallKind,
    /// Policy area.
    pub policy_area: PolicyArea,
    /// Title.
    pub title: LocalizedText,
    /// Description.
    pub description: LocalizedText,
    /// Date (empty = open).
    pub deadline: String,
    /// Who to contact.
    pub contact: Contact,
    /// Part of a drill (訓練).
    pub exercise: bool,
}

/// Kind of relation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnershipKind {
    /// 姉妹都市.
    #[default]
    SisterCity,
    /// 友好都市.
    Friendship,
    /// 災害時相互応援協定.
    MutualAid,
    /// Membership in a network of cities.
    Network,
}

/// One side's statement of a relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partnership {
    /// Kind.
    #[serde(default)]
    pub kind: PartnershipKind,
    /// The other side.
    pub partner: crate::NodeId,
    /// Its code.
    #[serde(default)]
    pub partner_code: String,
    /// Date.
    #[serde(default)]
    pub since: String,
    /// Description.
    #[serde(default)]
    pub description: LocalizedText,
}

/// "This key is the named municipality."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endorsement {
    /// The key vouched for.
    pub subject: crate::NodeId,
    /// Its name.
    #[serde(default)]
    pub name: LocalizedText,
    /// Its municipality code.
    #[serde(default)]
    pub code: String,
    /// ISO 3166-1 alpha-2.
    #[serde(default)]
    pub country: String,
}

/// "Stop trusting this key."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The key.
    pub subject: crate::NodeId,
    /// Why.
    #[serde(default)]
    pub reason: LocalizedText,
}

/// The last entry of a key's log: the identity moves to `new_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotation {
    /// The new key.
    pub new_key: crate::NodeId,
    /// By the new key over [`crate::keys::rotation_message`].
    pub countersignature: crate::Signature,
}

impl KeyRotation {
    /// A rotation from `old` to `new`, countersigned by `new`.
    pub fn new(old: &crate::NodeId, new: &crate::SecretKey) -> Self {
        let new_id = crate::NodeId::new(new.public_key());
        Self {
            new_key: new_id,
            countersignature: new.sign(&crate::keys::rotation_message(
                old.public_key(),
                new_id.public_key(),
            )),
        }
    }
}

/// Received and read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// Entry acknowledged.
    pub entry_id: crate::EntryId,
    /// Remarks.
    #[serde(default)]
    pub note: LocalizedText,
    /// Stored by the node, or read by a person.
    #[serde(default)]
    pub kind: AckKind,
}

/// What an acknowledgement says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckKind {
    /// A person read it.
    #[default]
    Read,
    /// The node stored it (sent on its own for requests addressed to it).
    Received,
}

/// An object of some author: `<author node id>/<object_id>` in text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// Its author.
    pub author: crate::NodeId,
    /// Its object id.
    pub object_id: String,
}

impl ObjectRef {
    /// The object `object_id` of `author`.
    pub fn new(author: crate::NodeId, object_id: impl Into<String>) -> Self {
        Self {
            author,
            object_id: object_id.into(),
        }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.author, self.object_id)
    }
}

impl std::str::FromStr for ObjectRef {
    type Err = String;
    fn from_str(r: &str) -> Result<Self, String> {
        let (author, id) = r
            .split_once('/')
            .ok_or_else(|| format!("{r:?} is not <author node id>/<object id>"))?;
        let author = author.parse().map_err(|e| format!("{r:?}: {e}"))?;
        if id.is_empty() {
            return Err(format!("{r:?} has an empty object id"));
        }
        Ok(Self::new(author, id))
    }
}

impl Serialize for ObjectRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ObjectRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A question or an answer on an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The object.
    pub about: ObjectRef,
    /// The reply answered.
    #[serde(default)]
    pub in_reply_to: Option<ObjectRef>,
    /// What is said.
    pub text: LocalizedText,
    /// Said in a drill.
    #[serde(default)]
    pub exercise: bool,
}

/// Withdraws the object named by the entry's object id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Retraction {
    /// Why.
    pub reason: LocalizedText,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localized_text_falls_back() {
        let t = LocalizedText(vec![
            ("en".into(), "Winter Cities Conference".into()),
            ("ja".into(), "冬の都市会議".into()),
            ("zh-Hans".into(), "冬季城市会议".into()),
        ]);
        assert_eq!(t.get("ja"), Some("冬の都市会議"));
        assert_eq!(t.get("zh-Hant"), Some("冬季城市会议"));
        assert_eq!(t.get("ko"), Some("冬の都市会議"));
        assert_eq!(LocalizedText::default().get("ja"), None);
    }

    #[test]
    fn kind_codes_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_code(k.code()), Some(k));
            assert_eq!(k.name().parse::<Kind>(), Ok(k));
        }
        assert_eq!(Kind::from_code(0), None);
    }
}
