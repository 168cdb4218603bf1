//! [`KvStore`]: the yui key layout over an ordered key-value [`Engine`].
//!
//! Keys (first byte names the index; integers big-endian so order is seq order):
//! - `M` + name → meta (`format`: u32, `count`: u64 entries held, `bytes`:
//!   u64 total size of the entries held; since format 2)
//! - `e` + author(32) + seq(8) → canonical `SignedEntry` bytes
//! - `i` + id(32) → author(32) + seq(8): no longer written or read (no
//!   reader looked entries up by id; it was one key in six per entry);
//!   stores written before keep theirs unused
//! - `h` + author(32) → head seq(8) + head id(32) (written once per batch
//!   and author; held in memory too, see [`KvStore`])
//! - `o` + author(32) + object_id → kind(1) + seq(8) (current version)
//! - `c` + kind(1) + author(32) + object_id → seq(8) (current, by kind),
//!   for the kinds a node lists whole and often ([`listed`]: trust,
//!   directory, audiences); the others are found from `o` (stores written
//!   before keep `c` keys of those kinds, unused)
//! - `v` + author(32) + object_id + 0 + seq(8) → kind(1) (every version of
//!   an object that has more than one: written from its second version on,
//!   with the first; an object with no `v` key has one version, its `o`.
//!   Stores written before this rule have a `v` key for every version,
//!   which reads the same)
//! - `f` + author(32) + seq(8) + lower id(32) + higher id(32) →
//!   len(4) + first entry + second entry (fork evidence)
//! - `F` + author(32) → lowest forked seq(8)
//! - `R` + author(32) + seq(8) → recovery statement of a forked author
//! - `T` + author(32) → trust record (JSON)
//! - `P` + address → peer record (JSON)
//! - `r` + author(32) + last seq(8) → first seq(8) + at(8) + source(1:
//!   0 published, 1 peer, 2 import) [+ peer(32)]: how a run arrived (keyed
//!   by its last seq, so the run holding a seq is the first key at or
//!   after it)

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};

use yui_core::{EntryId, Head, Kind, NodeId, SignedEntry};

use crate::engine::{Engine, Op};
use crate::records::{
    Arrival, ArrivalSource, ForkRecord, IndexedEntry, ObjectVersion, PeerRecord, TrustRecord,
};
use crate::{Result, Store, StoreError, FORMAT_VERSION, OLDEST_MIGRATABLE};

/// Where a store migration stands.
#[derive(Debug, Clone)]
pub struct Migration {
    /// Layout migrated from.
    pub from: u32,
    /// Layout migrated to.
    pub to: u32,
    /// Entries done.
    pub done: u64,
    /// Entries in all.
    pub total: u64,
    /// When it started.
    pub started: std::time::Instant,
}

/// The [`Store`] implementation over any [`Engine`].
///
/// Heads and fork marks are also held in memory (loaded at open, a few
/// dozen bytes per author): every batch and every Want reads them, and a
/// lookup in the engine per author was a large part of ingest. The memory
/// copy changes only after the batch that wrote the keys was applied, so it
/// never names an entry the engine does not hold.
pub struct KvStore<E> {
    engine: E,
    /// Serialises read-check-write sequences (append, fork records) so the
    /// chain check and the batch that follows it see the same state.
    write: Mutex<()>,
    /// Every author's head (`h`).
    heads: RwLock<HashMap<NodeId, Head>>,
    /// Lowest forked seq per forked author (`F`).
    forked: RwLock<HashMap<NodeId, u64>>,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn key(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(tag);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// The first key after every key that starts with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    unreachable!("every store prefix starts with an ASCII tag byte")
}

fn u64_at(bytes: &[u8], at: usize) -> Result<u64> {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| corrupt("short integer"))
}

fn node_at(bytes: &[u8], at: usize) -> Result<NodeId> {
    bytes
        .get(at..at + 32)
        .and_then(|b| NodeId::from_bytes(b).ok())
        .ok_or_else(|| corrupt("bad node id"))
}

fn id_at(bytes: &[u8], at: usize) -> Result<EntryId> {
    bytes
        .get(at..at + 32)
        .and_then(EntryId::from_slice)
        .ok_or_else(|| corrupt("bad entry id"))
}

fn decode_signed(bytes: &[u8]) -> Result<SignedEntry> {
    SignedEntry::decode_canonical(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

const ALL: usize = usize::MAX;

/// Kinds kept in the by-kind index `c`: what trust, the directory and
/// audiences read whole, often, and which stay few (a profile, some
/// partnerships and endorsements per author). The rest — events, readiness,
/// cases, acknowledgements, the bulk of every log — cost one key less per
/// entry; listing them (`yui check`'s index comparison) walks `o`.
fn listed(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Profile
            | Kind::Partnership
            | Kind::Endorsement
            | Kind::Revocation
            | Kind::KeyRotation
            | Kind::Audience
            | Kind::Withdrawal
    )
}

impl<E: Engine> KvStore<E> {
    /// Opens a store on `engine`, writing the format version on first use,
    /// migrating an older layout in place, and refusing a newer one.
    pub fn open(engine: E) -> Result<Self> {
        Self::open_with(engine, &mut |_| {})
    }

    /// [`KvStore::open`], calling `progress` about once a second while a
    /// migration runs.
    pub fn open_with(engine: E, progress: &mut dyn FnMut(&Migration)) -> Result<Self> {
        let fkey = key(b'M', &[b"format"]);
        let mut store = Self {
            engine,
            write: Mutex::new(()),
            heads: RwLock::default(),
            forked: RwLock::default(),
        };
        match store.engine.get(&fkey)? {
            None => {
                store
                    .engine
                    .apply(vec![Op::Put(fkey, FORMAT_VERSION.to_be_bytes().to_vec())])?;
                store.engine.flush()?;
            }
            Some(v) => {
                let found = v
                    .as_slice()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .map_err(|_| corrupt("format version"))?;
                if !(OLDEST_MIGRATABLE..=FORMAT_VERSION).contains(&found) {
                    return Err(StoreError::Format {
                        found,
                        expected: FORMAT_VERSION,
                    });
                }
                for from in found..FORMAT_VERSION {
                    store.migrate(from, progress)?;
                }
            }
        }
        store.heads = RwLock::new(store.stored_heads()?.into_iter().collect());
        let forked = store
            .engine
            .range(b"F", b"G", ALL)?
            .into_iter()
            .map(|(k, v)| Ok((node_at(&k, 1)?, u64_at(&v, 0)?)))
            .collect::<Result<HashMap<_, _>>>()?;
        store.forked = RwLock::new(forked);
        Ok(store)
    }

    /// The heads as the engine holds them.
    fn stored_heads(&self) -> Result<Vec<(NodeId, Head)>> {
        self.engine
            .range(b"h", b"i", ALL)?
            .into_iter()
            .map(|(k, v)| {
                Ok((
                    node_at(&k, 1)?,
                    Head {
                        seq: u64_at(&v, 0)?,
                        id: id_at(&v, 8)?,
                    },
                ))
            })
            .collect()
    }

    /// Current versions of `kind`, walking every object's current version
    /// (`o`) in chunks: for the kinds not in `c`.
    fn current_from_objects(&self, kind: Kind) -> Result<Vec<ObjectVersion>> {
        let mut out = Vec::new();
        let mut start = vec![b'o'];
        let end = vec![b'p'];
        loop {
            let chunk = self.engine.range(&start, &end, 4096)?;
            let Some((last, _)) = chunk.last() else { break };
            start = [last.as_slice(), &[0]].concat();
            for (k, v) in chunk {
                if v.first() != Some(&kind.code()) {
                    continue;
                }
                let object_id =
                    std::str::from_utf8(k.get(33..).ok_or_else(|| corrupt("object key"))?)
                        .map_err(|_| corrupt("object id is not UTF-8"))?
                        .to_owned();
                out.push(ObjectVersion {
                    author: node_at(&k, 1)?,
                    object_id,
                    seq: u64_at(&v, 1)?,
                });
            }
        }
        Ok(out)
    }

    /// The ops that write `arrivals`.
    fn arrival_ops(arrivals: &[Arrival]) -> impl Iterator<Item = Op> + '_ {
        arrivals.iter().map(|a| {
            let mut v = Vec::with_capacity(49);
            v.extend_from_slice(&a.first_seq.to_be_bytes());
            v.extend_from_slice(&a.at.to_be_bytes());
            match a.source {
                ArrivalSource::Published => v.push(0),
                ArrivalSource::Peer(p) => {
                    v.push(1);
                    v.extend_from_slice(p.as_bytes());
                }
                ArrivalSource::Import => v.push(2),
            }
            Op::Put(
                key(b'r', &[a.author.as_bytes(), &a.last_seq.to_be_bytes()]),
                v,
            )
        })
    }

    /// Runs the migration from layout `from` to `from + 1`. Each one ends
    /// with one atomic batch that writes its results and the new format
    /// number, so a migration cut short (crash, full disk) changed nothing
    /// and simply runs again at the next open.
    fn migrate(&self, from: u32, progress: &mut dyn FnMut(&Migration)) -> Result<()> {
        let mut m = Migration {
            from,
            to: from + 1,
            done: 0,
            total: self.entry_count()?,
            started: std::time::Instant::now(),
        };
        tracing::info!(
            from,
            to = from + 1,
            entries = m.total,
            "migrating the store"
        );
        let mut ops = Vec::new();
        match from {
            1 => {
                // 1 → 2: total size of the stored entries.
                let mut bytes = 0u64;
                let mut last_report = std::time::Instant::now();
                let mut start = vec![b'e'];
                let end = vec![b'f'];
                loop {
                    let chunk = self.engine.range(&start, &end, 4096)?;
                    let Some((last, _)) = chunk.last() else { break };
                    start = [last.as_slice(), &[0]].concat();
                    m.done += chunk.len() as u64;
                    bytes += chunk.iter().map(|(_, v)| v.len() as u64).sum::<u64>();
                    if last_report.elapsed() >= std::time::Duration::from_secs(1) {
                        progress(&m);
                        last_report = std::time::Instant::now();
                    }
                }
                if m.done != m.total {
                    return Err(StoreError::Corrupt(format!(
                        "the store counts {} entries but holds {}; run `yui check`",
                        m.total, m.done
                    )));
                }
                ops.push(Op::Put(
                    key(b'M', &[b"bytes"]),
                    bytes.to_be_bytes().to_vec(),
                ));
            }
            _ => unreachable!("no migration from format {from}"),
        }
        ops.push(Op::Put(
            key(b'M', &[b"format"]),
            (from + 1).to_be_bytes().to_vec(),
        ));
        self.engine.apply(ops)?;
        self.engine.flush()?;
        progress(&m);
        tracing::info!(
            from,
            to = from + 1,
            entries = m.done,
            secs = m.started.elapsed().as_secs_f64(),
            "store migrated"
        );
        Ok(())
    }

    /// The engine underneath.
    pub fn engine(&self) -> &E {
        &self.engine
    }

    fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

impl<E: Engine> Store for KvStore<E> {
    fn append(&self, entries: &[IndexedEntry]) -> Result<()> {
        self.append_arrived(entries, &[])
    }

    fn append_arrived(&self, entries: &[IndexedEntry], arrivals: &[Arrival]) -> Result<()> {
        if entries.is_empty() {
            return self.record_arrivals(arrivals);
        }
        let _guard = self.write.lock().expect("store write lock");
        // Heads as of this batch so far, for the authors it touches.
        let mut heads: HashMap<NodeId, Option<Head>> = HashMap::new();
        // Authors with nothing stored before this batch: they have no object
        // either (`o` keys are written only here, with their head), so their
        // objects are not looked up (most entries of a first sync).
        let mut fresh: HashSet<NodeId> = HashSet::new();
        // (author, object_id) -> current (kind, seq), including this batch.
        let mut objects: HashMap<(NodeId, &str), Option<(Kind, u64)>> = HashMap::new();
        let mut ops = Vec::with_capacity(entries.len() * 4 + arrivals.len() + 2);
        let mut added_bytes = 0u64;
        {
            let stored = self.heads.read().expect("heads lock");
            for e in entries {
                let head = *heads.entry(e.author).or_insert_with(|| {
                    let head = stored.get(&e.author).copied();
                    if head.is_none() {
                        fresh.insert(e.author);
                    }
                    head
                });
                let head_seq = head.map_or(0, |h| h.seq);
                if e.seq != head_seq + 1 || e.prev != head.map(|h| h.id) {
                    return Err(StoreError::Chain {
                        author: e.author,
                        seq: e.seq,
                        head: head_seq,
                    });
                }
                heads.insert(
                    e.author,
                    Some(Head {
                        seq: e.seq,
                        id: e.id,
                    }),
                );
            }
        }
        for e in entries {
            let a = e.author.as_bytes();
            let seq = e.seq.to_be_bytes();
            let encoded = e.signed.encode();
            added_bytes += encoded.len() as u64;
            ops.push(Op::Put(key(b'e', &[a, &seq]), encoded));

            let okey = (e.author, e.object_id.as_str());
            let old = match objects.get(&okey) {
                Some(v) => *v,
                None if fresh.contains(&e.author) => None,
                None => self.object(&e.author, &e.object_id)?,
            };
            // Versions are listed once an object has a second one: this one
            // and the one before (the first, or a repeat of a key already
            // written).
            if let Some((old_kind, old_seq)) = old {
                ops.push(Op::Put(
                    key(
                        b'v',
                        &[a, e.object_id.as_bytes(), &[0], &old_seq.to_be_bytes()],
                    ),
                    vec![old_kind.code()],
                ));
                ops.push(Op::Put(
                    key(b'v', &[a, e.object_id.as_bytes(), &[0], &seq]),
                    vec![e.kind.code()],
                ));
            }
            // A revocation is final: it stays the current version of its
            // object whatever the author signs later under the same id (a
            // stolen key cannot undo its own revocation). The later entry is
            // in the log and the history, never current.
            if matches!(old, Some((Kind::Revocation, _))) {
                // The history still lists the later entry: `v` was written
                // above; `old` stays the current version, so a third entry
                // finds the revocation again and writes its own `v`.
                continue;
            }
            if let Some((old_kind, _)) = old.filter(|(k, _)| listed(*k)) {
                ops.push(Op::Delete(key(
                    b'c',
                    &[&[old_kind.code()], a, e.object_id.as_bytes()],
                )));
            }
            ops.push(Op::Put(
                key(b'o', &[a, e.object_id.as_bytes()]),
                key(e.kind.code(), &[&seq]),
            ));
            if listed(e.kind) {
                ops.push(Op::Put(
                    key(b'c', &[&[e.kind.code()], a, e.object_id.as_bytes()]),
                    seq.to_vec(),
                ));
            }
            objects.insert(okey, Some((e.kind, e.seq)));
        }
        // One head per author and batch.
        for (author, head) in &heads {
            let h = head.expect("every author in the batch has a head now");
            ops.push(Op::Put(
                key(b'h', &[author.as_bytes()]),
                [&h.seq.to_be_bytes()[..], &h.id.0].concat(),
            ));
        }
        ops.extend(Self::arrival_ops(arrivals));
        let count = self.entry_count()? + entries.len() as u64;
        ops.push(Op::Put(
            key(b'M', &[b"count"]),
            count.to_be_bytes().to_vec(),
        ));
        let bytes = self.entry_bytes()? + added_bytes;
        ops.push(Op::Put(
            key(b'M', &[b"bytes"]),
            bytes.to_be_bytes().to_vec(),
        ));
        self.engine.apply(ops)?;
        let mut held = self.heads.write().expect("heads lock");
        for (author, head) in heads {
            held.insert(author, head.expect("set above"));
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.engine.flush()
    }

    fn head(&self, author: &NodeId) -> Result<Option<Head>> {
        Ok(self.heads.read().expect("heads lock").get(author).copied())
    }

    fn heads(&self) -> Result<Vec<(NodeId, Head)>> {
        let mut all: Vec<(NodeId, Head)> = self
            .heads
            .read()
            .expect("heads lock")
            .iter()
            .map(|(a, h)| (*a, *h))
            .collect();
        all.sort_by_key(|(a, _)| *a);
        Ok(all)
    }

    fn get(&self, author: &NodeId, seq: u64) -> Result<Option<SignedEntry>> {
        self.engine
            .get(&key(b'e', &[author.as_bytes(), &seq.to_be_bytes()]))?
            .map(|v| decode_signed(&v))
            .transpose()
    }

    fn range(&self, author: &NodeId, from_seq: u64, limit: usize) -> Result<Vec<SignedEntry>> {
        let prefix = key(b'e', &[author.as_bytes()]);
        let start = key(b'e', &[author.as_bytes(), &from_seq.to_be_bytes()]);
        self.engine
            .range(&start, &prefix_end(&prefix), limit)?
            .into_iter()
            .map(|(_, v)| decode_signed(&v))
            .collect()
    }

    fn current(&self, kind: Kind) -> Result<Vec<ObjectVersion>> {
        if !listed(kind) {
            return self.current_from_objects(kind);
        }
        let prefix = [b'c', kind.code()];
        self.engine
            .range(&prefix, &prefix_end(&prefix), ALL)?
            .into_iter()
            .map(|(k, v)| {
                let object_id =
                    std::str::from_utf8(k.get(34..).ok_or_else(|| corrupt("object key"))?)
                        .map_err(|_| corrupt("object id is not UTF-8"))?
                        .to_owned();
                Ok(ObjectVersion {
                    author: node_at(&k, 2)?,
                    object_id,
                    seq: u64_at(&v, 0)?,
                })
            })
            .collect()
    }

    fn object(&self, author: &NodeId, object_id: &str) -> Result<Option<(Kind, u64)>> {
        self.engine
            .get(&key(b'o', &[author.as_bytes(), object_id.as_bytes()]))?
            .map(|v| {
                let kind = v
                    .first()
                    .and_then(|c| Kind::from_code(*c))
                    .ok_or_else(|| corrupt("object kind"))?;
                Ok((kind, u64_at(&v, 1)?))
            })
            .transpose()
    }

    fn history(&self, author: &NodeId, object_id: &str) -> Result<Vec<u64>> {
        // Object ids hold no NUL (validated), so the 0 separator ends the id.
        let prefix = key(b'v', &[author.as_bytes(), object_id.as_bytes(), &[0]]);
        let listed = self
            .engine
            .range(&prefix, &prefix_end(&prefix), ALL)?
            .into_iter()
            .map(|(k, _)| u64_at(&k, prefix.len()))
            .collect::<Result<Vec<u64>>>()?;
        if !listed.is_empty() {
            return Ok(listed);
        }
        // One version: the current one.
        Ok(self
            .object(author, object_id)?
            .map(|(_, seq)| vec![seq])
            .unwrap_or_default())
    }

    fn entry_count(&self) -> Result<u64> {
        self.engine
            .get(&key(b'M', &[b"count"]))?
            .map_or(Ok(0), |v| u64_at(&v, 0))
    }

    fn entry_bytes(&self) -> Result<u64> {
        self.engine
            .get(&key(b'M', &[b"bytes"]))?
            .map_or(Ok(0), |v| u64_at(&v, 0))
    }

    fn record_fork(&self, fork: &ForkRecord) -> Result<bool> {
        let _guard = self.write.lock().expect("store write lock");
        let a = fork.author.as_bytes();
        let (x, y) = (fork.first.id(), fork.second.id());
        let (lo, hi) = if x < y { (x, y) } else { (y, x) };
        let k = key(b'f', &[a, &fork.seq.to_be_bytes(), &lo.0, &hi.0]);
        if self.engine.get(&k)?.is_some() {
            return Ok(false);
        }
        // Bounded per author: one record stops the log; a few more show
        // what else was signed. A forked author signing pair after pair
        // gets nothing more stored unless a pair is lower than all held
        // (the lowest is what stops the log), which then takes the place of
        // the highest.
        let prefix = key(b'f', &[a]);
        let held = self
            .engine
            .range(&prefix, &prefix_end(&prefix), crate::MAX_FORK_RECORDS + 1)?;
        let mut ops = Vec::new();
        if held.len() >= crate::MAX_FORK_RECORDS {
            let highest = held.last().expect("non-empty");
            if fork.seq >= u64_at(&highest.0, 33)? {
                return Ok(false);
            }
            ops.push(Op::Delete(highest.0.clone()));
        }
        let first = fork.first.encode();
        let value = [
            &(first.len() as u32).to_be_bytes()[..],
            &first,
            &fork.second.encode(),
        ]
        .concat();
        let lowest = self
            .forked_at(&fork.author)?
            .map_or(fork.seq, |s| s.min(fork.seq));
        ops.push(Op::Put(k, value));
        ops.push(Op::Put(key(b'F', &[a]), lowest.to_be_bytes().to_vec()));
        self.engine.apply(ops)?;
        self.forked
            .write()
            .expect("forked lock")
            .insert(fork.author, lowest);
        // Evidence is rare and precious: make it durable now.
        self.engine.flush()?;
        Ok(true)
    }

    fn forks(&self) -> Result<Vec<ForkRecord>> {
        self.engine
            .range(b"f", b"g", ALL)?
            .into_iter()
            .map(|(k, v)| {
                let len = v
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_be_bytes)
                    .ok_or_else(|| corrupt("fork record"))? as usize;
                let first = v.get(4..4 + len).ok_or_else(|| corrupt("fork record"))?;
                Ok(ForkRecord {
                    author: node_at(&k, 1)?,
                    seq: u64_at(&k, 33)?,
                    first: decode_signed(first)?,
                    second: decode_signed(&v[4 + len..])?,
                })
            })
            .collect()
    }

    fn record_arrivals(&self, arrivals: &[Arrival]) -> Result<()> {
        if arrivals.is_empty() {
            return Ok(());
        }
        self.engine.apply(Self::arrival_ops(arrivals).collect())
    }

    fn arrival(&self, author: &NodeId, seq: u64) -> Result<Option<Arrival>> {
        let start = key(b'r', &[author.as_bytes(), &seq.to_be_bytes()]);
        let end = prefix_end(&key(b'r', &[author.as_bytes()]));
        let Some((k, v)) = self.engine.range(&start, &end, 1)?.into_iter().next() else {
            return Ok(None);
        };
        let last_seq = u64_at(&k, 33)?;
        let first_seq = u64_at(&v, 0)?;
        if first_seq > seq {
            return Ok(None);
        }
        let at = u64_at(&v, 8)? as i64;
        let source = match v.get(16) {
            Some(0) => ArrivalSource::Published,
            Some(1) => ArrivalSource::Peer(node_at(&v, 17)?),
            Some(2) => ArrivalSource::Import,
            _ => return Err(corrupt("arrival source")),
        };
        Ok(Some(Arrival {
            author: *author,
            first_seq,
            last_seq,
            at,
            source,
        }))
    }

    fn record_recovery(&self, author: &NodeId, seq: u64, signed: &SignedEntry) -> Result<bool> {
        let _guard = self.write.lock().expect("store write lock");
        let k = key(b'R', &[author.as_bytes(), &seq.to_be_bytes()]);
        if self.engine.get(&k)?.is_some() {
            return Ok(false);
        }
        self.engine.apply(vec![Op::Put(k, signed.encode())])?;
        self.engine.flush()?;
        Ok(true)
    }

    fn recoveries(&self) -> Result<Vec<(NodeId, u64, SignedEntry)>> {
        self.engine
            .range(b"R", b"S", ALL)?
            .into_iter()
            .map(|(k, v)| Ok((node_at(&k, 1)?, u64_at(&k, 33)?, decode_signed(&v)?)))
            .collect()
    }

    fn forked_at(&self, author: &NodeId) -> Result<Option<u64>> {
        Ok(self
            .forked
            .read()
            .expect("forked lock")
            .get(author)
            .copied())
    }

    fn trust_put(&self, id: &NodeId, rec: &TrustRecord) -> Result<()> {
        let v = serde_json::to_vec(rec).expect("serialisable");
        self.engine
            .apply(vec![Op::Put(key(b'T', &[id.as_bytes()]), v)])?;
        self.engine.flush()
    }

    fn trust_remove(&self, id: &NodeId) -> Result<bool> {
        let k = key(b'T', &[id.as_bytes()]);
        let existed = self.engine.get(&k)?.is_some();
        self.engine.apply(vec![Op::Delete(k)])?;
        self.engine.flush()?;
        Ok(existed)
    }

    fn trust_list(&self) -> Result<Vec<(NodeId, TrustRecord)>> {
        self.engine
            .range(b"T", b"U", ALL)?
            .into_iter()
            .map(|(k, v)| Ok((node_at(&k, 1)?, Self::json(&v)?)))
            .collect()
    }

    fn peer_put(&self, rec: &PeerRecord) -> Result<()> {
        let v = serde_json::to_vec(rec).expect("serialisable");
        self.engine
            .apply(vec![Op::Put(key(b'P', &[rec.addr.as_bytes()]), v)])?;
        self.engine.flush()
    }

    fn peer_remove(&self, addr: &str) -> Result<bool> {
        let k = key(b'P', &[addr.as_bytes()]);
        let existed = self.engine.get(&k)?.is_some();
        self.engine.apply(vec![Op::Delete(k)])?;
        self.engine.flush()?;
        Ok(existed)
    }

    fn peer_list(&self) -> Result<Vec<PeerRecord>> {
        self.engine
            .range(b"P", b"Q", ALL)?
            .into_iter()
            .map(|(_, v)| Self::json(&v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_orders_after_prefix() {
        assert_eq!(prefix_end(b"ab"), b"ac");
        assert_eq!(prefix_end(&[b'a', 0xff]), b"b");
    }
}
