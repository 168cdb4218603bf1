//! The network's directory as this node sees it: display names,
//! municipality codes and confirmed partnerships.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tantivy::collector::{Count, DocSetCollector};
use tantivy::Searcher;
use yui_core::{Body, Kind, NodeId};

use super::{index_error, tantivy_error, Names, ReadModel};
use crate::plan::{all_of, any_of, term_text, term_u64};
use crate::query::QueryError;

impl ReadModel {
    /// Display names: an author's own profile, then the endorsements that
    /// gave it its trust here (edges of the trust walk: any other member's
    /// endorsement could rename anyone), then the operator's own names,
    /// which win, then this node's own name. Several granting endorsers:
    /// the first in key order, so every call agrees. Cached until trust or
    /// an indexed profile, endorsement or rotation changes.
    pub fn names(&self) -> Result<Names, QueryError> {
        let key = (
            self.index.directory_generation(),
            self.replica.trust_generation(),
        );
        if let Some((k, names)) = &*self.names.lock().expect("names lock") {
            if *k == key {
                return Ok(names.clone());
            }
        }
        let names = Arc::new(self.compute_names()?);
        *self.names.lock().expect("names lock") = Some((key, names.clone()));
        Ok(names)
    }

    /// Municipality code of every author that has one: an endorsement
    /// that grants trust wins over the author's own profile (a member
    /// cannot take another's code to receive its requests). Cached like
    /// [`ReadModel::names`].
    pub fn codes(&self) -> Result<Names, QueryError> {
        let key = (
            self.index.directory_generation(),
            self.replica.trust_generation(),
        );
        if let Some((k, codes)) = &*self.codes.lock().expect("codes lock") {
            if *k == key {
                return Ok(codes.clone());
            }
        }
        let r = &self.replica;
        let mut m: HashMap<NodeId, String> = HashMap::new();
        for e in r.current(Kind::Profile)? {
            if let Body::Profile(p) = &e.entry.body {
                if !p.code.is_empty() {
                    m.insert(e.entry.author, p.code.clone());
                }
            }
        }
        let mut granted: Vec<(NodeId, NodeId, String)> = Vec::new();
        for e in r.current(Kind::Endorsement)? {
            if let Body::Endorsement(b) = &e.entry.body {
                if !b.code.is_empty() && r.trust_granted(&e.entry.author, &b.subject) {
                    granted.push((b.subject, e.entry.author, b.code.clone()));
                }
            }
        }
        granted.sort();
        granted.dedup_by(|a, b| a.0 == b.0);
        m.extend(granted.into_iter().map(|(subject, _, c)| (subject, c)));
        if let Some(c) = &self.own_code {
            m.insert(r.id(), c.clone());
        }
        let codes = Arc::new(m);
        *self.codes.lock().expect("codes lock") = Some((key, codes.clone()));
        Ok(codes)
    }

    /// Whether `a` and `b` both stated a partnership of `kind`
    /// (`mutual_aid`, `sister_city`, ...).
    pub fn partners(&self, a: &NodeId, b: &NodeId, kind: &str) -> Result<bool, QueryError> {
        self.fresh_enough()?;
        self.partners_as_indexed(a, b, kind)
    }

    /// [`ReadModel::partners`] as the index stands, without first
    /// indexing what arrived since it last caught up.
    pub fn partners_as_indexed(
        &self,
        a: &NodeId,
        b: &NodeId,
        kind: &str,
    ) -> Result<bool, QueryError> {
        let f = self.index.fields();
        let searcher = self.index.searcher();
        let q = all_of(vec![
            term_u64(f.kind, u64::from(Kind::Partnership.code())),
            term_text(f.author, &hex::encode(a.as_bytes())),
            term_text(f.partner, &hex::encode(b.as_bytes())),
            term_text(f.pkind, kind),
        ]);
        let stated = searcher.search(&*q, &Count).map_err(tantivy_error)? > 0;
        Ok(stated && self.confirmed(&searcher, a, b, kind)?)
    }

    fn compute_names(&self) -> Result<HashMap<NodeId, String>, QueryError> {
        let r = &self.replica;
        let first = |t: &yui_core::LocalizedText| {
            t.get("ja")
                .or_else(|| t.0.first().map(|(_, v)| v.as_str()))
                .map(str::to_owned)
        };
        let mut m: HashMap<NodeId, String> = HashMap::new();
        for e in r.current(Kind::Profile)? {
            if let Body::Profile(p) = &e.entry.body {
                if let Some(n) = first(&p.name) {
                    m.insert(e.entry.author, n);
                }
            }
        }
        let mut granted: Vec<(NodeId, NodeId, String)> = Vec::new();
        for e in r.current(Kind::Endorsement)? {
            if let Body::Endorsement(b) = &e.entry.body {
                if !r.trust_granted(&e.entry.author, &b.subject) {
                    continue;
                }
                if let Some(n) = first(&b.name) {
                    granted.push((b.subject, e.entry.author, n));
                }
            }
        }
        granted.sort();
        granted.dedup_by(|a, b| a.0 == b.0);
        m.extend(granted.into_iter().map(|(subject, _, n)| (subject, n)));
        m.extend(
            r.store()
                .trust_list()
                .map_err(yui_sync::ReplicaError::from)?
                .into_iter()
                .filter(|(_, t)| !t.name.is_empty())
                .map(|(id, t)| (id, t.name)),
        );
        m.insert(r.id(), self.own_name.clone());
        // A rotated identity keeps its name under the new key.
        for e in r.current(Kind::KeyRotation)? {
            if let Body::KeyRotation(k) = &e.entry.body {
                if let Some(n) = m.get(&e.entry.author).cloned() {
                    m.entry(k.new_key).or_insert(n);
                }
            }
        }
        Ok(m)
    }

    /// Whether `partner` stated the same partnership with `author`
    /// (identities, not keys: a rotated key's statements still count).
    pub(super) fn confirmed(
        &self,
        searcher: &Searcher,
        author: &NodeId,
        partner: &NodeId,
        kind: &str,
    ) -> Result<bool, QueryError> {
        let f = self.index.fields();
        let r = &self.replica;
        let me = r.current_key(author);
        let them = r.current_key(partner);
        // Every key of the author's identity: old keys rotated into it too.
        let mut aliases: HashSet<NodeId> = HashSet::from([*author, me]);
        let rotations = term_u64(f.kind, u64::from(Kind::KeyRotation.code()));
        for a in searcher
            .search(&*rotations, &DocSetCollector)
            .map_err(tantivy_error)?
        {
            if let Some((old, _)) = self.index.version_of(searcher, a).map_err(index_error)? {
                if r.current_key(&old) == me {
                    aliases.insert(old);
                }
            }
        }
        let q = all_of(vec![
            term_u64(f.kind, u64::from(Kind::Partnership.code())),
            term_text(f.pkind, kind),
            any_of(
                aliases
                    .iter()
                    .map(|a| term_text(f.partner, &hex::encode(a.as_bytes())))
                    .collect(),
            ),
        ]);
        for a in searcher
            .search(&*q, &DocSetCollector)
            .map_err(tantivy_error)?
        {
            if let Some((stated_by, _)) = self.index.version_of(searcher, a).map_err(index_error)? {
                if r.current_key(&stated_by) == them {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}
