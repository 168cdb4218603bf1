//! The audit log: who signed in, published, updated or retracted what,
//! when and from which address. One JSON object per line in
//! `HOME/staff/audit.jsonl`, appended and flushed to disk before the
//! action is answered; admins read it in the workspace.

use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Unix ms.
    pub at: i64,
    /// Account name (empty for a failed sign-in of an unknown name).
    pub user: String,
    /// `sign_in`, `sign_in_failed`, `sign_out`, `publish`, `update`,
    /// `retract`, `refused`.
    pub action: String,
    /// Kind of entry, when one was published.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Object id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object_id: String,
    /// Entry id (hex).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub entry: String,
    /// Client address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<IpAddr>,
    /// Anything else (the reason of a refusal).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The log file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    lock: Mutex<()>,
}

impl AuditLog {
    /// The log in `staff_dir`.
    pub fn open(staff_dir: &Path) -> Self {
        Self {
            path: staff_dir.join("audit.jsonl"),
            lock: Mutex::new(()),
        }
    }

    /// Appends `r` and flushes it to disk.
    pub fn append(&self, r: &Record) -> std::io::Result<()> {
        let _g = self.lock.lock().expect("audit lock");
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let mut line = serde_json::to_vec(r).map_err(std::io::Error::other)?;
        line.push(b'\n');
        f.write_all(&line)?;
        f.sync_data()
    }

    /// The newest `n` records, newest first.
    pub fn tail(&self, n: usize) -> std::io::Result<Vec<Record>> {
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut ring = std::collections::VecDeque::with_capacity(n.min(10_000));
        for line in std::io::BufReader::new(f).lines() {
            let line = line?;
            // A line torn by a crash is skipped, not fatal.
            if let Ok(r) = serde_json::from_str::<Record>(&line) {
                if ring.len() == n {
                    ring.pop_front();
                }
                ring.push_back(r);
            }
        }
        Ok(ring.into_iter().rev().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::open(dir.path());
        for i in 0..5 {
            log.append(&Record {
                at: i,
                user: "yamada".into(),
                action: "publish".into(),
                kind: "aid".into(),
                object_id: format!("aid-{i}"),
                entry: String::new(),
                addr: "127.0.0.1".parse().ok(),
                detail: String::new(),
            })
            .expect("append");
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("audit.jsonl"))
            .and_then(|mut f| f.write_all(b"{\"torn"))
            .expect("torn line");
        let t = log.tail(2).expect("tail");
        assert_eq!(t.iter().map(|r| r.at).collect::<Vec<_>>(), vec![4, 3]);
    }
}
