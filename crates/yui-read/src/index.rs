//! The index: one tantivy document per current object, kept as entries are
//! stored, rebuilt from the logs whenever it is missing, damaged or of
//! another format. The logs stay the only truth: the index can always be
//! thrown away.
//!
//! **Watermark.** Each tantivy commit carries, in its payload, the seq up to
//! which every author's log is indexed. Indexing an object is an upsert
//! (delete by key, add the object's current version as the store has it),
//! so doing it twice is harmless: a crash between the store and the index
//! only means the next catch-up indexes some entries again. Nothing the
//! store acknowledged is lost, and a kill -9 while indexing leaves the last
//! commit, from which the next start continues.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{Datelike, TimeZone};
use serde::{Deserialize, Serialize};
use tantivy::schema::{
    Facet, FacetOptions, Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing,
    TextOptions, Value, FAST, INDEXED, STORED, STRING,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use yui_core::content::PolicyArea;
use yui_core::{Body, Entry, Kind, NodeId};
use yui_sync::{Replica, ReplicaError, StoredEntry};

use crate::analyzer;
use crate::query::{body_texts, time_span};

/// Version of the index layout. An index of another format is rebuilt at
/// start. Bump on any change to the schema or to what a document holds.
///
/// - 1: first release.
/// - 2: `order` indexed (windowed pages), `month` buckets.
/// - 3: a case's time span (filters, `period` facet) is its period; the
///   `period` facet is `/period/<year>/<month>` for every month a span
///   touches (counted per year).
/// - 4: aid threads and replies (`about`, `to`, `step`).
pub const FORMAT: u32 = 5;

/// Entries read from the store per step of a catch-up.
const STEP: usize = 2_000;

/// Entries indexed between two commits during a long catch-up (the
/// watermark moves in steps this size: a crash redoes at most one).
const COMMIT_EVERY: usize = 50_000;

/// Segments this large are not merged further.
const MERGE_DOCS: usize = 200_000;

/// Memory the index writer buffers before it writes a segment.
const WRITER_BYTES: usize = 16 << 20;

/// What went wrong in the index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// tantivy failed.
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The store failed.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    /// The index disagrees with itself.
    #[error("search index: {0}")]
    Index(String),
    /// The index folder could not be made or cleared.
    #[error("search index folder {path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl From<yui_store::StoreError> for IndexError {
    fn from(e: yui_store::StoreError) -> Self {
        Self::Replica(e.into())
    }
}

/// The index's fields.
#[derive(Clone, Copy)]
pub(crate) struct Fields {
    /// `author-hex/object-id`: the upsert key.
    pub key: Field,
    /// Author, hex (filter).
    pub author: Field,
    /// Author, 32 bytes (stored: the way back to the log).
    pub author_raw: Field,
    /// Seq of the current version (stored).
    pub seq: Field,
    /// Kind code.
    pub kind: Field,
    /// Default order (see `order_key`).
    pub order: Field,
    /// Months (Asia/Tokyo) the span touches, as `year × 12 + month`;
    /// [`MONTH_LONG`] for a span of more than [`MAX_MONTHS`] months.
    pub month: Field,
    /// Tie-break of the default order: a hash of the key, so that
    /// `(order, tie)` is a keyset cursor.
    pub tie: Field,
    /// When it happens (events) or applies (readiness); else created.
    pub start: Field,
    /// End of that span (at least `start`).
    pub end: Field,
    /// Stale from (valid-until, expiry); `i64::MAX` if never.
    pub stale_at: Field,
    /// Policy area code + 1 (cases, calls); 0 for none.
    pub area: Field,
    /// Alert level + 1 (readiness); 0 for none.
    pub alert: Field,
    /// Tags (cases) and category (events), normalised.
    pub tag: Field,
    /// Languages the texts are in.
    pub lang: Field,
    /// Attendance mode (events).
    pub attendance: Field,
    /// Every text, every language.
    pub text: Field,
    /// Restricted texts this node opened (searched only for its staff).
    pub sealed_text: Field,
    /// Facets: /kind, /area, /author, /lang, /period.
    pub facet: Field,
    /// Acknowledgements: the acknowledged entry's id, hex (stored).
    pub ack_of: Field,
    /// Partnerships: the partner, hex.
    pub partner: Field,
    /// Partnerships: kind name.
    pub pkind: Field,
    /// Aid steps: their thread's root; replies: the object answered
    /// (`object_key` form).
    pub about: Field,
    /// Aid requests and unsolicited offers: the codes addressed, and
    /// [`TO_PARTNERS`] when addressed to every mutual-aid partner; replies:
    /// [`reply_to_term`] of the authors answered.
    pub to: Field,
    /// Aid steps: the step's name.
    pub step: Field,
}

/// The `to` term of a reply to an object (or a reply) of `author`.
pub fn reply_to_term(author: &NodeId) -> String {
    format!("@{}", hex::encode(author.as_bytes()))
}

/// The `to` term of aid addressed to every mutual-aid partner.
pub const TO_PARTNERS: &str = "*partners";

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let num = || NumericOptions::default().set_indexed().set_fast();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analyzer::NAME)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        key: b.add_text_field("key", STRING),
        author: b.add_text_field("author", STRING),
        author_raw: b.add_bytes_field("author_raw", STORED),
        seq: b.add_u64_field("seq", STORED),
        kind: b.add_u64_field("kind", INDEXED | FAST),
        order: b.add_u64_field("order", INDEXED | FAST),
        month: b.add_u64_field("month", INDEXED),
        tie: b.add_u64_field("tie", FAST),
        start: b.add_i64_field("start", num()),
        end: b.add_i64_field("end", num()),
        stale_at: b.add_i64_field("stale_at", num()),
        area: b.add_u64_field("area", INDEXED),
        alert: b.add_u64_field("alert", INDEXED),
        tag: b.add_text_field("tag", STRING),
        lang: b.add_text_field("lang", STRING),
        attendance: b.add_text_field("attendance", STRING),
        text: b.add_text_field("text", text.clone()),
        sealed_text: b.add_text_field("sealed_text", text),
        facet: b.add_facet_field("facet", FacetOptions::default()),
        ack_of: b.add_text_field("ack_of", STRING | STORED),
        partner: b.add_text_field("partner", STRING),
        pkind: b.add_text_field("pkind", STRING),
        about: b.add_text_field("about", STRING),
        to: b.add_text_field("to", STRING),
        step: b.add_text_field("step", STRING),
    };
    (b.build(), fields)
}

/// The name serde gives an enum value (`disaster_prevention`).
pub(crate) fn enum_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Policy area code for the index (1-based; 0 = none).
pub(crate) fn area_code(a: PolicyArea) -> u64 {
    match a {
        PolicyArea::Tourism => 1,
        PolicyArea::DisasterPrevention => 2,
        PolicyArea::Education => 3,
        PolicyArea::Welfare => 4,
        PolicyArea::Economy => 5,
        PolicyArea::Culture => 6,
        PolicyArea::Other => 7,
    }
}

/// The upsert key of an object.
pub(crate) fn object_key(author: &NodeId, object_id: &str) -> String {
    format!("{}/{object_id}", hex::encode(author.as_bytes()))
}

/// The `month` term of a span longer than [`MAX_MONTHS`]: such entries are
/// found by their time range.
pub const MONTH_LONG: u64 = 0;

/// Spans up to this many months get a `month` term per month.
pub const MAX_MONTHS: u64 = 36;

/// The `month` term of a time: `year × 12 + month` in Asia/Tokyo.
pub fn month_of(ms: i64) -> Option<u64> {
    let t = chrono_tz::Asia::Tokyo.timestamp_millis_opt(ms).single()?;
    let y = u64::try_from(t.year()).ok()?;
    Some(y * 12 + u64::from(t.month()))
}

/// FNV-1a of an object key: the default order's tie-break.
pub(crate) fn tie_of(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The default result order as one number, ascending: events first by
/// start, then everything else newest first; ties by author. Times are
/// clamped to 1970..2527.
fn order_key(e: &Entry, start: i64) -> u64 {
    const SPAN: i64 = 1 << 44;
    let event = matches!(e.body, Body::Event(_));
    let when = if event {
        start.clamp(0, SPAN - 1)
    } else {
        SPAN - 1 - e.created_at.clamp(0, SPAN - 1)
    } as u64;
    let a = e.author.as_bytes();
    let tie = u64::from(u32::from_be_bytes([a[0], a[1], a[2], a[3]]) >> 13);
    (u64::from(!event) << 63) | (when << 19) | tie
}

fn stale_at(e: &Entry) -> i64 {
    let expiry = e.expires_at.unwrap_or(i64::MAX);
    match &e.body {
        Body::Readiness(r) => expiry.min(r.valid_until),
        _ => expiry,
    }
}

fn document(f: &Fields, e: &StoredEntry, opened: Option<&Entry>) -> TantivyDocument {
    let entry = &e.entry;
    let mut d = TantivyDocument::default();
    let author_hex = hex::encode(entry.author.as_bytes());
    let kind = entry.body.kind();
    let key = object_key(&entry.author, &entry.object_id);
    d.add_u64(f.tie, tie_of(&key));
    d.add_text(f.key, key);
    d.add_text(f.author, &author_hex);
    d.add_bytes(f.author_raw, entry.author.as_bytes().as_slice());
    d.add_u64(f.seq, entry.seq);
    d.add_u64(f.kind, u64::from(kind.code()));
    let (start, end) = time_span(e);
    d.add_u64(f.order, order_key(entry, start));
    d.add_i64(f.start, start);
    d.add_i64(f.end, end.max(start));
    d.add_i64(f.stale_at, stale_at(entry));
    match (month_of(start), month_of(end.max(start))) {
        (Some(a), Some(b)) if b - a < MAX_MONTHS => {
            for m in a..=b {
                d.add_u64(f.month, m);
            }
        }
        _ => d.add_u64(f.month, MONTH_LONG),
    }
    d.add_facet(f.facet, Facet::from_path(["kind", kind.name()]));
    d.add_facet(f.facet, Facet::from_path(["author", author_hex.as_str()]));
    // `/period/<year>/<month>` for every month the span touches (a case
    // of 2015-2018 counts in each year, once), as the time filters match; a
    // span too long for buckets, its first months.
    let tokyo = |ms: i64| chrono_tz::Asia::Tokyo.timestamp_millis_opt(ms).single();
    if let Some(first) = tokyo(start) {
        let last = tokyo(end.max(start)).unwrap_or(first);
        let (mut y, mut m) = (first.year(), first.month());
        for _ in 0..MAX_MONTHS {
            d.add_facet(
                f.facet,
                Facet::from_path([
                    "period",
                    format!("{y:04}").as_str(),
                    format!("{m:02}").as_str(),
                ]),
            );
            if (y, m) >= (last.year(), last.month()) {
                break;
            }
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        }
    }
    let area = match &entry.body {
        Body::Case(c) => Some(c.policy_area),
        Body::CallForPartners(c) => Some(c.policy_area),
        _ => None,
    };
    d.add_u64(f.area, area.map_or(0, area_code));
    if let Some(a) = area {
        d.add_facet(f.facet, Facet::from_path(["area", enum_name(&a).as_str()]));
    }
    let alert = match &entry.body {
        Body::Readiness(r) => u64::from(r.alert_level) + 1,
        _ => 0,
    };
    d.add_u64(f.alert, alert);
    match &entry.body {
        Body::Case(c) => {
            for t in &c.tags {
                d.add_text(f.tag, analyzer::normalize(t));
            }
        }
        Body::Event(ev) => {
            if !ev.category.is_empty() {
                d.add_text(f.tag, analyzer::normalize(&ev.category));
            }
            d.add_text(f.attendance, enum_name(&ev.attendance));
        }
        Body::Acknowledgement(a) => d.add_text(f.ack_of, a.entry_id.to_hex()),
        Body::Partnership(p) => {
            d.add_text(f.partner, hex::encode(p.partner.as_bytes()));
            d.add_text(f.pkind, enum_name(&p.kind));
        }
        Body::Aid(a) => {
            let root = crate::aid::root_of(&entry.author, &entry.object_id, a);
            d.add_text(f.about, object_key(&root.author, &root.object_id));
            d.add_text(f.step, a.step.name());
            for code in &a.to {
                d.add_text(f.to, code);
            }
            if a.to_partners {
                d.add_text(f.to, TO_PARTNERS);
            }
        }
        Body::Reply(r) => {
            d.add_text(f.about, object_key(&r.about.author, &r.about.object_id));
            d.add_text(f.to, reply_to_term(&r.about.author));
            if let Some(x) = &r.in_reply_to {
                d.add_text(f.to, reply_to_term(&x.author));
            }
        }
        _ => {}
    }
    let mut langs: Vec<&str> = Vec::new();
    for t in body_texts(&entry.body) {
        for (lang, s) in &t.0 {
            if s.is_empty() {
                continue;
            }
            d.add_text(f.text, s);
            if !langs.contains(&lang.as_str()) {
                langs.push(lang);
            }
        }
    }
    if let Body::Case(c) = &entry.body {
        for t in &c.tags {
            d.add_text(f.text, t);
        }
    }
    if let Some(c) = opened.and_then(|o| contact_of(&o.body)) {
        for t in [&c.name, &c.department] {
            for (_, s) in &t.0 {
                d.add_text(f.sealed_text, s);
            }
        }
        for s in [&c.email, &c.phone] {
            if !s.is_empty() {
                d.add_text(f.sealed_text, s);
            }
        }
    }
    if let Some(Body::Readiness(r)) = opened.map(|o| &o.body) {
        if let Some(s) = &r.shelter {
            for (_, t) in &s.location.0 {
                d.add_text(f.sealed_text, t);
            }
        }
    }
    for l in langs {
        d.add_text(f.lang, l);
        d.add_facet(f.facet, Facet::from_path(["lang", l]));
    }
    d
}

/// The watermark kept in each commit's payload.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Payload {
    format: u32,
    /// Author hex → seq indexed up to.
    marks: HashMap<String, u64>,
}

struct Writer {
    writer: IndexWriter,
    marks: HashMap<NodeId, u64>,
}

/// How far a catch-up got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatchUp {
    /// Entries read from the logs.
    pub entries: u64,
    /// Objects written to the index.
    pub objects: u64,
    /// Entries still to index (the budget ran out).
    pub behind: u64,
}

/// The search index of one node (see the module documentation).
pub struct ReadIndex {
    reader: IndexReader,
    writer: Mutex<Writer>,
    fields: Fields,
    /// The store's entry count when the last complete catch-up began: a
    /// reader compares it with the store's to know whether the index may
    /// lag, and [`ReadIndex::wait_seen`] waits for it to pass a count.
    seen: tokio::sync::watch::Sender<u64>,
    /// Entries indexed, the sum of the marks.
    indexed: AtomicU64,
    /// Bumped when a commit made visible a profile, endorsement, key
    /// rotation, partnership or retraction (display names and the
    /// network's ties depend on them).
    directory_generation: AtomicU64,
    /// Such a document was written since the last commit.
    directory_dirty: std::sync::atomic::AtomicBool,
    path: Option<PathBuf>,
    /// The index was rebuilt at open (missing, damaged or another format).
    rebuilt: bool,
    /// Opens sealed parts this node may read, to index their text.
    keyring: std::sync::OnceLock<Arc<crate::keyring::Keyring>>,
}

/// Whether the index holds objects of `kind`: not retractions (they remove
/// an object), audience epochs or withdrawals (the node acts on them;
/// nobody searches them).
pub fn indexed(kind: Kind) -> bool {
    !matches!(kind, Kind::Retraction | Kind::Audience | Kind::Withdrawal)
}

/// The contact of a body that has one.
pub fn contact_of(body: &Body) -> Option<&yui_core::content::Contact> {
    match body {
        Body::Profile(p) => Some(&p.contact),
        Body::Event(e) => Some(&e.contact),
        Body::Readiness(r) => Some(&r.contact),
        Body::Case(c) => Some(&c.contact),
        Body::CallForPartners(c) => Some(&c.contact),
        _ => None,
    }
}

fn register(index: &Index) {
    index
        .tokenizers()
        .register(analyzer::NAME, analyzer::CjkTokenizer);
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io {
        path: path.to_owned(),
        source,
    }
}

impl ReadIndex {
    /// Opens the index in `dir`, or makes a new empty one (missing, damaged
    /// or of another format: the next catch-up builds it from the logs).
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        let (schema, fields) = schema();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let existing = Index::open_in_dir(dir).ok().and_then(|index| {
            let payload: Payload = index
                .load_metas()
                .ok()?
                .payload
                .and_then(|p| serde_json::from_str(&p).ok())?;
            (payload.format == FORMAT && index.schema() == schema).then_some((index, payload))
        });
        let (index, payload, rebuilt) = match existing {
            Some((index, payload)) => (index, payload, false),
            None => {
                let fresh = std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
                std::fs::remove_dir_all(dir).map_err(io(dir))?;
                std::fs::create_dir_all(dir).map_err(io(dir))?;
                let index = Index::create_in_dir(dir, schema)?;
                (index, Payload::default(), !fresh)
            }
        };
        Self::with(index, payload, fields, Some(dir.to_owned()), rebuilt)
    }

    /// A new index in memory (tests, tools).
    pub fn in_memory() -> Result<Self, IndexError> {
        let (schema, fields) = schema();
        Self::with(
            Index::create_in_ram(schema),
            Payload::default(),
            fields,
            None,
            false,
        )
    }

    fn with(
        index: Index,
        payload: Payload,
        fields: Fields,
        path: Option<PathBuf>,
        rebuilt: bool,
    ) -> Result<Self, IndexError> {
        register(&index);
        // One indexing thread and one merge at a time: a node's index
        // work stays beside its sessions, and its memory bounded. Made on a
        // background-priority thread, so tantivy's threads inherit that
        // priority (its workers are started again by each commit, from the
        // committing thread: the follower commits from the background pool).
        let writer: IndexWriter = yui_sync::background::on_lowered_thread(|| {
            index.writer_with_options(
                tantivy::indexer::IndexWriterOptions::builder()
                    .memory_budget_per_thread(WRITER_BYTES)
                    .num_worker_threads(1)
                    .num_merge_threads(1)
                    .build(),
            )
        })?;
        // Merges stop at segments of MERGE_DOCS: a merge's memory stays
        // bounded however large the index grows.
        let mut policy = tantivy::merge_policy::LogMergePolicy::default();
        policy.set_max_docs_before_merge(MERGE_DOCS);
        writer.set_merge_policy(Box::new(policy));
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let marks: HashMap<NodeId, u64> = payload
            .marks
            .iter()
            .filter_map(|(k, v)| {
                let bytes = hex::decode(k).ok()?;
                Some((NodeId::from_bytes(&bytes).ok()?, *v))
            })
            .collect();
        let indexed = marks.values().sum();
        Ok(Self {
            reader,
            writer: Mutex::new(Writer { writer, marks }),
            fields,
            seen: tokio::sync::watch::Sender::new(0),
            indexed: AtomicU64::new(indexed),
            directory_generation: AtomicU64::new(1),
            directory_dirty: std::sync::atomic::AtomicBool::new(false),
            path,
            rebuilt,
            keyring: std::sync::OnceLock::new(),
        })
    }

    /// Lets the index open sealed parts with `keyring` (once).
    pub fn set_keyring(&self, keyring: Arc<crate::keyring::Keyring>) {
        let _ = self.keyring.set(keyring);
    }

    /// Writes the current version of each object again (after a
    /// withdrawal changed what opens), then merges every segment and
    /// deletes the files no longer used, so no earlier segment keeps the
    /// terms of what was withdrawn.
    pub fn rewrite_and_purge(
        &self,
        replica: &Replica,
        author: &NodeId,
        object_ids: &[String],
    ) -> Result<(), IndexError> {
        let mut w = self.writer.lock().expect("index writer lock");
        // An author the index has not reached yet has no documents here;
        // catch_up writes its objects as they are when it gets there.
        if w.marks.get(author).is_some_and(|m| *m > 0) {
            for o in object_ids {
                self.upsert(replica, &mut w.writer, author, o, true)?;
            }
        }
        self.commit(&mut w)?;
        let segments = self.reader.searcher().index().searchable_segment_ids()?;
        if !segments.is_empty() {
            let _ = w.writer.merge(&segments).wait()?;
        }
        w.writer.garbage_collect_files().wait()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Where the index lives (None: in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether the index was found missing, damaged or of another format
    /// at open and started empty.
    pub fn rebuilt_at_open(&self) -> bool {
        self.rebuilt
    }

    pub(crate) fn fields(&self) -> &Fields {
        &self.fields
    }

    pub(crate) fn searcher(&self) -> tantivy::Searcher {
        self.reader.searcher()
    }

    /// Entries indexed so far.
    pub fn indexed(&self) -> u64 {
        self.indexed.load(Ordering::Acquire)
    }

    /// Changes when something display names or ties depend on became
    /// visible to searches.
    pub fn directory_generation(&self) -> u64 {
        self.directory_generation.load(Ordering::Acquire)
    }

    /// Whether the store may hold entries the index has not seen.
    pub fn may_lag(&self, replica: &Replica) -> Result<bool, IndexError> {
        Ok(replica.store().entry_count()? > *self.seen.borrow())
    }

    /// Waits until a catch-up that began when the store held at least
    /// `count` entries has ended with nothing left behind (everything the
    /// store held then is searchable), for at most `limit`. Returns whether
    /// it did. Indexes nothing itself: the follower does
    /// ([`crate::ReadModel::follow`]).
    pub async fn wait_seen(&self, count: u64, limit: std::time::Duration) -> bool {
        let mut seen = self.seen.subscribe();
        let passed = tokio::time::timeout(limit, seen.wait_for(|s| *s >= count))
            .await
            .is_ok_and(|r| r.is_ok());
        passed
    }

    /// Bytes the index takes on disk (0 in memory).
    pub fn size_on_disk(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            std::fs::read_dir(p).map_or(0, |rd| {
                rd.flatten()
                    .map(|e| match e.metadata() {
                        Ok(m) if m.is_dir() => walk(&e.path()),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    })
                    .sum()
            })
        }
        self.path.as_deref().map_or(0, walk)
    }

    /// Indexes what the store holds beyond the watermark, at most about
    /// `budget` entries, then commits and makes it visible to searches.
    pub fn catch_up(&self, replica: &Replica, budget: u64) -> Result<CatchUp, IndexError> {
        let mut w = self.writer.lock().expect("index writer lock");
        let store = replica.store();
        let count = store.entry_count()?;
        let heads = store.heads()?;
        let mut out = CatchUp::default();
        let mut since_commit = 0usize;
        let mut dirty = false;
        for (author, head) in heads {
            let mark = w.marks.get(&author).copied().unwrap_or(0);
            if head.seq <= mark {
                continue;
            }
            if out.entries >= budget {
                out.behind += head.seq - mark;
                continue;
            }
            // Nothing of an author at mark 0 is in the index (the only
            // other writer, rewrite_and_purge, leaves such authors alone),
            // so an object not yet written in this pass needs no delete:
            // a first build queues no delete per object (measured: 42 MB
            // for 142,000 objects held in tantivy's delete queue).
            let fresh = mark == 0;
            let mut written: HashSet<String> = HashSet::new();
            let mut next = mark + 1;
            while next <= head.seq && out.entries < budget {
                let take = (head.seq - next + 1).min(STEP as u64) as usize;
                let batch = store.range(&author, next, take)?;
                if batch.is_empty() {
                    break;
                }
                let mut touched: Vec<String> = Vec::new();
                let mut last = next - 1;
                for signed in batch {
                    let e = replica.decode_stored(signed)?;
                    last = e.entry.seq;
                    if !touched.contains(&e.entry.object_id) {
                        touched.push(e.entry.object_id);
                    }
                }
                for object_id in touched {
                    let may_exist = !fresh || !written.insert(object_id.clone());
                    out.objects += u64::from(self.upsert(
                        replica,
                        &mut w.writer,
                        &author,
                        &object_id,
                        may_exist,
                    )?);
                }
                out.entries += last + 1 - next;
                since_commit += (last + 1 - next) as usize;
                next = last + 1;
                w.marks.insert(author, last);
                dirty = true;
                if since_commit >= COMMIT_EVERY {
                    self.commit(&mut w)?;
                    since_commit = 0;
                    dirty = false;
                }
            }
            if next <= head.seq {
                out.behind += head.seq + 1 - next;
            }
        }
        if dirty {
            self.commit(&mut w)?;
        }
        if out.behind == 0 {
            self.seen.send_if_modified(|seen| {
                let newer = count > *seen;
                if newer {
                    *seen = count;
                }
                newer
            });
        }
        Ok(out)
    }

    /// Writes the object's current version as the store has it (or removes
    /// it: retracted). Returns whether a document was added.
    fn upsert(
        &self,
        replica: &Replica,
        writer: &mut IndexWriter,
        author: &NodeId,
        object_id: &str,
        may_exist: bool,
    ) -> Result<bool, IndexError> {
        let f = &self.fields;
        if may_exist {
            writer.delete_term(Term::from_field_text(f.key, &object_key(author, object_id)));
        }
        let Some((kind, seq)) = replica.store().object(author, object_id)? else {
            return Ok(false);
        };
        if matches!(
            kind,
            Kind::Profile
                | Kind::Endorsement
                | Kind::KeyRotation
                | Kind::Partnership
                | Kind::Retraction
        ) {
            self.directory_dirty.store(true, Ordering::Release);
        }
        if !indexed(kind) {
            return Ok(false);
        }
        let Some(e) = replica.read(author, seq)? else {
            return Ok(false);
        };
        let opened = match self.keyring.get() {
            Some(k) if e.entry.sealed.is_some() => match k.open(replica, &e) {
                crate::keyring::Opened::Open(full) => Some(*full),
                _ => None,
            },
            _ => None,
        };
        writer.add_document(document(f, &e, opened.as_ref()))?;
        Ok(true)
    }

    fn commit(&self, w: &mut Writer) -> Result<(), IndexError> {
        let payload = Payload {
            format: FORMAT,
            marks: w
                .marks
                .iter()
                .map(|(k, v)| (hex::encode(k.as_bytes()), *v))
                .collect(),
        };
        let mut prepared = w.writer.prepare_commit()?;
        prepared.set_payload(&serde_json::to_string(&payload).expect("payload"));
        prepared.commit()?;
        self.reader.reload()?;
        self.indexed
            .store(w.marks.values().sum(), Ordering::Release);
        // After the reload: a cache keyed by the new generation is built
        // from a searcher that sees the change.
        if self.directory_dirty.swap(false, Ordering::AcqRel) {
            self.directory_generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Empties the index; the next catch-up rebuilds it from the logs.
    pub fn clear(&self) -> Result<(), IndexError> {
        let mut w = self.writer.lock().expect("index writer lock");
        w.writer.delete_all_documents()?;
        w.marks.clear();
        self.seen.send_replace(0);
        self.commit(&mut w)?;
        self.directory_generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// `(author, seq)` of every document, for checks.
    pub(crate) fn all_versions(&self) -> Result<Vec<(NodeId, u64)>, IndexError> {
        let searcher = self.searcher();
        let mut out = Vec::new();
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let alive = segment.alive_bitset();
            for doc in 0..segment.max_doc() {
                if alive.is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                let address = tantivy::DocAddress::new(ord as u32, doc);
                if let Some(v) = self.version_of(&searcher, address)? {
                    out.push(v);
                }
            }
        }
        Ok(out)
    }

    /// The `(author, seq)` a document stands for.
    pub(crate) fn version_of(
        &self,
        searcher: &tantivy::Searcher,
        address: tantivy::DocAddress,
    ) -> Result<Option<(NodeId, u64)>, IndexError> {
        let doc: TantivyDocument = searcher.doc(address)?;
        let author = doc
            .get_first(self.fields.author_raw)
            .and_then(|v| v.as_bytes())
            .and_then(|b| NodeId::from_bytes(b).ok());
        let seq = doc.get_first(self.fields.seq).and_then(|v| v.as_u64());
        Ok(author.zip(seq))
    }
}
