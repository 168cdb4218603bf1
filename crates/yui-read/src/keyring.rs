//! [`Keyring`]: the keys this node holds for restricted content, and
//! [`Keyring::open`], which turns a stored entry's sealed part back into
//! the entry its author wrote.
//!
//! The keyring is one small file (`HOME/keys/audience.json`, mode 0600),
//! rewritten whole (temporary file, fsync, rename) on every change: a key
//! deleted from it is gone from the file, not left in a store's log
//! segments. It holds
//! - this node's X25519 secrets: the current one (published in the
//!   profile) and earlier ones still needed to open epochs sealed to them;
//! - epoch keys it has opened, per author, audience and epoch;
//! - per-entry content keys, kept when an epoch key had to be deleted (a
//!   withdrawal) but other entries of that epoch stay readable;
//! - the entries withdrawn, which are never opened again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use yui_core::audience::{
    audience_object_id, content_key, open, unwrap_epoch_key, AudienceSecret, ContentKey, EpochKey,
    SealError,
};
use yui_core::{Body, Entry, EntryId, NodeId};
use yui_sync::{now_ms, Replica, StoredEntry};

/// Why a sealed part is not shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Closed {
    /// This node is not in the audience (or was removed before this epoch).
    NotAMember,
    /// Sealed to a key of this node it has since retired.
    RetiredKey,
    /// The author withdrew it (personal data); nobody can open it now.
    Withdrawn,
    /// The author's log holds no such epoch before this entry.
    NoSuchEpoch,
    /// The bytes do not open: tampered, or sealed with another key.
    DoesNotOpen,
    /// It opens, but what it holds is not a valid part of this entry.
    Malformed,
    /// It names a part this release of yui does not know.
    UnknownPart,
}

impl Closed {
    /// Words for staff (English; pages translate by the variant).
    pub fn describe(&self) -> &'static str {
        match self {
            Closed::NotAMember => "this node is not in the audience",
            Closed::RetiredKey => "sealed to a key this node has retired",
            Closed::Withdrawn => "withdrawn by the author",
            Closed::NoSuchEpoch => "the author's log holds no such audience epoch",
            Closed::DoesNotOpen => "does not open (tampered, or sealed with another key)",
            Closed::Malformed => "opens, but is not a valid part of this entry",
            Closed::UnknownPart => "names a part this release of yui does not know",
        }
    }
}

/// What [`Keyring::open`] made of an entry.
#[derive(Debug, Clone)]
pub enum Opened {
    /// Nothing is sealed.
    Public,
    /// The entry as the author wrote it.
    Open(Box<Entry>),
    /// Sealed, and not shown.
    Closed(Closed),
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
struct Data {
    /// Oldest first; the last is current.
    secrets: Vec<SecretRecord>,
    /// "<author hex>/<audience>/<epoch>" → epoch key (hex).
    epochs: BTreeMap<String, String>,
    /// Entry id (hex) → content key (hex).
    entries: BTreeMap<String, String>,
    /// Entry ids (hex) withdrawn.
    withdrawn: BTreeSet<String>,
    /// Withdrawal entries (ids, hex) carried out here.
    withdrawals: BTreeSet<String>,
    /// Epoch slots deleted by a withdrawal: never opened again.
    shredded: BTreeSet<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SecretRecord {
    public: String,
    secret: String,
    created_at: i64,
}

/// Why the keyring file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("keyring {path}: {error}")]
pub struct KeyringError {
    path: String,
    error: String,
}

/// One sealed entry of an author: what [`Keyring::shred`] works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRef {
    /// Entry id.
    pub id: EntryId,
    /// Its seq in the author's log.
    pub seq: u64,
    /// The audience it was sealed for.
    pub audience: String,
    /// The epoch.
    pub epoch: u32,
}

/// The keys this node holds for restricted content.
#[derive(Debug)]
pub struct Keyring {
    path: Option<PathBuf>,
    data: Mutex<Data>,
}

fn epoch_slot(author: &NodeId, audience: &str, epoch: u32) -> String {
    format!("{}/{audience}/{epoch}", hex::encode(author.as_bytes()))
}

fn key32(hex_text: &str) -> Option<[u8; 32]> {
    hex::decode(hex_text).ok()?.try_into().ok()
}

impl Keyring {
    /// Opens (or creates, with a fresh secret) the keyring at `path`.
    pub fn open_file(path: &Path) -> Result<Self, KeyringError> {
        let err = |e: &dyn std::fmt::Display| KeyringError {
            path: path.display().to_string(),
            error: e.to_string(),
        };
        let data = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| err(&e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Data::default(),
            Err(e) => return Err(err(&e)),
        };
        let k = Self {
            path: Some(path.to_owned()),
            data: Mutex::new(data),
        };
        k.ensure_secret()?;
        Ok(k)
    }

    /// A keyring in memory (tests, benchmarks).
    pub fn in_memory() -> Self {
        let k = Self {
            path: None,
            data: Mutex::new(Data::default()),
        };
        k.ensure_secret().expect("memory never fails");
        k
    }

    fn ensure_secret(&self) -> Result<(), KeyringError> {
        let mut d = self.data.lock().expect("keyring lock");
        if d.secrets.is_empty() {
            push_secret(&mut d);
            self.save(&d)?;
        }
        Ok(())
    }

    fn save(&self, d: &Data) -> Result<(), KeyringError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let err = |e: &dyn std::fmt::Display| KeyringError {
            path: path.display().to_string(),
            error: e.to_string(),
        };
        let dir = path.parent().expect("keyring has a folder");
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        let text = serde_json::to_vec_pretty(d).map_err(|e| err(&e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| err(&e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| err(&e))?;
        }
        std::io::Write::write_all(&mut tmp, &text).map_err(|e| err(&e))?;
        tmp.as_file().sync_all().map_err(|e| err(&e))?;
        tmp.persist(path).map_err(|e| err(&e.error))?;
        Ok(())
    }

    /// This node's current audience key (what its profile publishes).
    pub fn public_key(&self) -> [u8; 32] {
        let d = self.data.lock().expect("keyring lock");
        key32(&d.secrets.last().expect("a secret").public).expect("stored key")
    }

    /// Starts a new audience key. With `retire`, every earlier secret is
    /// deleted at once (after a withdrawal: what was sealed to them must
    /// not open again); the epoch keys already opened stay.
    pub fn rotate(&self, retire: bool) -> Result<[u8; 32], KeyringError> {
        let mut d = self.data.lock().expect("keyring lock");
        if retire {
            d.secrets.clear();
        }
        push_secret(&mut d);
        self.save(&d)?;
        Ok(key32(&d.secrets.last().expect("a secret").public).expect("stored key"))
    }

    /// Whether the withdrawal entry `id` was carried out here.
    pub fn withdrawal_done(&self, id: &EntryId) -> bool {
        let d = self.data.lock().expect("keyring lock");
        d.withdrawals.contains(&id.to_hex())
    }

    /// Records that the withdrawal entry `id` was carried out here.
    pub fn mark_withdrawal_done(&self, id: &EntryId) -> Result<(), KeyringError> {
        let mut d = self.data.lock().expect("keyring lock");
        d.withdrawals.insert(id.to_hex());
        self.save(&d)
    }

    /// How many secrets the keyring holds (the current one included).
    pub fn secrets(&self) -> usize {
        self.data.lock().expect("keyring lock").secrets.len()
    }

    /// The epoch key this node holds for `author`'s `audience` at `epoch`.
    pub fn epoch_key(&self, author: &NodeId, audience: &str, epoch: u32) -> Option<EpochKey> {
        let d = self.data.lock().expect("keyring lock");
        d.epochs
            .get(&epoch_slot(author, audience, epoch))
            .and_then(|k| key32(k))
            .map(EpochKey)
    }

    /// Keeps an epoch key (an author's own new epoch).
    pub fn put_epoch_key(
        &self,
        author: &NodeId,
        audience: &str,
        epoch: u32,
        key: &EpochKey,
    ) -> Result<(), KeyringError> {
        let mut d = self.data.lock().expect("keyring lock");
        d.epochs
            .insert(epoch_slot(author, audience, epoch), hex::encode(key.0));
        self.save(&d)
    }

    /// Opens this node's copy of the epoch key in an audience entry, if it
    /// is a member, and keeps it.
    fn learn(&self, stored: &StoredEntry) -> Result<EpochKey, Closed> {
        let Body::Audience(a) = &stored.entry.body else {
            return Err(Closed::NoSuchEpoch);
        };
        let author = stored.entry.author;
        if let Some(k) = self.epoch_key(&author, &a.name, a.epoch) {
            return Ok(k);
        }
        let mut d = self.data.lock().expect("keyring lock");
        if d.shredded.contains(&epoch_slot(&author, &a.name, a.epoch)) {
            return Err(Closed::Withdrawn);
        }
        let me = d.secrets.iter().rev().find_map(|s| {
            let wrap = a.wraps.iter().find(|w| hex::encode(&w.key) == s.public)?;
            Some((wrap, s))
        });
        let Some((wrap, record)) = me else {
            return Err(Closed::NotAMember);
        };
        let secret = key32(&record.secret)
            .and_then(|b| AudienceSecret::from_bytes(&b).ok())
            .ok_or(Closed::DoesNotOpen)?;
        let key =
            unwrap_epoch_key(&author, &a.name, a.epoch, wrap, &secret).map_err(|e| match e {
                SealError::DoesNotOpen => Closed::DoesNotOpen,
                _ => Closed::Malformed,
            })?;
        d.epochs
            .insert(epoch_slot(&author, &a.name, a.epoch), hex::encode(key.0));
        if let Err(e) = self.save(&d) {
            tracing::warn!(error = %e, "could not keep an opened epoch key");
        }
        Ok(key)
    }

    /// Opens every epoch this node is a member of that it has not opened
    /// yet (before its secrets are retired, so nothing addressed to it is
    /// lost with them). Returns how many it opened.
    pub fn learn_all(&self, replica: &Replica) -> usize {
        let Ok(current) = replica.current(yui_core::Kind::Audience) else {
            return 0;
        };
        let mut n = 0;
        for c in current {
            let Ok(versions) = replica.history(&c.entry.author, &c.entry.object_id) else {
                continue;
            };
            for v in versions {
                let Body::Audience(a) = &v.entry.body else {
                    continue;
                };
                if self.epoch_key(&v.entry.author, &a.name, a.epoch).is_none()
                    && self.learn(&v).is_ok()
                {
                    n += 1;
                }
            }
        }
        n
    }

    /// The key of one sealed entry: kept per entry, or derived from its
    /// epoch's key (opened from the author's audience entry when first
    /// needed).
    fn content_key_of(
        &self,
        replica: &Replica,
        stored: &StoredEntry,
    ) -> Result<ContentKey, Closed> {
        let e = &stored.entry;
        let sealed = e.sealed.as_ref().ok_or(Closed::Malformed)?;
        let id = stored.id.to_hex();
        {
            let d = self.data.lock().expect("keyring lock");
            if d.withdrawn.contains(&id) {
                return Err(Closed::Withdrawn);
            }
            if let Some(k) = d.entries.get(&id).and_then(|k| key32(k)) {
                return Ok(ContentKey(k));
            }
        }
        if let Some(k) = self.epoch_key(&e.author, &sealed.audience, sealed.epoch) {
            return Ok(content_key(&k, &e.author, e.seq));
        }
        // The epoch must come earlier in the author's log than the entry
        // that uses it.
        let versions = replica
            .history(&e.author, &audience_object_id(&sealed.audience))
            .map_err(|_| Closed::NoSuchEpoch)?;
        let epoch = versions.into_iter().find(|v| {
            v.entry.seq < e.seq
                && matches!(&v.entry.body, Body::Audience(a) if a.epoch == sealed.epoch)
        });
        let Some(epoch) = epoch else {
            return Err(Closed::NoSuchEpoch);
        };
        let key = self.learn(&epoch).map_err(|c| match c {
            // Named in the epoch, but to a key no longer held.
            Closed::NotAMember
                if matches!(&epoch.entry.body, Body::Audience(a)
                    if a.wraps.iter().any(|w| w.node == replica.id())) =>
            {
                Closed::RetiredKey
            }
            c => c,
        })?;
        Ok(content_key(&key, &e.author, e.seq))
    }

    /// Opens `stored`'s sealed part, if any, and merges it into the entry.
    pub fn open(&self, replica: &Replica, stored: &StoredEntry) -> Opened {
        let Some(sealed) = &stored.entry.sealed else {
            return Opened::Public;
        };
        let Ok(parts) = sealed.sealed_parts() else {
            return Opened::Closed(Closed::UnknownPart);
        };
        let key = match self.content_key_of(replica, stored) {
            Ok(k) => k,
            Err(c) => return Opened::Closed(c),
        };
        let e = &stored.entry;
        let Ok(mut fragment) = open(&key, &e.author, e.seq, &e.object_id, sealed) else {
            return Opened::Closed(Closed::DoesNotOpen);
        };
        let merged = replica
            .codec()
            .merge_restricted(&stored.signed.entry, &fragment, &parts);
        zeroize::Zeroize::zeroize(&mut fragment);
        let Ok(merged) = merged else {
            return Opened::Closed(Closed::Malformed);
        };
        // What opens must pass the field rules the public part passed.
        let valid = yui_core::validate::validate_entry(
            &merged,
            stored.signed.entry.len(),
            now_ms().max(merged.created_at),
            replica.limits(),
        );
        if valid.is_err() {
            return Opened::Closed(Closed::Malformed);
        }
        Opened::Open(Box::new(merged))
    }

    /// Withdraws `entries` (their author's sealed versions of withdrawn
    /// objects): their keys go, and every epoch key they were sealed under
    /// goes too, after the keys of that epoch's other entries (`keep`) are
    /// kept one by one. Returns how many epoch keys were deleted.
    pub fn shred(
        &self,
        author: &NodeId,
        entries: &[SealedRef],
        keep: &[SealedRef],
    ) -> Result<usize, KeyringError> {
        let mut d = self.data.lock().expect("keyring lock");
        let epochs: BTreeSet<(String, u32)> = entries
            .iter()
            .map(|e| (e.audience.clone(), e.epoch))
            .collect();
        for k in keep {
            if !epochs.contains(&(k.audience.clone(), k.epoch)) {
                continue;
            }
            let slot = epoch_slot(author, &k.audience, k.epoch);
            if let Some(key) = d.epochs.get(&slot).and_then(|k| key32(k)) {
                let ck = content_key(&EpochKey(key), author, k.seq);
                d.entries.insert(k.id.to_hex(), hex::encode(ck.0));
            }
        }
        let mut deleted = 0;
        for (audience, epoch) in &epochs {
            let slot = epoch_slot(author, audience, *epoch);
            if d.epochs.remove(&slot).is_some() {
                deleted += 1;
            }
            d.shredded.insert(slot);
        }
        for e in entries {
            d.entries.remove(&e.id.to_hex());
            d.withdrawn.insert(e.id.to_hex());
        }
        self.save(&d)?;
        Ok(deleted)
    }
}

fn push_secret(d: &mut Data) {
    let s = AudienceSecret::generate();
    d.secrets.push(SecretRecord {
        public: hex::encode(s.public()),
        secret: hex::encode(s.to_bytes()),
        created_at: now_ms(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> NodeId {
        NodeId::new(yui_core::SecretKey::from_seed(&[n; 32]).public_key())
    }

    fn sealed(n: u8, seq: u64, epoch: u32) -> SealedRef {
        SealedRef {
            id: EntryId([n; 32]),
            seq,
            audience: "partners".into(),
            epoch,
        }
    }

    #[test]
    fn a_withdrawal_deletes_the_epoch_key_and_keeps_the_others_entries_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/audience.json");
        let ring = Keyring::open_file(&path).unwrap();
        let author = id(1);
        let k1 = EpochKey([9; 32]);
        let k2 = EpochKey([8; 32]);
        ring.put_epoch_key(&author, "partners", 1, &k1).unwrap();
        ring.put_epoch_key(&author, "partners", 2, &k2).unwrap();
        let withdrawn = [sealed(1, 5, 1)];
        let keep = [sealed(2, 6, 1), sealed(3, 9, 2)];
        assert_eq!(ring.shred(&author, &withdrawn, &keep).unwrap(), 1);
        assert!(ring.epoch_key(&author, "partners", 1).is_none());
        assert!(ring.epoch_key(&author, "partners", 2).is_some());
        // Reopened from the file: the kept entry has its own key, derived
        // as before; the withdrawn one is marked; epoch 1 is never learned
        // again.
        let again = Keyring::open_file(&path).unwrap();
        let d = again.data.lock().unwrap();
        let kept = d.entries.get(&EntryId([2; 32]).to_hex()).unwrap();
        assert_eq!(kept, &hex::encode(content_key(&k1, &author, 6).0));
        assert!(!d.entries.contains_key(&EntryId([3; 32]).to_hex()));
        assert!(d.withdrawn.contains(&EntryId([1; 32]).to_hex()));
        assert!(d.shredded.contains(&epoch_slot(&author, "partners", 1)));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&hex::encode(k1.0)),
            "the epoch key is gone from the file"
        );
    }

    #[test]
    fn rotating_with_retire_keeps_only_the_new_secret() {
        let ring = Keyring::in_memory();
        let first = ring.public_key();
        let kept = ring.rotate(false).unwrap();
        assert_eq!(ring.secrets(), 2);
        let fresh = ring.rotate(true).unwrap();
        assert_eq!(ring.secrets(), 1);
        assert_ne!(fresh, first);
        assert_ne!(fresh, kept);
        assert_eq!(ring.public_key(), fresh);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audience.json");
        Keyring::open_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
