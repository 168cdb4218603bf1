//! Who is who: every author the node holds a profile or a name for, with
//! the name in each language, its code and kind, and whether it vouches for
//! others (a relay run by a regional body).

use std::collections::{BTreeMap, HashMap};

use yui_core::content::ProfileKind;
use yui_core::{Body, LocalizedText, NodeId};
use yui_read::query::Query;
use yui_read::ReadModel;

use crate::i18n::Lang;
use crate::text::Text;
use crate::WebError;

/// Profiles and endorsements read at most (a national relay holds ~1,800
/// municipalities).
const MAX_MEMBERS: usize = 10_000;

/// One author.
#[derive(Debug, Clone, Default)]
pub struct Member {
    /// Its key.
    pub id: Option<NodeId>,
    /// Its name in the languages it gave (or the endorser's name for it).
    pub name: LocalizedText,
    /// Local government code.
    pub code: String,
    /// Country (ISO 3166-1 alpha-2).
    pub country: String,
    /// Kind, from its profile.
    pub kind: Option<ProfileKind>,
    /// It endorsed others here: a relay.
    pub relay: bool,
    /// Who endorsed it (keys).
    pub endorsed_by: Vec<NodeId>,
}

/// Everyone known, by key and by code.
#[derive(Debug, Default)]
pub struct Directory {
    members: BTreeMap<NodeId, Member>,
    by_code: HashMap<String, NodeId>,
    own: Option<NodeId>,
}

impl Directory {
    /// Reads profiles, endorsements and the read model's display names.
    pub fn build(read: &ReadModel) -> Result<Self, WebError> {
        let names = read.names()?;
        let mut d = Directory {
            own: Some(read.replica().id()),
            ..Default::default()
        };
        let profiles = read.first(
            &Query {
                kind: Some("profile".into()),
                ..Default::default()
            },
            MAX_MEMBERS,
        )?;
        for e in profiles {
            if let Body::Profile(p) = e.body {
                let m = d.members.entry(e.author).or_default();
                m.id = Some(e.author);
                m.name = p.name;
                m.code = p.code;
                m.country = p.country;
                m.kind = Some(p.kind);
            }
        }
        let endorsements = read.first(
            &Query {
                kind: Some("endorsement".into()),
                ..Default::default()
            },
            MAX_MEMBERS,
        )?;
        for e in endorsements {
            if let Body::Endorsement(b) = e.body {
                if !read.replica().trust_granted(&e.author, &b.subject) {
                    continue;
                }
                let endorser = d.members.entry(e.author).or_default();
                endorser.id = Some(e.author);
                endorser.relay = true;
                let m = d.members.entry(b.subject).or_default();
                m.id = Some(b.subject);
                m.endorsed_by.push(e.author);
                if m.name.is_empty() {
                    m.name = b.name;
                }
                if m.code.is_empty() {
                    m.code = b.code;
                }
                if m.country.is_empty() {
                    m.country = b.country;
                }
            }
        }
        for (id, name) in names.iter() {
            let m = d.members.entry(*id).or_default();
            m.id = Some(*id);
            // The read model's name comes from trust (the operator's own
            // name, then the endorser's), so it wins over what a profile
            // claims; the profile's other languages are kept only when it
            // agrees.
            let agrees = m.name.0.iter().any(|(_, v)| v == name);
            if !agrees {
                m.name = LocalizedText::one("ja", name);
            }
        }
        for (id, m) in &d.members {
            if !m.code.is_empty() {
                d.by_code.entry(m.code.clone()).or_insert(*id);
            }
        }
        Ok(d)
    }

    /// One member.
    pub fn get(&self, id: &NodeId) -> Option<&Member> {
        self.members.get(id)
    }

    /// Everyone, by key.
    pub fn all(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// The member with local government code `code`.
    pub fn by_code(&self, code: &str) -> Option<&Member> {
        self.by_code.get(code).and_then(|id| self.members.get(id))
    }

    /// This node's own key.
    pub fn own(&self) -> Option<NodeId> {
        self.own
    }

    /// A member's name for a reader of `lang`; its key's short form when
    /// the node knows no name.
    pub fn name(&self, id: &NodeId, lang: Lang) -> Text {
        match self.members.get(id) {
            Some(m) if !m.name.is_empty() => Text::of(&m.name, lang),
            _ => Text {
                text: id.short(),
                lang: String::new(),
            },
        }
    }

    /// The name of whoever has code `code`, or the code itself.
    pub fn name_of_code(&self, code: &str, lang: Lang) -> (Text, Option<NodeId>) {
        match self.by_code(code) {
            Some(m) if m.id.is_some() => {
                let id = m.id.expect("checked");
                (self.name(&id, lang), Some(id))
            }
            _ => (
                Text {
                    text: code.to_owned(),
                    lang: String::new(),
                },
                None,
            ),
        }
    }
}
