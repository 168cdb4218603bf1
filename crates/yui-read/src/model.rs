//! [`ReadModel`]: the index, the replica it reads, and what readers ask of
//! both — a page of results with its total, cursor and facets, entry views
//! with their derived facts, and the check that the index agrees with the
//! logs. Display names, codes and partnerships are in `directory`; the
//! task that keeps the index current is in `follow`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, DocSetCollector, FacetCollector, TopDocs};
use tantivy::query::Query as TQuery;
use tantivy::schema::Value;
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Searcher, TantivyDocument};
use yui_core::{Body, EntryId, Kind, NodeId};
use yui_sync::{now_ms, Replica, StoredEntry};

use crate::analyzer::CjkTokenizer;
use crate::index::{area_code, enum_name, object_key, IndexError, ReadIndex, MONTH_LONG};
use crate::plan::{
    all_of, any_of, clause_query, first_order, i64_range, term_text, term_u64, top_by_order,
    top_windowed, u64_range, DIRECT_TOP, EVENTS_END,
};
use crate::query::{body_texts, is_stale, normalize, Cursor, Query, QueryError};
use crate::view::{EntryView, Snippet};

mod directory;
mod follow;
pub use follow::{FOLLOW_GATHER, FOLLOW_GATHER_ENTRIES, FOLLOW_GATHER_MAX, FOLLOW_STEP};

/// A query that lags by at most this many entries catches the index up
/// before it answers (what the store acknowledged is what a reader sees);
/// further behind, it answers from the index at once and says how far
/// behind.
const INLINE_CATCH_UP: u64 = 10_000;

/// Facet dimensions, in the order pages show them.
const FACETS: [&str; 5] = ["kind", "area", "author", "lang", "period"];

/// One page of results.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page {
    /// Results matching, over all pages.
    pub total: u64,
    /// This page.
    pub items: Vec<EntryView>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
    /// Counts per facet value (when asked): dimension → value → count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facets: Option<BTreeMap<String, BTreeMap<String, u64>>>,
    /// Entries stored but not yet indexed (0 when the index is current).
    #[serde(default)]
    pub behind: u64,
}

/// Whether the index agrees with the logs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexCheck {
    /// Current objects in the store (of kinds the index holds).
    pub objects: u64,
    /// Documents in the index.
    pub documents: u64,
    /// Objects the index lacks or holds at another version.
    pub missing: Vec<String>,
    /// Documents for objects that are no longer current.
    pub extra: Vec<String>,
}

impl IndexCheck {
    /// Whether the index and the logs agree.
    pub fn agrees(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty()
    }
}

pub(crate) type Names = Arc<HashMap<NodeId, String>>;

/// The read model of one node (see the module documentation).
pub struct ReadModel {
    replica: Arc<Replica>,
    index: ReadIndex,
    own_name: String,
    names: Mutex<Option<((u64, u64), Names)>>,
    codes: Mutex<Option<((u64, u64), Names)>>,
    own_code: Option<String>,
    pub(crate) keyring: Option<Arc<crate::keyring::Keyring>>,
}

impl ReadModel {
    /// Opens the read model of `replica`, its index in `dir` (None: in
    /// memory). `own_name` is this node's display name. The index is not
    /// caught up here: call [`ReadModel::catch_up`] or run
    /// [`ReadModel::follow`].
    pub fn open(
        replica: Arc<Replica>,
        dir: Option<&Path>,
        own_name: &str,
    ) -> Result<Self, IndexError> {
        let index = match dir {
            Some(d) => ReadIndex::open(d)?,
            None => ReadIndex::in_memory()?,
        };
        Ok(Self {
            replica,
            index,
            own_name: own_name.to_owned(),
            own_code: None,
            names: Mutex::new(None),
            codes: Mutex::new(None),
            keyring: None,
        })
    }

    /// Lets the read model open what is sealed for this node: the index
    /// holds the text for staff searches, and [`ReadModel::reveal`] shows
    /// it to readers entitled to it.
    pub fn with_keyring(mut self, keyring: Arc<crate::keyring::Keyring>) -> Self {
        self.index.set_keyring(keyring.clone());
        self.keyring = Some(keyring);
        self
    }

    /// This node's own municipality code (from its config): it wins over
    /// what profiles and endorsements say of this node.
    pub fn with_own_code(mut self, code: Option<String>) -> Self {
        self.own_code = code.filter(|c| !c.is_empty());
        self
    }

    /// The index.
    pub fn index(&self) -> &ReadIndex {
        &self.index
    }

    /// The replica read.
    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }

    /// Catches the index up when it lags by a little; returns how many
    /// entries it is still behind. Far behind (a first build), it answers
    /// at once and leaves the work to [`ReadModel::follow`]: readers never
    /// queue behind a rebuild.
    fn fresh_enough(&self) -> Result<u64, QueryError> {
        if !self.index.may_lag(&self.replica).map_err(index_error)? {
            return Ok(0);
        }
        let count = self
            .replica
            .store()
            .entry_count()
            .map_err(yui_sync::ReplicaError::from)?;
        let lag = count.saturating_sub(self.index.indexed());
        if lag > INLINE_CATCH_UP {
            return Ok(lag);
        }
        Ok(self
            .index
            .catch_up(&self.replica, INLINE_CATCH_UP)
            .map_err(index_error)?
            .behind)
    }

    /// The index query for `q`'s filters and text, and the snippet terms.
    fn build(&self, q: &Query, now: i64) -> Result<(Box<dyn TQuery>, Vec<String>), QueryError> {
        let f = self.index.fields();
        let mut must: Vec<Box<dyn TQuery>> = Vec::new();
        if let Some(kind) = q.kind()? {
            must.push(term_u64(f.kind, u64::from(kind.code())));
        }
        if let Some(a) = q.author {
            must.push(term_text(f.author, &hex::encode(a.as_bytes())));
        }
        let (from, to) = q.range()?;
        let mut span: Vec<Box<dyn TQuery>> = Vec::new();
        if let Some(from) = from {
            span.push(i64_range(f.end, Bound::Included(from), Bound::Unbounded));
        }
        if let Some(to) = to {
            span.push(i64_range(f.start, Bound::Unbounded, Bound::Excluded(to)));
        }
        match q.tokyo_month() {
            // A month in Japan time: its bucket term, or a long span that
            // overlaps it (checked by range).
            Some(m) => {
                span.push(term_u64(f.month, MONTH_LONG));
                must.push(any_of(vec![term_u64(f.month, m), all_of(span)]));
            }
            None => must.extend(span),
        }
        if let Some(area) = q.policy_area {
            must.push(term_u64(f.area, area_code(area)));
        }
        if let Some(level) = q.alert_level {
            if level > 5 {
                return Err(QueryError::Bad(format!(
                    "alert_level: {level} is not an alert level 0-5"
                )));
            }
            must.push(term_u64(f.alert, u64::from(level) + 1));
        }
        if let Some(level) = q.min_alert_level {
            if level > 5 {
                return Err(QueryError::Bad(format!(
                    "min_alert_level: {level} is not an alert level 0-5"
                )));
            }
            let lo = u64::from(level).saturating_add(1);
            must.push(u64_range(f.alert, Bound::Included(lo), Bound::Unbounded));
        }
        match q.stale {
            Some(true) => must.push(i64_range(
                f.stale_at,
                Bound::Unbounded,
                Bound::Included(now),
            )),
            Some(false) => must.push(i64_range(
                f.stale_at,
                Bound::Excluded(now),
                Bound::Unbounded,
            )),
            None => {}
        }
        if let Some(tag) = q.tag.as_deref() {
            must.push(term_text(f.tag, &normalize(tag)));
        }
        if let Some(lang) = q.lang.as_deref() {
            must.push(term_text(f.lang, lang));
        }
        if let Some(mode) = q.attendance {
            must.push(term_text(f.attendance, &enum_name(&mode)));
        }
        if let Some(r) = &q.about {
            must.push(term_text(f.about, &object_key(&r.author, &r.object_id)));
        }
        if let Some(code) = q.addressed_to.as_deref() {
            must.push(term_text(f.to, code));
        }
        if let Some(step) = q.step {
            must.push(term_text(f.step, step.name()));
        }
        if let Some(id) = q.acknowledges.as_deref() {
            if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(QueryError::Bad(format!(
                    "acknowledges: {id:?} is not an entry id (64 hex digits)"
                )));
            }
            must.push(term_text(f.ack_of, &id.to_ascii_lowercase()));
        }
        let mut terms = Vec::new();
        for clause in q.clauses()? {
            let quoted = clause.contains(char::is_whitespace);
            let public = clause_query(f.text, &clause, quoted, &mut terms);
            let restricted = if q.restricted {
                clause_query(f.sealed_text, &clause, quoted, &mut Vec::new())
            } else {
                None
            };
            match (public, restricted) {
                (Some(a), Some(b)) => must.push(any_of(vec![a, b])),
                (Some(t), None) | (None, Some(t)) => must.push(t),
                (None, None) => {}
            }
        }
        Ok((all_of(must), terms))
    }

    /// Runs `q`: one page of results, their total, the next cursor and,
    /// when asked, facet counts.
    pub fn query(&self, q: &Query) -> Result<Page, QueryError> {
        let now = now_ms();
        let limit = q.page_size()?;
        let cursor = q.cursor.as_deref().map(Cursor::parse).transpose()?;
        let (query, terms) = self.build(q, now)?;
        let behind = self.fresh_enough()?;
        let searcher = self.index.searcher();
        let f = *self.index.fields();
        let ranked = !terms.is_empty();
        let total = searcher.search(&*query, &Count).map_err(tantivy_error)? as u64;
        let (addresses, next) = if ranked {
            let offset = match cursor {
                None => 0,
                Some(Cursor::Offset(n)) => n,
                Some(Cursor::After(..)) => {
                    return Err(QueryError::Bad(
                        "cursor: this cursor belongs to a query without text".into(),
                    ))
                }
            };
            let top = TopDocs::with_limit(limit)
                .and_offset(offset)
                .order_by_score();
            let hits = searcher.search(&*query, &top).map_err(tantivy_error)?;
            let end = offset + hits.len();
            let next = ((end as u64) < total && end < crate::query::MAX_OFFSET)
                .then(|| Cursor::Offset(end).encode());
            (hits.into_iter().map(|(_, a)| a).collect::<Vec<_>>(), next)
        } else if let Some(Cursor::Offset(n)) = cursor {
            // An offset without text: a page of a list kept in another
            // order than the index's (the board's segments): the first
            // offset + limit by the key, bounded like a ranked search.
            let top = searcher
                .search(&*query, &top_by_order(n + limit + 1))
                .map_err(tantivy_error)?;
            let more = top.len() > n + limit;
            let addresses: Vec<_> = top
                .into_iter()
                .skip(n)
                .take(limit)
                .map(|(_, a)| a)
                .collect();
            let end = n + addresses.len();
            let next =
                (more && end < crate::query::MAX_OFFSET).then(|| Cursor::Offset(end).encode());
            (addresses, next)
        } else {
            let keyed: Box<dyn TQuery> = match cursor {
                None => query.box_clone(),
                Some(Cursor::After(o, t)) => all_of(vec![
                    query.box_clone(),
                    any_of(vec![
                        u64_range(f.order, Bound::Excluded(o), Bound::Unbounded),
                        all_of(vec![
                            u64_range(f.order, Bound::Included(o), Bound::Included(o)),
                            u64_range(f.tie, Bound::Excluded(t), Bound::Unbounded),
                        ]),
                    ]),
                ]),
                Some(Cursor::Offset(_)) => unreachable!("offsets are paged above"),
            };
            // Windows pay off when matches are dense in the order key from
            // where the page starts: no time filter (a time filter bounds
            // the matches anyway), within the kind's own part of the key.
            let timed = q.month.is_some() || q.from.is_some() || q.to.is_some();
            let (lo, hi) = match q.kind()? {
                Some(Kind::Event) => (0, EVENTS_END),
                Some(_) => (EVENTS_END, u64::MAX),
                None => (0, u64::MAX),
            };
            let from = match cursor {
                Some(Cursor::After(o, _)) => o.max(lo),
                _ => lo,
            };
            // Start at the first key held there: a kind's part of the key
            // may begin far below its first document.
            let from = first_order(&searcher, f.order, from);
            // Dense matches (a quarter of the index or more): windows; else
            // the matches directly (counting them costs as much anyway).
            let dense = total.saturating_mul(4) >= searcher.num_docs();
            let mut hits = if total > DIRECT_TOP && dense && !timed {
                top_windowed(&searcher, &f, &*keyed, limit + 1, from, hi)?
            } else {
                searcher
                    .search(&*keyed, &top_by_order(limit + 1))
                    .map_err(tantivy_error)?
            };
            let more = hits.len() > limit;
            hits.truncate(limit);
            let next = more
                .then(|| {
                    hits.last()
                        .map(|(Reverse((o, t)), _)| Cursor::After(*o, *t).encode())
                })
                .flatten();
            (hits.into_iter().map(|(_, a)| a).collect(), next)
        };
        let facets = if q.facets == Some(true) {
            Some(self.facets(&searcher, &*query)?)
        } else {
            None
        };
        let mut entries = Vec::with_capacity(addresses.len());
        for a in addresses {
            if let Some(e) = self.load(&searcher, a)? {
                entries.push(e);
            }
        }
        let mut items = self.views(&searcher, entries)?;
        if ranked {
            let mut gen = SnippetGenerator::new(
                terms.iter().map(|t| (t.clone(), 1.0)).collect(),
                TextAnalyzer::from(CjkTokenizer),
                f.text,
                160,
            );
            gen.set_max_num_chars(160);
            for v in &mut items {
                v.snippet = snippet(&gen, &v.body);
            }
        }
        Ok(Page {
            total,
            items,
            next,
            facets,
            behind,
        })
    }

    fn facets(
        &self,
        searcher: &Searcher,
        query: &dyn TQuery,
    ) -> Result<BTreeMap<String, BTreeMap<String, u64>>, QueryError> {
        let mut fc = FacetCollector::for_field("facet");
        for d in FACETS {
            fc.add_facet(format!("/{d}").as_str());
        }
        let counts = searcher.search(query, &fc).map_err(tantivy_error)?;
        let mut out = BTreeMap::new();
        for d in FACETS {
            let mut m = BTreeMap::new();
            for (facet, n) in counts.get(format!("/{d}").as_str()) {
                if let Some(last) = facet.to_path().last() {
                    m.insert((*last).to_owned(), n);
                }
            }
            out.insert(d.to_owned(), m);
        }
        Ok(out)
    }

    fn load(&self, searcher: &Searcher, a: DocAddress) -> Result<Option<StoredEntry>, QueryError> {
        let Some((author, seq)) = self.index.version_of(searcher, a).map_err(index_error)? else {
            return Ok(None);
        };
        Ok(self.replica.read(&author, seq)?)
    }

    /// Views with their derived facts: names, acknowledgements, whether a
    /// partnership is confirmed by both sides, versions, staleness.
    fn views(
        &self,
        searcher: &Searcher,
        entries: Vec<StoredEntry>,
    ) -> Result<Vec<EntryView>, QueryError> {
        let names = self.names()?;
        let now = now_ms();
        let acks = self.acks_of(searcher, &entries)?;
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let version = self
                .replica
                .store()
                .history(&e.entry.author, &e.entry.object_id)
                .map_err(yui_sync::ReplicaError::from)?
                .len();
            let partnership =
                match &e.entry.body {
                    Body::Partnership(p) => Some(
                        if self.confirmed(
                            searcher,
                            &e.entry.author,
                            &p.partner,
                            &enum_name(&p.kind),
                        )? {
                            "active"
                        } else {
                            "pending"
                        }
                        .to_owned(),
                    ),
                    _ => None,
                };
            let mut acknowledged_by = acks.get(&e.id).cloned().unwrap_or_default();
            acknowledged_by.sort();
            out.push(EntryView {
                author: e.entry.author,
                author_name: names.get(&e.entry.author).cloned(),
                seq: e.entry.seq,
                id: e.id.to_hex(),
                object_id: e.entry.object_id.clone(),
                created_at: e.entry.created_at,
                expires_at: e.entry.expires_at,
                kind: e.entry.body.kind().name().to_owned(),
                version,
                stale: is_stale(&e, now),
                partnership,
                acknowledged_by,
                revoked: self.replica.is_revoked(&e.entry.author),
                snippet: None,
                sealed: e.entry.sealed.as_ref().map(crate::view::SealedView::of),
                body: e.entry.body,
            });
        }
        Ok(out)
    }

    /// Who acknowledged each of `entries`.
    fn acks_of(
        &self,
        searcher: &Searcher,
        entries: &[StoredEntry],
    ) -> Result<HashMap<EntryId, Vec<NodeId>>, QueryError> {
        let f = self.index.fields();
        if entries.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: HashMap<String, EntryId> = entries.iter().map(|e| (e.id.to_hex(), e.id)).collect();
        let q = all_of(vec![
            term_u64(f.kind, u64::from(Kind::Acknowledgement.code())),
            any_of(ids.keys().map(|id| term_text(f.ack_of, id)).collect()),
        ]);
        let mut out: HashMap<EntryId, Vec<NodeId>> = HashMap::new();
        for a in searcher
            .search(&*q, &DocSetCollector)
            .map_err(tantivy_error)?
        {
            let doc: TantivyDocument = searcher.doc(a).map_err(tantivy_error)?;
            let target = doc
                .get_first(f.ack_of)
                .and_then(|v| v.as_str())
                .and_then(|s| ids.get(s));
            let who = self.index.version_of(searcher, a).map_err(index_error)?;
            if let (Some(t), Some((author, _))) = (target, who) {
                out.entry(*t).or_default().push(author);
            }
        }
        Ok(out)
    }

    /// How this node came to hold `author`'s entry `seq`: when, and from
    /// which peer (or published here, or imported), if noted.
    pub fn arrival(
        &self,
        author: &NodeId,
        seq: u64,
    ) -> Result<Option<yui_store::Arrival>, QueryError> {
        Ok(self
            .replica
            .store()
            .arrival(author, seq)
            .map_err(yui_sync::ReplicaError::from)?)
    }

    /// Per window `[edges[i], edges[i + 1])` of when matches of `q` start
    /// (Unix ms, ascending): how many start in it and the first `k` of them
    /// in the default order, as views. One pass over the matches (fast
    /// fields) and `k` entries loaded a window: a month grid of a national
    /// relay costs the same as a small town's.
    pub fn first_per_window(
        &self,
        q: &Query,
        edges: &[i64],
        k: usize,
    ) -> Result<Vec<(u64, Vec<EntryView>)>, QueryError> {
        let (query, _) = self.build(q, now_ms())?;
        self.fresh_enough()?;
        let searcher = self.index.searcher();
        let windows = searcher
            .search(
                &*query,
                &crate::plan::FirstPerWindow {
                    edges: edges.to_vec(),
                    k: k.min(crate::query::MAX_LIMIT),
                },
            )
            .map_err(tantivy_error)?;
        let mut out = Vec::with_capacity(windows.len());
        for (n, items) in windows {
            let mut entries = Vec::with_capacity(items.len());
            for (_, _, a) in items {
                if let Some(e) = self.load(&searcher, a)? {
                    entries.push(e);
                }
            }
            out.push((n, self.views(&searcher, entries)?));
        }
        Ok(out)
    }

    /// How many current objects match `q` (no page is loaded).
    pub fn count(&self, q: &Query) -> Result<u64, QueryError> {
        let (query, _) = self.build(q, now_ms())?;
        self.fresh_enough()?;
        let searcher = self.index.searcher();
        Ok(searcher.search(&*query, &Count).map_err(tantivy_error)? as u64)
    }

    /// The current version of one object (a retraction when it was
    /// withdrawn), or `None` when this node holds no such object.
    pub fn object(
        &self,
        author: &NodeId,
        object_id: &str,
    ) -> Result<Option<EntryView>, QueryError> {
        let store = self.replica.store();
        let Some((_, seq)) = store
            .object(author, object_id)
            .map_err(yui_sync::ReplicaError::from)?
        else {
            return Ok(None);
        };
        let Some(e) = self.replica.read(author, seq)? else {
            return Ok(None);
        };
        let searcher = self.index.searcher();
        Ok(self.views(&searcher, vec![e])?.pop())
    }

    /// Every version of one object, oldest first, as views.
    pub fn history(&self, author: &NodeId, object_id: &str) -> Result<Vec<EntryView>, QueryError> {
        let versions = self.replica.history(author, object_id)?;
        let searcher = self.index.searcher();
        let mut views = self.views(&searcher, versions)?;
        for (i, v) in views.iter_mut().enumerate() {
            v.version = i + 1;
        }
        Ok(views)
    }

    /// The first `cap` results of `q` (following its pages), in order: for
    /// exports of bounded size (one author's readiness, a feed, the public
    /// calendar). Whole exports stream page by page instead.
    pub fn first(&self, q: &Query, cap: usize) -> Result<Vec<EntryView>, QueryError> {
        let mut q = Query {
            limit: Some(crate::query::MAX_LIMIT.min(cap.max(1))),
            facets: None,
            ..q.clone()
        };
        let mut out = Vec::new();
        loop {
            let page = self.query(&q)?;
            out.extend(page.items);
            match page.next {
                Some(n) if out.len() < cap => q.cursor = Some(n),
                _ => {
                    out.truncate(cap);
                    return Ok(out);
                }
            }
        }
    }

    /// Compares the index with the store's current objects, after indexing
    /// what it lacks.
    pub fn check(&self) -> Result<IndexCheck, QueryError> {
        self.catch_up(u64::MAX).map_err(index_error)?;
        let store = self.replica.store();
        let mut want: HashSet<(NodeId, u64)> = HashSet::new();
        for kind in Kind::ALL {
            if !crate::index::indexed(kind) {
                continue;
            }
            for v in store.current(kind).map_err(yui_sync::ReplicaError::from)? {
                want.insert((v.author, v.seq));
            }
        }
        let have: Vec<(NodeId, u64)> = self.index.all_versions().map_err(index_error)?;
        let have_set: HashSet<(NodeId, u64)> = have.iter().copied().collect();
        let show = |(a, s): &(NodeId, u64)| format!("{a} seq {s}");
        let mut missing: Vec<String> = want.difference(&have_set).map(show).collect();
        let mut extra: Vec<String> = have_set.difference(&want).map(show).collect();
        if have.len() != have_set.len() {
            extra.push(format!(
                "{} documents stand for the same version",
                have.len() - have_set.len()
            ));
        }
        missing.sort();
        extra.sort();
        Ok(IndexCheck {
            objects: want.len() as u64,
            documents: have.len() as u64,
            missing,
            extra,
        })
    }
}

/// The best snippet among a body's texts: the one with the most marks.
fn snippet(gen: &SnippetGenerator, body: &Body) -> Option<Snippet> {
    let mut best: Option<Snippet> = None;
    for t in body_texts(body) {
        for (_, text) in &t.0 {
            let s = gen.snippet(text);
            // Overlapping bigrams mark one word: merge touching ranges.
            let mut marks: Vec<(usize, usize)> = Vec::new();
            for r in s.highlighted() {
                match marks.last_mut() {
                    Some(last) if r.start <= last.1 => last.1 = last.1.max(r.end),
                    _ => marks.push((r.start, r.end)),
                }
            }
            if marks.is_empty() {
                continue;
            }
            if best.as_ref().is_none_or(|b| b.marks.len() < marks.len()) {
                best = Some(Snippet {
                    text: s.fragment().to_owned(),
                    marks,
                });
            }
        }
    }
    best
}

pub(crate) fn tantivy_error(e: tantivy::TantivyError) -> QueryError {
    QueryError::Index(e.to_string())
}

fn index_error(e: IndexError) -> QueryError {
    match e {
        IndexError::Replica(r) => QueryError::Replica(r),
        other => QueryError::Index(other.to_string()),
    }
}
