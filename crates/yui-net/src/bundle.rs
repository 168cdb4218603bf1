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
    let header = pb::BundleHeader {
        version: 1,
        exporter: info.exporter.as_bytes().to_vec(),
        created_at: info.created_at,
        entries: entries.len() as u64,
        since: info
            .since
            .iter()
            .map(|(a, s)| pb::Head {
                author: a.as_bytes().to_vec(),
                seq: *s,
            })
            .collect(),
    };
    let mut out = MAGIC.to_vec();
    header.encode_length_delimited(&mut out).expect("vec grows");
    for e in entries {
        signed_to_pb(e)
            .encode_length_delimited(&mut out)
            .expect("vec grows");
    }
    out
}

fn damaged(e: impl std::fmt::Display) -> BundleError {
    BundleError::Damaged(e.to_string())
}

/// Reads a bundle. Entries whose signature field is malformed are returned
/// as a count (they cannot even be offered for verification).
pub fn read(bytes: &[u8]) -> Result<(BundleInfo, Vec<SignedEntry>, usize), BundleError> {
    let mut rest = bytes.strip_prefix(MAGIC).ok_or(BundleError::Magic)?;
    let header = pb::BundleHeader::decode_length_delimited(&mut rest).map_err(damaged)?;
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
    // The count comes from the file: never trust it for an allocation.
    let mut entries = Vec::with_capacity((header.entries as usize).min(bytes.len() / 64 + 1));
    let mut malformed = 0;
    for i in 0..header.entries {
        let len = prost::encoding::decode_varint(&mut rest)
            .map_err(|_| damaged(format!("entry {i}: cut short")))? as usize;
        if len > MAX_RECORD {
            return Err(damaged(format!(
                "entry {i} claims {len} bytes, over {MAX_RECORD}"
            )));
        }
        if rest.len() < len {
            return Err(damaged(format!("entry {i}: cut short")));
        }
        let (record, tail) = rest.split_at(len);
        rest = tail;
        let s = pb::SignedEntry::decode(record).map_err(|e| damaged(format!("entry {i}: {e}")))?;
        match signed_from_pb(s) {
            Ok(s) => entries.push(s),
            Err(_) => malformed += 1,
        }
    }
    if !rest.is_empty() {
        return Err(damaged(format!(
            "{} bytes after the last entry",
            rest.len()
        )));
    }
    Ok((
        BundleInfo {
            exporter,
            created_at: header.created_at,
            since,
        },
        entries,
        malformed,
    ))
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
