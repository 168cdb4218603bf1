//! `yui backup` and `yui restore`.
//!
//! A backup is a folder (mode 0700: it holds the node key):
//! - `entries.yuib`: every entry held, as a bundle (the offline-exchange
//!   format), author by author in seq order up to the heads of one snapshot;
//! - `home/`: `config.toml`, `node.key`, `admin.token`, `tls/cert.pem`,
//!   `staff/` (accounts, audit log, webhook key, the desk's place),
//!   `tls/key.pem` (and `node.key.next` during a key rotation);
//! - `manifest.json`, written last: node id, the snapshot's heads, the
//!   trust and peer lists, the entry count and the SHA-256 of
//!   `entries.yuib`. A folder without it is an unfinished backup.
//!
//! Logs are append-only and an entry at (author, seq) never changes, so
//! reading each author's log up to the head taken at the start gives a
//! consistent copy while the node keeps running and syncing.
//!
//! Restore verifies the manifest and checksum, rebuilds the home, puts back
//! trust and peers, imports the entries through the same verification as a
//! peer's (several passes when endorsements must arrive before the keys
//! they vouch for) and writes the publishing hold: the restored node does
//! not publish until a peer shows it holds the newest entries of its own log
//! (`yui hold release` overrides), so a restore never forks the node.

use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use yui_core::NodeId;
use yui_store::{PeerRecord, Store, TrustRecord};
use yui_sync::{now_ms, Replica};

use crate::home::Home;
use crate::progress::{Progress, ProgressView};

/// `manifest.json` of a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `yui-backup-v1`.
    pub format: String,
    /// The node backed up.
    pub node_id: NodeId,
    /// Its name.
    pub name: String,
    /// When the snapshot was taken (Unix ms).
    pub created_at: i64,
    /// yui version that wrote it.
    pub yui_version: String,
    /// Entries in `entries.yuib`.
    pub entries: u64,
    /// Heads of the snapshot: every author's log up to here is in the file.
    pub heads: Vec<(NodeId, u64)>,
    /// Trusted authors.
    pub trust: Vec<(NodeId, TrustRecord)>,
    /// Dialled peers.
    pub peers: Vec<PeerRecord>,
    /// Hex SHA-256 of `entries.yuib`.
    pub entries_sha256: String,
}

/// Format name in every manifest.
pub const FORMAT: &str = "yui-backup-v1";

/// Why a backup or restore failed. A failed backup leaves no manifest; a
/// failed restore leaves the target home as it was when it was refused
/// before writing, or unusable (no `config.toml`) after.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// File system problem.
    #[error("{path}: {error}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        error: std::io::Error,
    },
    /// The target folder is not empty.
    #[error("{0} exists and is not empty; name a new folder")]
    NotEmpty(PathBuf),
    /// Not a complete backup.
    #[error("{path} is not a complete yui backup: {reason}")]
    Invalid {
        /// The backup folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The home already holds a node.
    #[error("{0} already holds a yui node; restore into a new --home (or move the old one away)")]
    HomeExists(PathBuf),
    /// Store problem.
    #[error(transparent)]
    Store(#[from] yui_store::StoreError),
    /// Replica problem.
    #[error(transparent)]
    Replica(#[from] yui_sync::ReplicaError),
    /// Bundle problem.
    #[error(transparent)]
    Bundle(#[from] yui_net::bundle::BundleError),
    /// Node start-up problem.
    #[error(transparent)]
    Start(#[from] crate::node::StartError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |error| BackupError::Io {
        path: path.to_owned(),
        error,
    }
}

/// Home files a backup carries (relative paths), and whether each is secret.
fn home_files(home: &Home) -> Vec<(PathBuf, bool)> {
    let root = home.root();
    let rel = |p: PathBuf| p.strip_prefix(root).expect("inside home").to_owned();
    vec![
        (rel(home.config_path()), false),
        (rel(home.key_path()), true),
        (rel(home.next_key_path()), true),
        (rel(home.token_path()), true),
        (rel(home.cert_path()), false),
        (rel(home.tls_key_path()), true),
        // Staff accounts, the audit log, the webhook key, the desk's place.
        (rel(home.staff_dir().join("users.json")), true),
        (rel(home.staff_dir().join("audit.jsonl")), true),
        (rel(home.staff_dir().join("webhook.key")), true),
        (rel(home.staff_dir().join("desk.json")), false),
        (rel(home.keyring_path()), true),
    ]
}

fn create_file(path: &Path, secret: bool) -> Result<std::fs::File, BackupError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)
        .map_err(io(path))
}

fn sync_dir(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io(path))
}

/// Counts bytes into a SHA-256 on their way to a writer.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a backup of the running node's `replica` and `home` into `dir`
/// (created; must not exist or be empty). Blocking: run it off the reactor.
pub fn write_backup(
    home: &Home,
    name: &str,
    replica: &Replica,
    dir: &Path,
    progress: &Progress,
) -> Result<Manifest, BackupError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        if entries.next().is_some() {
            return Err(BackupError::NotEmpty(dir.to_owned()));
        }
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir.join("home").join("tls"))
        .map_err(io(dir))?;
    let store = replica.store();
    let created_at = now_ms();
    // The snapshot: every log up to these heads goes into the file.
    let heads: Vec<(NodeId, u64)> = store
        .heads()?
        .into_iter()
        .map(|(a, h)| (a, h.seq))
        .collect();
    let total: u64 = heads.iter().map(|(_, s)| s).sum();
    let task = progress.start("backup", Some(total));
    let path = dir.join("entries.yuib");
    let file = create_file(&path, false)?;
    let out = Hashing {
        inner: BufWriter::with_capacity(1 << 20, file),
        hash: Sha256::new(),
    };
    let info = yui_net::bundle::BundleInfo {
        exporter: replica.id(),
        created_at,
        since: Vec::new(),
    };
    let mut w = yui_net::bundle::Writer::new(out, &info, total).map_err(io(&path))?;
    for (author, head) in &heads {
        let mut next = 1;
        while next <= *head {
            let want = (*head - next + 1).min(4096) as usize;
            let chunk = store.range(author, next, want)?;
            if chunk.is_empty() {
                return Err(yui_store::StoreError::Corrupt(format!(
                    "log of {author} ends at {} below its head {head}; run `yui check`",
                    next - 1
                ))
                .into());
            }
            for e in &chunk {
                w.push(e).map_err(io(&path))?;
            }
            next += chunk.len() as u64;
            task.add(chunk.len() as u64);
        }
    }
    let out = w.finish().map_err(io(&path))?;
    let entries_sha256 = hex::encode(out.hash.finalize());
    out.inner
        .into_inner()
        .map_err(|e| io(&path)(e.into_error()))?
        .sync_all()
        .map_err(io(&path))?;
    for (rel, secret) in home_files(home) {
        let from = home.root().join(&rel);
        if !from.exists() {
            continue;
        }
        let to = dir.join("home").join(&rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let bytes = std::fs::read(&from).map_err(io(&from))?;
        let mut f = create_file(&to, secret)?;
        f.write_all(&bytes).map_err(io(&to))?;
        f.sync_all().map_err(io(&to))?;
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        node_id: replica.id(),
        name: name.to_owned(),
        created_at,
        yui_version: env!("CARGO_PKG_VERSION").into(),
        entries: total,
        heads,
        trust: store.trust_list()?,
        peers: store.peer_list()?,
        entries_sha256,
    };
    let tmp = dir.join("manifest.json.tmp");
    let mut f = create_file(&tmp, false)?;
    f.write_all(&serde_json::to_vec_pretty(&manifest).expect("manifest serialises"))
        .map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    let path = dir.join("manifest.json");
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    sync_dir(dir)?;
    Ok(manifest)
}

/// Reads and checks a backup's manifest and the checksum of its entries.
pub fn verify_backup(dir: &Path) -> Result<Manifest, BackupError> {
    let invalid = |reason: String| BackupError::Invalid {
        path: dir.to_owned(),
        reason,
    };
    let path = dir.join("manifest.json");
    let text = std::fs::read(&path)
        .map_err(|e| invalid(format!("no manifest.json ({e}); the backup did not finish")))?;
    let m: Manifest =
        serde_json::from_slice(&text).map_err(|e| invalid(format!("manifest.json: {e}")))?;
    if m.format != FORMAT {
        return Err(invalid(format!("format {:?}, expected {FORMAT}", m.format)));
    }
    let path = dir.join("entries.yuib");
    let mut f = std::fs::File::open(&path).map_err(io(&path))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io(&path))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    if hex::encode(hash.finalize()) != m.entries_sha256 {
        return Err(invalid(
            "entries.yuib does not match its checksum (damaged or changed)".into(),
        ));
    }
    for rel in ["config.toml", "node.key", "admin.token"] {
        if !dir.join("home").join(rel).exists() {
            return Err(invalid(format!("home/{rel} is missing")));
        }
    }
    Ok(m)
}

/// What a restore did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Restored {
    /// The node restored.
    pub node_id: NodeId,
    /// Entries in the backup.
    pub entries: u64,
    /// Entries stored.
    pub accepted: u64,
    /// Entries refused (with the first reason).
    pub refused: u64,
    /// First refusal.
    pub first_refusal: Option<String>,
    /// Passes over the file.
    pub passes: u32,
}

/// Restores the backup in `dir` into `home`, which must not hold a node.
/// `report` is called about once a second with the progress. Blocking.
pub fn restore(
    dir: &Path,
    home: &Home,
    report: &mut dyn FnMut(&ProgressView),
) -> Result<Restored, BackupError> {
    let m = verify_backup(dir)?;
    if home.key_path().exists() || home.data_path().exists() {
        return Err(BackupError::HomeExists(home.root().to_owned()));
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(home.root().join("tls"))
        .map_err(io(home.root()))?;
    // Before anything else, durably: the marker that keeps a home cut short
    // from starting, and the publishing hold. Nothing written after them can
    // make a startable home that publishes (a self-fork).
    home.mark_restoring()
        .and_then(|()| home.write_hold(None))
        .map_err(crate::node::StartError::from)?;
    if let Some(parent) = home.root().parent() {
        sync_dir(parent)?;
    }
    // config.toml last: until it exists the home is not a usable node.
    let mut files = home_files(home);
    files.rotate_left(1);
    for (rel, secret) in files {
        let from = dir.join("home").join(&rel);
        if !from.exists() {
            continue;
        }
        let to = home.root().join(&rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let bytes = std::fs::read(&from).map_err(io(&from))?;
        let mut f = create_file(&to, secret)?;
        f.write_all(&bytes).map_err(io(&to))?;
        f.sync_all().map_err(io(&to))?;
    }
    let config = home.load_config().map_err(crate::node::StartError::from)?;
    let (store, replica) = crate::node::open_replica(home, &config)?;
    if replica.id() != m.node_id {
        return Err(BackupError::Invalid {
            path: dir.to_owned(),
            reason: format!(
                "its node key is {} but the manifest names {}",
                replica.id(),
                m.node_id
            ),
        });
    }
    // Through the replica, which keeps the effective trust in memory.
    let trust: Vec<(NodeId, String)> = m
        .trust
        .iter()
        .map(|(id, r)| (*id, r.name.clone()))
        .collect();
    replica.trust_add_many(&trust)?;
    for p in &m.peers {
        store.peer_put(p)?;
    }
    let mut out = Restored {
        node_id: m.node_id,
        entries: m.entries,
        accepted: 0,
        refused: 0,
        first_refusal: None,
        passes: 0,
    };
    // Endorsed keys become trusted only once the endorsement is stored:
    // another pass picks up what the previous one unlocked.
    let progress = Progress::default();
    let task = progress.start("restore", Some(m.entries));
    let mut last_report = std::time::Instant::now();
    loop {
        out.passes += 1;
        let mut accepted_this_pass = 0;
        let mut refused_this_pass = 0;
        let mut first_refusal = None;
        let path = dir.join("entries.yuib");
        let f = std::fs::File::open(&path).map_err(io(&path))?;
        let (mut reader, _, _) =
            yui_net::bundle::Reader::open(BufReader::with_capacity(1 << 20, f))?;
        // Batches read on the preparing thread, signatures of the next
        // checked while the one before is stored (`ingest_pipelined`); a
        // read error ends the batches and is returned after them.
        let read_error: std::sync::Mutex<Option<yui_net::bundle::BundleError>> =
            std::sync::Mutex::new(None);
        let malformed_total = std::sync::atomic::AtomicU64::new(0);
        let batches = std::iter::from_fn(|| loop {
            match reader.next_batch(1024) {
                Ok((batch, malformed)) => {
                    malformed_total
                        .fetch_add(malformed as u64, std::sync::atomic::Ordering::Relaxed);
                    if batch.is_empty() && malformed == 0 {
                        return None;
                    }
                    if !batch.is_empty() {
                        return Some(batch);
                    }
                }
                Err(e) => {
                    *read_error.lock().expect("read error") = Some(e);
                    return None;
                }
            }
        });
        replica.ingest_pipelined(batches, true, |r| {
            accepted_this_pass += r.accepted as u64;
            refused_this_pass += r.refused.len() as u64;
            if first_refusal.is_none() {
                first_refusal = r.refused.first().map(|e| e.to_string());
            }
            task.add(r.accepted as u64);
            if last_report.elapsed() >= std::time::Duration::from_secs(1) {
                report(&task.view());
                last_report = std::time::Instant::now();
            }
        })?;
        if let Some(e) = read_error.into_inner().expect("read error") {
            return Err(e.into());
        }
        refused_this_pass += malformed_total.into_inner();
        out.accepted += accepted_this_pass;
        out.refused = refused_this_pass;
        out.first_refusal = first_refusal;
        if refused_this_pass == 0 || accepted_this_pass == 0 || out.passes > 10 {
            break;
        }
    }
    report(&task.view());
    store.flush()?;
    sync_dir(home.root())?;
    // Hold publishing until a peer that holds the own log at least as far
    // as the backup shows this node has its newest entries.
    let floor = store.head(&m.node_id)?.map_or(0, |h| h.seq);
    home.write_hold(Some(floor))
        .map_err(crate::node::StartError::from)?;
    drop(replica);
    drop(store);
    // Last: the home may start now (held).
    let marker = home.restoring_path();
    std::fs::remove_file(&marker).map_err(io(&marker))?;
    sync_dir(home.root())?;
    Ok(out)
}
