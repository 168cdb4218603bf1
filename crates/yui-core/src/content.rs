//! Entry bodies: what municipalities tell each other.
//!
//! Field lists follow RFC 5545 for events; readiness, cases, calls for
//! partners, partnerships and the membership bodies join as the protocol grows
//! (their field numbers are reserved in `proto/yui/v1/entry.proto`).

use serde::{Deserialize, Serialize};

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
    /// [`Retraction`].
    Retraction,
}

impl Kind {
    /// Stable one-byte code used in store keys. Never reuse a code.
    pub fn code(self) -> u8 {
        match self {
            Kind::Profile => 10,
            Kind::Event => 11,
            Kind::Retraction => 20,
        }
    }

    /// The kind for a store code.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            10 => Kind::Profile,
            11 => Kind::Event,
            20 => Kind::Retraction,
            _ => return None,
        })
    }

    /// The lower-case name used in the API and CLI.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Profile => "profile",
            Kind::Event => "event",
            Kind::Retraction => "retraction",
        }
    }
}

/// What an entry says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Body {
    /// Who the author is.
    Profile(Profile),
    /// A calendar event.
    Event(Event),
    /// Withdraws the entry's object.
    Retraction(Retraction),
}

impl Body {
    /// The body's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Profile(_) => Kind::Profile,
            Body::Event(_) => Kind::Event,
            Body::Retraction(_) => Kind::Retraction,
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
        for k in [Kind::Profile, Kind::Event, Kind::Retraction] {
            assert_eq!(Kind::from_code(k.code()), Some(k));
        }
        assert_eq!(Kind::from_code(0), None);
    }
}
