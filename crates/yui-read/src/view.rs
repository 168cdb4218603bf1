//! [`EntryView`]: one current object as every reader sees it.

use serde::{Deserialize, Serialize};
use yui_core::{Body, NodeId};

/// An entry as queries return it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryView {
    /// Author (node id, `yui1…`).
    #[schema(value_type = String)]
    pub author: NodeId,
    /// Author's trusted name.
    pub author_name: Option<String>,
    /// Seq.
    pub seq: u64,
    /// Entry id.
    pub id: String,
    /// Object id.
    pub object_id: String,
    /// Author's timestamp.
    pub created_at: i64,
    /// Stale after.
    pub expires_at: Option<i64>,
    /// Kind of body.
    pub kind: String,
    /// How many versions of this object exist (1 = never updated).
    pub version: usize,
    /// Past its valid-until or expiry.
    pub stale: bool,
    /// For partnerships: `active` when both sides stated it, else `pending`.
    pub partnership: Option<String>,
    /// Authors that acknowledged this entry.
    #[schema(value_type = Vec<String>)]
    pub acknowledged_by: Vec<NodeId>,
    /// The author's key was revoked (the entry is kept, marked).
    pub revoked: bool,
    /// For a text search: the passage that matched, with the hits marked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snippet: Option<Snippet>,
    /// A part only an audience may read: which audience, and whether it
    /// is shown here (`body` then holds it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<SealedView>,
    /// Content: the body's fields (see docs/ and the CLI's `--json`).
    #[schema(value_type = Object)]
    pub body: Body,
}

/// The restricted part of an entry, as a reader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SealedView {
    /// The author's audience.
    pub audience: String,
    /// Its epoch.
    pub epoch: u32,
    /// Opened and merged into `body` for this reader.
    pub shown: bool,
    /// Why it is not shown, when this node tried to open it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<crate::keyring::Closed>,
    /// The parts it holds (`contact`, `shelter_location`, …).
    pub parts: Vec<String>,
}

impl SealedView {
    /// Of `sealed`, not opened yet.
    pub fn of(sealed: &yui_core::audience::Sealed) -> Self {
        let parts = if sealed.parts.is_empty() {
            vec![yui_core::audience::SealPart::Contact.name().to_owned()]
        } else {
            sealed.parts.clone()
        };
        Self {
            audience: sealed.audience.clone(),
            epoch: sealed.epoch,
            shown: false,
            closed: None,
            parts,
        }
    }

    /// Whether it holds `part`.
    pub fn holds(&self, part: yui_core::audience::SealPart) -> bool {
        self.parts.iter().any(|p| p == part.name())
    }

    /// Whether it holds `part` and this reader does not see it.
    pub fn hides(&self, part: yui_core::audience::SealPart) -> bool {
        !self.shown && self.holds(part)
    }
}

/// A passage of an entry's text with the search hits marked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Snippet {
    /// The passage, as the author wrote it.
    pub text: String,
    /// Byte ranges of `text` that matched (on character boundaries).
    #[schema(value_type = Vec<Vec<u64>>)]
    pub marks: Vec<(usize, usize)>,
}
