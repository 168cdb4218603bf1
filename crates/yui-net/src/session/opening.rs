//! The opening exchange of a session: the dialer's Want (a list, or a
//! protocol-3 summary of its heads) and the listener's answer with only the
//! difference (protocol 2), as docs/PROTOCOL.md section 6 describes.

use std::collections::{HashMap, HashSet};

use yui_core::NodeId;
use yui_proto::v1 as pb;

use super::{msg, want, SessionError};

/// Protocol 2: the listener's answer to the dialer's opening Want, only the
/// difference (see `Want` in federation.proto).
pub(super) fn want_reply(heads: Vec<(NodeId, u64)>, declined: Vec<NodeId>) -> pb::SyncMessage {
    let mut m = want(heads);
    if let Some(pb::sync_message::Kind::Want(w)) = &mut m.kind {
        w.reply = true;
        w.declined = declined.iter().map(|a| a.as_bytes().to_vec()).collect();
    }
    m
}

/// The listener's reply to `opening` (the dialer's heads): authors this
/// node wants at another head or that the dialer did not name, and the
/// named authors it does not want.
pub(super) fn diff_want(
    mine: &[(NodeId, u64)],
    opening: &[(NodeId, u64)],
) -> (Vec<(NodeId, u64)>, Vec<NodeId>) {
    let mine_map: HashMap<NodeId, u64> = mine.iter().copied().collect();
    let named: HashMap<NodeId, u64> = opening.iter().copied().collect();
    let declined = opening
        .iter()
        .filter(|(a, _)| !mine_map.contains_key(a))
        .map(|(a, _)| *a)
        .collect();
    let heads = mine
        .iter()
        .filter(|(a, seq)| named.get(a) != Some(seq))
        .copied()
        .collect();
    (heads, declined)
}

/// The dialer's view of a protocol-2 reply: the full list of what the
/// listener wants.
pub(super) fn expand_reply(
    opening: &[(NodeId, u64)],
    heads: &[(NodeId, u64)],
    declined: &HashSet<NodeId>,
) -> Vec<(NodeId, u64)> {
    let stated: HashMap<NodeId, u64> = heads.iter().copied().collect();
    let mut out: Vec<(NodeId, u64)> = opening
        .iter()
        .filter(|(a, _)| !declined.contains(a) && !stated.contains_key(a))
        .copied()
        .collect();
    out.extend_from_slice(heads);
    out
}

/// Protocol 3: an opening Want of this many authors or more summarises its
/// heads (below, the list is smaller than a summary).
pub const SUMMARY_FROM: usize = 256;
/// Protocol 3: authors per summary bucket, about.
const SUMMARY_PER_BUCKET: usize = 128;
/// Protocol 3: at most 2^12 buckets.
const MAX_SUMMARY_BITS: u32 = 12;
/// Bytes of a bucket's fingerprint.
const FINGERPRINT_BYTES: usize = 16;

/// Bucket bits for a summary of `n` authors.
pub(super) fn summary_bits(n: usize) -> u32 {
    n.div_ceil(SUMMARY_PER_BUCKET)
        .next_power_of_two()
        .trailing_zeros()
        .min(MAX_SUMMARY_BITS)
}

/// The bucket of `author` among 2^bits.
pub(super) fn bucket(author: &NodeId, bits: u32) -> usize {
    let b = author.as_bytes();
    if bits == 0 {
        0
    } else {
        usize::from(u16::from_be_bytes([b[0], b[1]]) >> (16 - bits))
    }
}

/// Each bucket's fingerprint: the XOR of its authors' head hashes, so equal
/// fingerprints mean (but for a 2^-128 chance) the same authors at the same
/// seqs.
pub(super) fn summarize(list: &[(NodeId, u64)], bits: u32) -> Vec<[u8; FINGERPRINT_BYTES]> {
    use sha2::Digest;
    let mut fps = vec![[0u8; FINGERPRINT_BYTES]; 1 << bits];
    for (a, seq) in list {
        let h = sha2::Sha256::new()
            .chain_update(b"yui/heads/v1\0")
            .chain_update(a.as_bytes())
            .chain_update(seq.to_be_bytes())
            .finalize();
        let fp = &mut fps[bucket(a, bits)];
        for (x, y) in fp.iter_mut().zip(&h[..FINGERPRINT_BYTES]) {
            *x ^= y;
        }
    }
    fps
}

/// Protocol 3: the dialer's opening Want as a summary of `list`.
pub(super) fn summary_want(list: &[(NodeId, u64)], bits: u32) -> pb::SyncMessage {
    msg(pb::sync_message::Kind::Want(pb::Want {
        summary: Some(pb::HeadSummary {
            bits,
            fingerprints: summarize(list, bits).iter().map(|f| f.to_vec()).collect(),
        }),
        ..Default::default()
    }))
}

/// Which of 2^bits buckets differ, as flags.
pub(super) fn differing(bits: u32, differ: &[u32]) -> Result<Vec<bool>, SessionError> {
    let mut flags = vec![false; 1 << bits];
    for &i in differ {
        let Some(f) = flags.get_mut(i as usize) else {
            return Err(SessionError::Protocol(format!(
                "want.differ names bucket {i} of {}",
                1u32 << bits
            )));
        };
        *f = true;
    }
    Ok(flags)
}

/// Protocol 3, listener: its answer to the dialer's summary — the buckets
/// that differ and its own wants in them — and what the dialer wants
/// everywhere else (this node's own heads there, the fingerprints being
/// equal).
#[allow(clippy::type_complexity)]
pub(super) fn answer_summary(
    mine: &[(NodeId, u64)],
    s: &pb::HeadSummary,
) -> Result<(Vec<u32>, Vec<(NodeId, u64)>, Vec<(NodeId, u64)>), SessionError> {
    if s.bits > MAX_SUMMARY_BITS
        || s.fingerprints.len() != 1 << s.bits
        || s.fingerprints.iter().any(|f| f.len() != FINGERPRINT_BYTES)
    {
        return Err(SessionError::Protocol(format!(
            "want.summary: {} fingerprints of 16 bytes for {} bits, at most {MAX_SUMMARY_BITS}",
            s.fingerprints.len(),
            s.bits
        )));
    }
    let flags: Vec<bool> = summarize(mine, s.bits)
        .iter()
        .zip(&s.fingerprints)
        .map(|(ours, theirs)| ours[..] != theirs[..])
        .collect();
    let differ: Vec<u32> = (0..flags.len() as u32)
        .filter(|&i| flags[i as usize])
        .collect();
    let (listed, implied) = mine
        .iter()
        .copied()
        .partition(|(a, _)| flags[bucket(a, s.bits)]);
    Ok((differ, listed, implied))
}

/// The dialer's opening Want: its list, and the bucket bits when it was
/// sent as a summary.
pub(super) struct Opening {
    pub(super) list: Vec<(NodeId, u64)>,
    pub(super) summary_bits: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(i: u8) -> NodeId {
        NodeId::new(yui_core::SecretKey::from_seed(&[i; 32]).public_key())
    }

    fn many(n: u32) -> Vec<(NodeId, u64)> {
        (0..n)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..4].copy_from_slice(&i.to_be_bytes());
                let a = NodeId::new(yui_core::SecretKey::from_seed(&seed).public_key());
                (a, u64::from(i % 7))
            })
            .collect()
    }

    /// Protocol 3: a summary of up-to-date nodes differs nowhere; a few
    /// changes make a few buckets differ, and both sides rebuild exactly
    /// what the other wants.
    #[test]
    fn a_summary_finds_the_buckets_that_differ_and_both_sides_rebuild_the_wants() {
        let dialer = many(2_000);
        let bits = summary_bits(dialer.len());
        assert_eq!(bits, 4, "about 128 authors a bucket");
        let Some(pb::sync_message::Kind::Want(w)) = summary_want(&dialer, bits).kind else {
            panic!()
        };
        let s = w.summary.unwrap();
        let (differ, listed, implied) = answer_summary(&dialer, &s).unwrap();
        assert!(differ.is_empty() && listed.is_empty());
        assert_eq!(implied, dialer);

        // The listener: one author further, one more author, one fewer.
        let mut listener = dialer.clone();
        listener[10].1 += 1;
        listener.push(many(2_001)[2_000]);
        let gone = listener.remove(500);
        let (differ, listed, implied) = answer_summary(&listener, &s).unwrap();
        assert!((1..=3).contains(&differ.len()), "{differ:?}");
        let flags = differing(bits, &differ).unwrap();
        // The dialer's view: its own heads where buckets agree, the
        // listener's list where they differ = the listener's whole want.
        let mut view: Vec<(NodeId, u64)> = dialer
            .iter()
            .filter(|(a, _)| !flags[bucket(a, bits)])
            .copied()
            .chain(listed.iter().copied())
            .collect();
        view.sort();
        let mut want = listener.clone();
        want.sort();
        assert_eq!(view, want);
        assert!(!implied
            .iter()
            .any(|(a, _)| *a == gone.0 || flags[bucket(a, bits)]));
        assert!(listed.len() < 3 * 2 * SUMMARY_PER_BUCKET);
    }

    #[test]
    fn a_summary_stays_small_at_100000_authors_and_bad_ones_are_refused() {
        let bits = summary_bits(100_000);
        assert_eq!(bits, 10);
        let m = summary_want(&many(100_000), bits);
        let bytes = prost::Message::encoded_len(&m);
        assert!(bytes < 20_000, "{bytes} bytes");
        let Some(pb::sync_message::Kind::Want(w)) = m.kind else {
            panic!()
        };
        let mut s = w.summary.unwrap();
        s.fingerprints.pop();
        assert!(matches!(
            answer_summary(&[], &s),
            Err(SessionError::Protocol(_))
        ));
        s.bits = 13;
        assert!(answer_summary(&[], &s).is_err());
        assert!(differing(2, &[4]).is_err());
    }

    proptest! {
        /// What the dialer rebuilds from a protocol-2 reply is exactly what
        /// the listener wants, whatever the two lists hold.
        #[test]
        fn a_reply_expands_to_the_listeners_full_want(
            mine in proptest::collection::btree_map(0u8..24, 0u64..4, 0..24),
            theirs in proptest::collection::btree_map(0u8..24, 0u64..4, 0..24),
        ) {
            let mine: Vec<(NodeId, u64)> = mine.into_iter().map(|(a, s)| (id(a), s)).collect();
            let opening: Vec<(NodeId, u64)> = theirs.into_iter().map(|(a, s)| (id(a), s)).collect();
            let (delta, declined) = diff_want(&mine, &opening);
            let declined: HashSet<NodeId> = declined.into_iter().collect();
            let mut got = expand_reply(&opening, &delta, &declined);
            got.sort();
            let mut want = mine.clone();
            want.sort();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn up_to_date_nodes_exchange_an_empty_reply() {
        let list: Vec<(NodeId, u64)> = (0..50).map(|i| (id(i), u64::from(i))).collect();
        let (delta, declined) = diff_want(&list, &list);
        assert!(delta.is_empty() && declined.is_empty());
    }
}
