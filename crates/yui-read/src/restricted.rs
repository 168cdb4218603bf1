//! What the read model does with restricted content: shows it to readers
//! entitled to it ([`ReadModel::reveal`]), resolves who an audience's
//! members are ([`ReadModel::audience_members`]) and carries out a
//! withdrawal on this node ([`ReadModel::withdraw`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use yui_core::audience::{AudienceMembers, Withdrawal, KEY_BYTES};
use yui_core::{Body, Kind, NodeId};
use yui_sync::StoredEntry;

use crate::index::enum_name;
use crate::keyring::{Keyring, Opened, SealedRef};
use crate::model::ReadModel;
use crate::query::QueryError;
use crate::view::EntryView;

/// Who an audience resolves to now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    /// Members and the audience key each publishes (this node included).
    pub keys: BTreeMap<NodeId, Vec<u8>>,
    /// Members left out: they publish no audience key yet.
    pub without_key: Vec<NodeId>,
}

/// One author's current epoch of one audience, as this node sees it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AudienceView {
    /// The author.
    pub author: NodeId,
    /// Its display name here.
    pub author_name: Option<String>,
    /// The audience's name.
    pub name: String,
    /// Its current epoch.
    pub epoch: u32,
    /// When the epoch began (Unix ms).
    pub since: i64,
    /// The members the epoch key was sealed to: node id and display name.
    pub members: Vec<(NodeId, Option<String>)>,
    /// How the author chose them.
    pub chosen: yui_core::audience::AudienceMembers,
    /// This node is one of them.
    pub member_here: bool,
    /// Restricted entries withdrawn by this author that this node carried
    /// out (0 for authors that withdrew nothing).
    pub withdrawals: usize,
}

/// What one withdrawal changed on this node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WithdrawalReport {
    /// Sealed versions whose keys were deleted.
    pub entries: usize,
    /// Epoch keys deleted (their other entries keep their own keys).
    pub epoch_keys: usize,
}

fn store_error(e: impl std::fmt::Display) -> QueryError {
    QueryError::Store(e.to_string())
}

impl ReadModel {
    /// The keyring, when this node has one.
    pub fn keyring(&self) -> Option<&std::sync::Arc<Keyring>> {
        self.keyring.as_ref()
    }

    /// Opens the sealed parts of `views` for a reader entitled to them
    /// (this node's signed-in staff, its operator): the body becomes the
    /// entry as its author wrote it, or the view says why it stays closed.
    /// Call it only for such readers; every other reader gets the views as
    /// they are.
    pub fn reveal(&self, views: &mut [EntryView]) -> Result<(), QueryError> {
        let Some(keyring) = &self.keyring else {
            return Ok(());
        };
        for v in views.iter_mut() {
            let Some(sealed) = v.sealed.as_mut() else {
                continue;
            };
            let Some(stored) = self.replica().read(&v.author, v.seq).map_err(store_error)? else {
                continue;
            };
            match keyring.open(self.replica(), &stored) {
                Opened::Open(full) => {
                    v.body = full.body;
                    sealed.shown = true;
                }
                Opened::Closed(c) => sealed.closed = Some(c),
                Opened::Public => {}
            }
        }
        Ok(())
    }

    /// The current epoch of every author's audiences this node holds,
    /// this node's own first.
    pub fn audiences(&self) -> Result<Vec<AudienceView>, QueryError> {
        let me = self.replica().id();
        let names = self.names()?;
        let withdrawals = self
            .replica()
            .current(Kind::Withdrawal)
            .map_err(store_error)?;
        let mut out: Vec<AudienceView> = Vec::new();
        for e in self
            .replica()
            .current(Kind::Audience)
            .map_err(store_error)?
        {
            let Body::Audience(a) = &e.entry.body else {
                continue;
            };
            out.push(AudienceView {
                author: e.entry.author,
                author_name: names.get(&e.entry.author).cloned(),
                name: a.name.clone(),
                epoch: a.epoch,
                since: e.entry.created_at,
                members: a
                    .wraps
                    .iter()
                    .map(|w| (w.node, names.get(&w.node).cloned()))
                    .collect(),
                chosen: a.members.clone(),
                member_here: a.wraps.iter().any(|w| w.node == me),
                withdrawals: withdrawals
                    .iter()
                    .filter(|w| w.entry.author == e.entry.author)
                    .count(),
            });
        }
        out.sort_by_key(|v| (v.author != me, v.author_name.clone(), v.name.clone()));
        Ok(out)
    }

    /// Every author's published audience key.
    pub fn audience_keys(&self) -> Result<HashMap<NodeId, Vec<u8>>, QueryError> {
        let mut out = HashMap::new();
        for e in self.replica().current(Kind::Profile).map_err(store_error)? {
            if let Body::Profile(p) = &e.entry.body {
                if p.audience_key.len() == KEY_BYTES {
                    out.insert(e.entry.author, p.audience_key.clone());
                }
            }
        }
        Ok(out)
    }

    /// Who `members` names, as seen from this node now, with the audience
    /// key each publishes; this node is always a member. Members without a
    /// key are left out (they cannot be sealed to) and listed second.
    pub fn audience_members(&self, members: &AudienceMembers) -> Result<Members, QueryError> {
        let me = self.replica().id();
        let mut ids: BTreeSet<NodeId> = BTreeSet::new();
        ids.insert(me);
        if !members.own_staff {
            if !members.codes.is_empty() {
                let codes = self.codes()?;
                for (id, code) in codes.iter() {
                    if members.codes.contains(code) && self.replica().is_trusted(id) {
                        ids.insert(*id);
                    }
                }
            }
            if !members.partner_kinds.is_empty() {
                for e in self
                    .replica()
                    .current(Kind::Partnership)
                    .map_err(store_error)?
                {
                    let Body::Partnership(p) = &e.entry.body else {
                        continue;
                    };
                    if e.entry.author == me
                        && members.partner_kinds.contains(&p.kind)
                        && self.replica().is_trusted(&p.partner)
                        && self.partners(&me, &p.partner, &enum_name(&p.kind))?
                    {
                        ids.insert(p.partner);
                    }
                }
            }
            for relay in &members.endorsed_by {
                for e in self
                    .replica()
                    .current(Kind::Endorsement)
                    .map_err(store_error)?
                {
                    if let Body::Endorsement(b) = &e.entry.body {
                        if e.entry.author == *relay
                            && self.replica().trust_granted(relay, &b.subject)
                            && !self.replica().is_revoked(&b.subject)
                        {
                            ids.insert(b.subject);
                        }
                    }
                }
            }
        }
        let keys = self.audience_keys()?;
        let mut with = BTreeMap::new();
        let mut without = Vec::new();
        for id in ids {
            match keys.get(&id) {
                Some(k) => {
                    with.insert(id, k.clone());
                }
                None if id == me => {
                    let own = self.keyring.as_ref().map(|k| k.public_key().to_vec());
                    match own {
                        Some(k) => {
                            with.insert(id, k);
                        }
                        None => without.push(id),
                    }
                }
                None => without.push(id),
            }
        }
        Ok(Members {
            keys: with,
            without_key: without,
        })
    }

    /// Carries out `withdrawal` (the entry `w`) on this node: the keys of
    /// the author's sealed versions of the withdrawn objects are deleted,
    /// with the epoch keys they were sealed under (the other entries of
    /// those epochs keep keys of their own), and the index is rewritten and
    /// purged so no segment keeps their text. Idempotent.
    pub fn withdraw(&self, w: &StoredEntry) -> Result<WithdrawalReport, QueryError> {
        let Body::Withdrawal(wd) = &w.entry.body else {
            return Ok(WithdrawalReport::default());
        };
        let Some(keyring) = &self.keyring else {
            return Ok(WithdrawalReport::default());
        };
        let author = w.entry.author;
        let (shred, keep) = self.sealed_versions(&author, wd, w.entry.seq)?;
        let epoch_keys = keyring.shred(&author, &shred, &keep).map_err(store_error)?;
        self.index()
            .rewrite_and_purge(self.replica(), &author, &wd.objects)
            .map_err(|e| QueryError::Store(e.to_string()))?;
        Ok(WithdrawalReport {
            entries: shred.len(),
            epoch_keys,
        })
    }

    /// The author's sealed entries: those of withdrawn objects before the
    /// withdrawal, and every other one.
    fn sealed_versions(
        &self,
        author: &NodeId,
        wd: &Withdrawal,
        before: u64,
    ) -> Result<(Vec<SealedRef>, Vec<SealedRef>), QueryError> {
        let store = self.replica().store();
        let head = store
            .head(author)
            .map_err(store_error)?
            .map_or(0, |h| h.seq);
        let (mut shred, mut keep) = (Vec::new(), Vec::new());
        let mut next = 1;
        while next <= head {
            let batch = store.range(author, next, 1000).map_err(store_error)?;
            if batch.is_empty() {
                break;
            }
            for signed in batch {
                let e = self.replica().decode_stored(signed).map_err(store_error)?;
                next = e.entry.seq + 1;
                let Some(s) = &e.entry.sealed else {
                    continue;
                };
                let r = SealedRef {
                    id: e.id,
                    seq: e.entry.seq,
                    audience: s.audience.clone(),
                    epoch: s.epoch,
                };
                if e.entry.seq < before && wd.objects.contains(&e.entry.object_id) {
                    shred.push(r);
                } else {
                    keep.push(r);
                }
            }
        }
        Ok((shred, keep))
    }
}
