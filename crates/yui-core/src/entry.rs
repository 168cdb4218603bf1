//! The signed log entry: [`Entry`] (what an author says), [`SignedEntry`]
//! (the exact bytes and the signature over them) and [`EntryId`].

use std::fmt;

use sha2::{Digest, Sha256};

use crate::content::{Body, Kind};
use crate::keys::{entry_signing_message, SecretKey, Signature, VerifyError};
use crate::node_id::NodeId;
use crate::UnixMillis;

/// SHA-256 of a [`SignedEntry`]'s canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(pub [u8; 32]);

impl EntryId {
    /// Reads exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// Lower-case hex, the text form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryId({})", &self.to_hex()[..12])
    }
}

impl std::str::FromStr for EntryId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = hex::decode(s).map_err(|e| format!("entry id is not hex: {e}"))?;
        Self::from_slice(&bytes).ok_or_else(|| "entry id must be 32 bytes (64 hex digits)".into())
    }
}

impl serde::Serialize for EntryId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for EntryId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The contiguous head of an author's log: the highest `seq` held with every
/// lower one, and that entry's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Highest contiguous sequence number (1-based).
    pub seq: u64,
    /// Id of the entry at `seq`.
    pub id: EntryId,
}

/// One entry of an author's append-only log, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Who wrote it.
    pub author: NodeId,
    /// 1, 2, 3, … per author.
    pub seq: u64,
    /// Id of the author's entry at `seq - 1` (`None` at seq 1).
    pub prev: Option<EntryId>,
    /// When the author made it.
    pub created_at: UnixMillis,
    /// When it goes stale, if ever.
    pub expires_at: Option<UnixMillis>,
    /// The object this entry creates or updates.
    pub object_id: String,
    /// Parts only an audience may read (see [`crate::audience`]).
    pub sealed: Option<crate::audience::Sealed>,
    /// What it says.
    pub body: Body,
}

impl Entry {
    /// The body's kind.
    pub fn kind(&self) -> Kind {
        self.body.kind()
    }
}

/// An entry's bytes exactly as the author encoded them, and the author's
/// signature over `b"yui/entry/v1\0" || entry`.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedEntry {
    /// The protobuf encoding of [`Entry`] as produced by the author.
    pub entry: Vec<u8>,
    /// ed25519 signature by the author.
    pub signature: Signature,
}

impl fmt::Debug for SignedEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedEntry")
            .field("id", &self.id())
            .field("len", &self.entry.len())
            .finish()
    }
}

/// Why stored canonical bytes did not parse as a [`SignedEntry`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a canonical SignedEntry encoding: {0}")]
pub struct CanonicalFormError(&'static str);

impl SignedEntry {
    /// Signs `entry` bytes with `key`.
    pub fn sign(entry: Vec<u8>, key: &SecretKey) -> Self {
        let signature = key.sign(&entry_signing_message(&entry));
        Self { entry, signature }
    }

    /// Checks the signature alone (see [`crate::keys::BatchVerifier`] for
    /// batches, which give the same verdict).
    pub fn verify(&self, author: &NodeId) -> Result<(), VerifyError> {
        author
            .public_key()
            .verify(&entry_signing_message(&self.entry), &self.signature)
    }

    /// The canonical encoding: protobuf field 1 (entry) then field 2
    /// (signature), nothing else. Every protobuf library writes exactly this
    /// for a `SignedEntry`, so any language can recompute the id. As proto3
    /// requires, an empty `entry` (never a valid one) is left out.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entry.len() + 80);
        if !self.entry.is_empty() {
            out.push(0x0a);
            put_varint(&mut out, self.entry.len() as u64);
            out.extend_from_slice(&self.entry);
        }
        out.push(0x12);
        put_varint(&mut out, 64);
        out.extend_from_slice(&self.signature.0);
        out
    }

    /// Parses [`SignedEntry::encode`] output (as a store keeps it).
    pub fn decode_canonical(bytes: &[u8]) -> Result<Self, CanonicalFormError> {
        let (entry, rest) = match bytes.strip_prefix(&[0x0a]) {
            Some(rest) => {
                let (len, rest) = get_varint(rest).ok_or(CanonicalFormError("bad length"))?;
                let len = usize::try_from(len).map_err(|_| CanonicalFormError("bad length"))?;
                if rest.len() < len {
                    return Err(CanonicalFormError("truncated entry"));
                }
                rest.split_at(len)
            }
            None => (&[][..], bytes),
        };
        let sig = rest
            .strip_prefix(&[0x12, 64])
            .ok_or(CanonicalFormError("missing field 2"))?;
        let signature =
            Signature::from_slice(sig).map_err(|_| CanonicalFormError("bad signature length"))?;
        Ok(Self {
            entry: entry.to_vec(),
            signature,
        })
    }

    /// SHA-256 of [`SignedEntry::encode`].
    pub fn id(&self) -> EntryId {
        let mut h = Sha256::new();
        // The same bytes as `encode`, hashed without copying the entry.
        if !self.entry.is_empty() {
            let mut prefix = Vec::with_capacity(12);
            prefix.push(0x0a);
            put_varint(&mut prefix, self.entry.len() as u64);
            h.update(&prefix);
            h.update(&self.entry);
        }
        h.update([0x12, 64]);
        h.update(self.signature.0);
        EntryId(h.finalize().into())
    }
}

/// Protobuf varints, by prost's own encoding functions.
fn put_varint(out: &mut Vec<u8>, v: u64) {
    prost::encoding::encode_varint(v, out);
}

fn get_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut rest = bytes;
    let v = prost::encoding::decode_varint(&mut rest).ok()?;
    Some((v, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn canonical_encoding_round_trips(entry: Vec<u8>, seed: [u8; 32]) {
            let key = SecretKey::from_seed(&seed);
            let s = SignedEntry::sign(entry, &key);
            let bytes = s.encode();
            let back = SignedEntry::decode_canonical(&bytes).unwrap();
            prop_assert_eq!(&back, &s);
            let direct: [u8; 32] = Sha256::digest(&bytes).into();
            prop_assert_eq!(s.id().0, direct);
            prop_assert!(s.verify(&NodeId::new(key.public_key())).is_ok());
        }

        #[test]
        fn decode_canonical_never_panics(bytes: Vec<u8>) {
            let _ = SignedEntry::decode_canonical(&bytes);
        }
    }

    #[test]
    fn tampered_bytes_fail_verification() {
        let key = SecretKey::from_seed(&[9; 32]);
        let mut s = SignedEntry::sign(b"hello".to_vec(), &key);
        s.entry[0] ^= 1;
        assert!(s.verify(&NodeId::new(key.public_key())).is_err());
    }
}
