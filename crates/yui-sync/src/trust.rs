//! The trust policy: which authors a node stores and forwards.
//!
//! Roots are the keys the operator trusts (`yui trust add`, `[[trust]]`), and
//! the node itself. A root's `Endorsement` vouches for a key; with
//! `endorsement_depth` above 1, endorsed keys may endorse in turn, up to that
//! many steps from a root. A `Revocation` withdraws a key when it comes from
//! the key itself, from a key that endorsed it, from a root, or from this
//! node; a revoked key neither is trusted nor carries its endorsements.
//!
//! A `KeyRotation` in a key's log moves its identity to the new key: the new
//! key is trusted wherever the old one was (same depth, its endorsements
//! count), unless the old key was revoked; the old key's log ends at the
//! rotation.
//!
//! The computation is a breadth-first walk over the endorsements this node
//! holds, so every node with the same roots and the same entries reaches the
//! same set, whatever order the entries arrived in.

use std::collections::{HashMap, HashSet, VecDeque};

use yui_core::NodeId;

/// How far trust flows from the roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustPolicy {
    /// 0: roots only; 1: roots and the keys they endorse; 2: one more step…
    pub endorsement_depth: u32,
}

impl Default for TrustPolicy {
    fn default() -> Self {
        Self {
            endorsement_depth: 1,
        }
    }
}

/// The outcome: trusted authors with their distance from a root, and
/// revoked keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustSet {
    /// Trusted author → steps from a root (0 = root or this node).
    pub depth: HashMap<NodeId, u32>,
    /// Keys whose revocation is valid.
    pub revoked: HashSet<NodeId>,
    /// Old key → (new key, seq of the rotation entry): the old log ends there.
    pub rotated: HashMap<NodeId, (NodeId, u64)>,
}

impl TrustSet {
    /// The current key of an identity: follows rotations from `id`.
    pub fn current_key(&self, id: &NodeId) -> NodeId {
        let mut k = *id;
        for _ in 0..16 {
            match self.rotated.get(&k) {
                Some((n, _)) => k = *n,
                None => break,
            }
        }
        k
    }
}

impl TrustSet {
    /// Whether `id` is trusted.
    pub fn contains(&self, id: &NodeId) -> bool {
        self.depth.contains_key(id)
    }
}

/// Computes the trust set. `endorsements` and `revocations` are
/// `(author, subject)` pairs from the current entries this node holds.
pub fn compute(
    me: NodeId,
    roots: &HashSet<NodeId>,
    endorsements: &[(NodeId, NodeId)],
    revocations: &[(NodeId, NodeId)],
    rotations: &[(NodeId, NodeId, u64)],
    policy: TrustPolicy,
) -> TrustSet {
    let endorsed: HashSet<(NodeId, NodeId)> = endorsements.iter().copied().collect();
    let revoked: HashSet<NodeId> = revocations
        .iter()
        .filter(|(by, subject)| {
            by == subject || *by == me || roots.contains(by) || endorsed.contains(&(*by, *subject))
        })
        .map(|(_, subject)| *subject)
        .filter(|subject| *subject != me)
        .collect();
    let mut by_endorser: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
    for (by, subject) in endorsements {
        by_endorser.entry(*by).or_default().push(*subject);
    }
    let rotated: HashMap<NodeId, (NodeId, u64)> = rotations
        .iter()
        .filter(|(old, _, _)| !revoked.contains(old))
        .map(|(old, new, seq)| (*old, (*new, *seq)))
        .collect();
    let mut depth = HashMap::new();
    let mut queue = VecDeque::new();
    for r in roots.iter().chain(std::iter::once(&me)) {
        if !revoked.contains(r) && depth.insert(*r, 0).is_none() {
            queue.push_back(*r);
        }
    }
    while let Some(n) = queue.pop_front() {
        let d = depth[&n];
        if let Some((new, _)) = rotated.get(&n) {
            if !revoked.contains(new) && !depth.contains_key(new) {
                depth.insert(*new, d);
                queue.push_back(*new);
            }
        }
        if d >= policy.endorsement_depth {
            continue;
        }
        for s in by_endorser.get(&n).into_iter().flatten() {
            if !revoked.contains(s) && !depth.contains_key(s) {
                depth.insert(*s, d + 1);
                queue.push_back(*s);
            }
        }
    }
    TrustSet {
        depth,
        revoked,
        rotated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yui_core::SecretKey;

    fn id(n: u8) -> NodeId {
        NodeId::new(SecretKey::from_seed(&[n; 32]).public_key())
    }

    #[test]
    fn endorsements_chain_only_as_far_as_allowed() {
        let (me, relay, member, sub) = (id(1), id(2), id(3), id(4));
        let roots: HashSet<_> = [relay].into();
        let e = [(relay, member), (member, sub)];
        let one = compute(
            me,
            &roots,
            &e,
            &[],
            &[],
            TrustPolicy {
                endorsement_depth: 1,
            },
        );
        assert!(one.contains(&member) && !one.contains(&sub));
        assert_eq!(one.depth[&member], 1);
        let two = compute(
            me,
            &roots,
            &e,
            &[],
            &[],
            TrustPolicy {
                endorsement_depth: 2,
            },
        );
        assert!(two.contains(&sub));
        let zero = compute(
            me,
            &roots,
            &e,
            &[],
            &[],
            TrustPolicy {
                endorsement_depth: 0,
            },
        );
        assert!(!zero.contains(&member) && zero.contains(&relay) && zero.contains(&me));
    }

    #[test]
    fn who_may_revoke() {
        let (me, relay, member, other) = (id(1), id(2), id(3), id(5));
        let roots: HashSet<_> = [relay].into();
        let e = [(relay, member), (relay, other)];
        let p = TrustPolicy::default();
        // By itself, and by its endorser: valid.
        assert!(!compute(me, &roots, &e, &[(member, member)], &[], p).contains(&member));
        assert!(!compute(me, &roots, &e, &[(relay, member)], &[], p).contains(&member));
        // By an unrelated member: ignored.
        let s = compute(me, &roots, &e, &[(other, member)], &[], p);
        assert!(s.contains(&member) && s.revoked.is_empty());
        // A revoked endorser's endorsements no longer count.
        let s = compute(me, &roots, &e, &[(relay, relay)], &[], p);
        assert!(!s.contains(&member) && !s.contains(&relay));
        // This node cannot be revoked out of its own log.
        assert!(compute(me, &roots, &e, &[(me, me)], &[], p).contains(&me));
    }

    #[test]
    fn rotation_moves_trust_unless_the_old_key_was_revoked() {
        let (me, relay, old, new) = (id(1), id(2), id(3), id(4));
        let roots: HashSet<_> = [relay].into();
        let e = [(relay, old)];
        let p = TrustPolicy::default();
        let s = compute(me, &roots, &e, &[], &[(old, new, 7)], p);
        assert_eq!(s.depth.get(&new), Some(&1));
        assert_eq!(s.current_key(&old), new);
        // A rotation of a root is a root.
        let s = compute(me, &roots, &[], &[], &[(relay, new, 3)], p);
        assert_eq!(s.depth.get(&new), Some(&0));
        // A stolen key that was revoked cannot hand its identity on.
        let s = compute(me, &roots, &e, &[(old, old)], &[(old, new, 7)], p);
        assert!(!s.contains(&new) && !s.contains(&old));
    }

    #[test]
    fn order_of_entries_does_not_matter() {
        let ids: Vec<NodeId> = (10..20).map(id).collect();
        let roots: HashSet<_> = [ids[0]].into();
        let mut e: Vec<(NodeId, NodeId)> = ids.windows(2).map(|w| (w[0], w[1])).collect();
        let r = vec![(ids[3], ids[3])];
        let p = TrustPolicy {
            endorsement_depth: 5,
        };
        let a = compute(id(1), &roots, &e, &r, &[], p);
        e.reverse();
        assert_eq!(compute(id(1), &roots, &e, &r, &[], p), a);
        assert!(a.contains(&ids[2]) && !a.contains(&ids[3]) && !a.contains(&ids[4]));
    }
}
