//! Offline bundles: signed entries in a file, for offices whose network is
//! cut off or whose rules let only files through.
//!
//! Format: `yui-bundle-v1\n`, a length-delimited `BundleHeader`, then
//! `entries` length-delimited `SignedEntry` messages. The reader checks the
//! magic, the header, every length against limits, and the count; the
//! entries themselves are then verified by `Replica::ingest` exactly as if
//! they had come from a peer.

use prost::Message;
use yui_core::{NodeId, SignedEntry};
use yui_proto::v1 as pb;

use crate::codec::{node_id_from_pb, signed_from_pb, signed_to_pb};

/// First bytes of every bundle.
pub const MAGIC: &[u8] = b"yui-bundle-v1\n";

/// Largest single entry record accepted in a bundle.
const MAX_RECORD: usize = 1024 * 1024;

/// Why a bundle could not be read. Nothing was imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a yui bundle.
    #[error("not a yui bundle (the file does not start with \"yui-bundle-v1\")")]
    Magic,
    /// Cut short or damaged.
    #[error("bundle is damaged: {0}")]
    Damaged(String),
}

/// What a bundle's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleInfo {
    /// Who wrote it.
    pub exporter: NodeId,
    /// When (Unix ms).
    pub created_at: i64,
    /// Heads it starts after.
    pub since: Vec<(NodeId, u64)>,
}

/// Writes a bundle of `entries`.
pub fn write(info: &BundleInfo, entries: &[SignedEntry]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), info, entries.len() as u64).expect("vec grows");
    for e in entries {
        w.push(e).expect("vec grows");
    }
    w.finish().expect("every announced entry written")
}

fn damaged(e: impl std::fmt::Display) -> BundleError {
    BundleError::Damaged(e.to_string())
}

/// Reads a bundle. Entries whose signature field is malformed are returned
/// as a count (they cannot even be offered for verification).
pub fn read(bytes: &[u8]) -> Result<(BundleInfo, Vec<SignedEntry>, usize), BundleError> {
    let (mut reader, info, _) = Reader::open(bytes)?;
    let mut entries = Vec::new();
    let mut malformed = 0;
    loop {
        let (batch, bad) = reader.next_batch(4096)?;
        if batch.is_empty() && bad == 0 {
            break;
        }
        entries.extend(batch);
        malformed += bad;
    }
    Ok((info, entries, malformed))
}

/// Writes a bundle to `out` one entry at a time (backups of a whole store),
/// so memory stays flat however many entries it holds.
pub struct Writer<W: std::io::Write> {
    out: W,
    left: u64,
    buf: Vec<u8>,
}

impl<W: std::io::Write> Writer<W> {
    /// Writes the magic and the header announcing `count` entries.
    pub fn new(mut out: W, info: &BundleInfo, count: u64) -> std::io::Result<Self> {
        let header = pb::BundleHeader {
            version: 1,
            exporter: info.exporter.as_bytes().to_vec(),
            created_at: info.created_at,
            entries: count,
            since: info
                .since
                .iter()
                .map(|(a, s)| pb::Head {
                    author: a.as_bytes().to_vec(),
                    seq: *s,
                })
                .collect(),
        };
        out.write_all(MAGIC)?;
        out.write_all(&header.encode_length_delimited_to_vec())?;
        Ok(Self {
            out,
            left: count,
            buf: Vec::new(),
        })
    }

    /// Appends one entry.
    pub fn push(&mut self, e: &SignedEntry) -> std::io::Result<()> {
        if self.left == 0 {
            return Err(std::io::Error::other(
                "more entries than the header announced",
            ));
        }
        self.left -= 1;
        self.buf.clear();
        signed_to_pb(e)
            .encode_length_delimited(&mut self.buf)
            .expect("vec grows");
        self.out.write_all(&self.buf)
    }

    /// Checks every announced entry was written and returns the output.
    pub fn finish(mut self) -> std::io::Result<W> {
        if self.left != 0 {
            return Err(std::io::Error::other(format!(
                "{} announced entries were not written",
                self.left
            )));
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a bundle from `input` in batches, with the same checks as [`read`].
pub struct Reader<R: std::io::Read> {
    input: R,
    left: u64,
    index: u64,
    record: Vec<u8>,
}

fn read_varint(r: &mut impl std::io::Read, what: &str) -> Result<u64, BundleError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let mut b = [0u8];
        r.read_exact(&mut b)
            .map_err(|_| damaged(format!("{what}: cut short")))?;
        value |= u64::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(damaged(format!("{what}: bad length")))
}

impl<R: std::io::Read> Reader<R> {
    /// Reads the magic and the header; returns the reader, what the header
    /// says and how many entries it announces.
    pub fn open(mut input: R) -> Result<(Self, BundleInfo, u64), BundleError> {
        let mut magic = [0u8; MAGIC.len()];
        input
            .read_exact(&mut magic)
            .map_err(|_| BundleError::Magic)?;
        if magic != MAGIC {
            return Err(BundleError::Magic);
        }
        let len = read_varint(&mut input, "header")? as usize;
        if len > MAX_RECORD {
            return Err(damaged(format!("header claims {len} bytes")));
        }
        let mut header = vec![0; len];
        input
            .read_exact(&mut header)
            .map_err(|_| damaged("header: cut short"))?;
        let header = pb::BundleHeader::decode(header.as_slice()).map_err(damaged)?;
        if header.version != 1 {
            return Err(BundleError::Damaged(format!(
                "unknown bundle version {}",
                header.version
            )));
        }
        let exporter = node_id_from_pb(&header.exporter, "exporter").map_err(damaged)?;
        let since = header
            .since
            .iter()
            .map(|h| Ok((node_id_from_pb(&h.author, "since").map_err(damaged)?, h.seq)))
            .collect::<Result<Vec<_>, BundleError>>()?;
        let info = BundleInfo {
            exporter,
            created_at: header.created_at,
            since,
        };
        Ok((
            Self {
                input,
                left: header.entries,
                index: 0,
                record: Vec::new(),
            },
            info,
            header.entries,
        ))
    }

    /// Up to `max` more entries and how many of them were malformed; an
    /// empty batch at the end. Checks that nothing follows the last entry.
    pub fn next_batch(&mut self, max: usize) -> Result<(Vec<SignedEntry>, usize), BundleError> {
        // The count comes from the file: never trust it for an allocation.
        let mut out = Vec::with_capacity(max.min(self.left as usize).min(4096));
        let mut malformed = 0;
        while self.left > 0 && out.len() + malformed < max {
            let i = self.index;
            let len = read_varint(&mut self.input, &format!("entry {i}"))? as usize;
            if len > MAX_RECORD {
                return Err(damaged(format!(
                    "entry {i} claims {len} bytes, over {MAX_RECORD}"
                )));
            }
            self.record.resize(len, 0);
            self.input
                .read_exact(&mut self.record)
                .map_err(|_| damaged(format!("entry {i}: cut short")))?;
            let s = pb::SignedEntry::decode(self.record.as_slice())
                .map_err(|e| damaged(format!("entry {i}: {e}")))?;
            match signed_from_pb(s) {
                Ok(s) => out.push(s),
                Err(_) => malformed += 1,
            }
            self.left -= 1;
            self.index += 1;
        }
        if self.left == 0 && out.is_empty() && malformed == 0 {
            let mut probe = [0u8];
            if matches!(self.input.read(&mut probe), Ok(n) if n > 0) {
                return Err(damaged("bytes after the last entry"));
            }
        }
        Ok((out, malformed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yui_core::SecretKey;

    fn sample() -> (BundleInfo, Vec<SignedEntry>) {
        let k = SecretKey::from_seed(&[3; 32]);
        let info = BundleInfo {
            exporter: NodeId::new(k.public_key()),
            created_at: 5,
            since: vec![(NodeId::new(k.public_key()), 2)],
        };
        let entries = (0..5)
            .map(|i| SignedEntry::sign(vec![i; 10 + i as usize], &k))
            .collect();
        (info, entries)
    }

    #[test]
    fn round_trip() {
        let (info, entries) = sample();
        let bytes = write(&info, &entries);
        assert_eq!(read(&bytes).unwrap(), (info, entries, 0));
    }

    #[test]
    fn streaming_round_trip_and_damage() {
        let (info, entries) = sample();
        let mut w = Writer::new(Vec::new(), &info, entries.len() as u64).unwrap();
        for e in &entries {
            w.push(e).unwrap();
        }
        let bytes = w.finish().unwrap();
        assert_eq!(bytes, write(&info, &entries), "same bytes as write()");
        let (mut r, got_info, n) = Reader::open(bytes.as_slice()).unwrap();
        assert_eq!((got_info, n), (info.clone(), 5));
        let mut got = Vec::new();
        loop {
            let (batch, malformed) = r.next_batch(2).unwrap();
            assert_eq!(malformed, 0);
            if batch.is_empty() {
                break;
            }
            got.extend(batch);
        }
        assert_eq!(got, entries);
        for cut in [MAGIC.len() + 3, bytes.len() - 1, bytes.len() - 20] {
            let r = Reader::open(&bytes[..cut]).and_then(|(mut r, _, _)| loop {
                if r.next_batch(100)?.0.is_empty() {
                    break Ok(());
                }
            });
            assert!(r.is_err(), "truncation at {cut} not detected");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        let (mut r, _, _) = Reader::open(extra.as_slice()).unwrap();
        assert_eq!(r.next_batch(10).unwrap().0.len(), 5);
        assert!(r.next_batch(10).is_err(), "trailing byte not detected");
        let mut short = Writer::new(Vec::new(), &info, 2).unwrap();
        short.push(&entries[0]).unwrap();
        assert!(short.finish().is_err());
    }

    #[test]
    fn damage_is_detected() {
        let (info, entries) = sample();
        let bytes = write(&info, &entries);
        assert!(matches!(
            read(b"PK\x03\x04zipfile"),
            Err(BundleError::Magic)
        ));
        for cut in [MAGIC.len() + 3, bytes.len() - 1, bytes.len() - 20] {
            assert!(
                read(&bytes[..cut]).is_err(),
                "truncation at {cut} not detected"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(read(&extra).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend(tail);
            let _ = read(&bytes);
        }
    }
}
