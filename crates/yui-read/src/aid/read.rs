//! The read model's aid queries: a thread with everything naming it, the
//! replies to a node's entries, the requests addressed to a node.

use yui_core::content::{AidStep, ObjectRef};
use yui_core::{Body, NodeId};

use super::{Directory, Thread, Who, MAX_STEPS};
use crate::query::{Query, QueryError};
use crate::view::EntryView;
use crate::ReadModel;

impl ReadModel {
    /// The aid thread rooted at `root`, as this node holds it.
    pub fn aid_thread(&self, root: &ObjectRef) -> Result<Thread, QueryError> {
        let who = Directory::new(self)?;
        self.aid_thread_with(root, &who, None)
    }

    /// [`ReadModel::aid_thread`] with a directory the caller keeps, and
    /// without the object `except` (a step about to be replaced by a new
    /// version of it).
    pub fn aid_thread_with(
        &self,
        root: &ObjectRef,
        who: &dyn Who,
        except: Option<&ObjectRef>,
    ) -> Result<Thread, QueryError> {
        let about = |kind: &str| Query {
            kind: Some(kind.into()),
            about: Some(root.clone()),
            ..Default::default()
        };
        let mut entries = self.first(&about("aid"), MAX_STEPS)?;
        if let Some(x) = except {
            entries.retain(|e| !(e.author == x.author && e.object_id == x.object_id));
        }
        let opening = self.object(&root.author, &root.object_id)?;
        if let Some(o) = opening.filter(|o| matches!(o.body, Body::Aid(_))) {
            if !entries.iter().any(|e| e.id == o.id) {
                entries.push(o);
            }
        }
        let acks = match entries
            .iter()
            .find(|e| e.author == root.author && e.object_id == root.object_id)
        {
            Some(o) => self.first(
                &Query {
                    kind: Some("acknowledgement".into()),
                    acknowledges: Some(o.id.clone()),
                    ..Default::default()
                },
                MAX_STEPS,
            )?,
            None => Vec::new(),
        };
        let replies = self.first(&about("reply"), MAX_STEPS)?;
        Ok(Thread::derive(root.clone(), entries, &acks, replies, who))
    }

    /// Replies to objects (or replies) of `id`, newest first.
    pub fn replies_to(&self, id: &NodeId, cap: usize) -> Result<Vec<EntryView>, QueryError> {
        let mut out = self.first(
            &Query {
                kind: Some("reply".into()),
                addressed_to: Some(crate::index::reply_to_term(id)),
                ..Default::default()
            },
            cap,
        )?;
        out.retain(|e| e.author != *id);
        out.sort_by_key(|e| std::cmp::Reverse(e.created_at));
        Ok(out)
    }

    /// Open requests addressed to `id` (by its code, or as a mutual-aid
    /// partner of the requester), newest first, at most `cap`.
    pub fn aid_inbox(&self, id: &NodeId, cap: usize) -> Result<Vec<EntryView>, QueryError> {
        let who = Directory::new(self)?;
        let mut out = Vec::new();
        let mut terms = vec![crate::index::TO_PARTNERS.to_owned()];
        if let Some(code) = who.code(id) {
            terms.insert(0, code);
        }
        for t in terms {
            let found = self.first(
                &Query {
                    kind: Some("aid".into()),
                    step: Some(AidStep::Request),
                    addressed_to: Some(t.clone()),
                    ..Default::default()
                },
                cap,
            )?;
            for e in found {
                if e.author == *id || out.iter().any(|o: &EntryView| o.id == e.id) {
                    continue;
                }
                if t == crate::index::TO_PARTNERS && !who.mutual_aid(&e.author, id) {
                    continue;
                }
                out.push(e);
            }
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.created_at));
        out.truncate(cap);
        Ok(out)
    }
}
