//! The trust policy: which authors a node stores and forwards.
//!
//! Roots are the keys the operator trusts (`yui trust add`, `[[trust]]`), and
//! the node itself. A root's `Endorsement` vouches for a key; with
//! `endorsement_depth` above 1, endorsed keys may endorse in turn, up to that
//! many steps from a root.
//!
//! **Who may revoke.** A `Revocation` of a key counts when it comes from the
//! key itself, from this node (its operator), or from a *grantor* of the key:
//! an endorser whose endorsement is an edge of the trust walk that gave the
//! key its trust (a trusted endorser one step closer to a root). A root the
//! operator configured has no grantor: only it or this node can revoke it.
//! Any other revocation is ignored, so one member can never cut others off
//! by endorsing them first. A revoked key neither is trusted nor carries its
//! endorsements. Revocations are final (the store keeps a revocation as the
//! current version of its object whatever follows it).
//!
//! A `KeyRotation` in a key's log moves its identity to the new key: the new
//! key is trusted wherever the old one was (same depth, its endorsements
//! count, the old key's grantors may revoke it), unless the old key was
//! revoked; the old key's log ends at the rotation.
//!
//! **Recovery of a forked key.** A forked key's log is stopped, and whoever
//! holds the key (the owner, or a thief) can sign a rotation past the fork.
//! A recovery therefore moves the identity only when the new key is vouched
//! for independently: endorsed by a grantor of the old key, or a root here.
//! Among recoveries so vouched for, the lowest seq wins. A thief holding the
//! key signs as many recoveries as it likes and wins none of them, because it
//! cannot make the endorser (a regional body checking out of band) endorse
//! its key.
//!
//! The computation is a breadth-first walk over the endorsements this node
//! holds, repeated while newly valid revocations remove keys (revoked keys
//! only grow, so it ends), so every node with the same roots and the same
//! entries reaches the same set, whatever order the entries arrived in.

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
    /// Trusted key → its grantors: the endorsers whose endorsement gave it
    /// its trust (edges of the walk). Only they (besides the key itself and
    /// this node) may revoke it, and only their endorsements name it.
    pub grantors: HashMap<NodeId, HashSet<NodeId>>,
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

    /// Whether `id` is trusted.
    pub fn contains(&self, id: &NodeId) -> bool {
        self.depth.contains_key(id)
    }

    /// Whether `endorser`'s endorsement of `subject` is an edge of the trust
    /// walk (so its name for the subject may be shown).
    pub fn granted(&self, endorser: &NodeId, subject: &NodeId) -> bool {
        self.grantors
            .get(subject)
            .is_some_and(|g| g.contains(endorser))
    }
}

/// A rotation to a new key, as the trust computation reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// The old key (the author of the rotation entry).
    pub old: NodeId,
    /// The key it hands its identity to.
    pub new: NodeId,
    /// Seq of the rotation entry in the old key's log.
    pub seq: u64,
    /// Signed past a fork (a recovery): counts only when the new key is
    /// vouched for independently (see the module notes).
    pub recovery: bool,
}

/// Computes the trust set. `endorsements` and `revocations` are
/// `(author, subject)` pairs: the current endorsements this node holds and
/// every revocation it holds.
pub fn compute(
    me: NodeId,
    roots: &HashSet<NodeId>,
    endorsements: &[(NodeId, NodeId)],
    revocations: &[(NodeId, NodeId)],
    rotations: &[Rotation],
    policy: TrustPolicy,
) -> TrustSet {
    let mut by_endorser: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
    for (by, subject) in endorsements {
        by_endorser.entry(*by).or_default().push(*subject);
    }
    let endorsed: HashSet<(NodeId, NodeId)> = endorsements.iter().copied().collect();
    let mut revoked: HashSet<NodeId> = HashSet::new();
    // Each round walks without the keys revoked so far, then adds the
    // revocations the walk makes valid. `revoked` only grows: at most one
    // round per revocation.
    loop {
        let set = walk(
            me,
            roots,
            &by_endorser,
            &endorsed,
            &revoked,
            rotations,
            policy,
        );
        let newly: Vec<NodeId> = revocations
            .iter()
            .filter(|(by, subject)| {
                *subject != me
                    && !revoked.contains(subject)
                    && (by == subject || *by == me || set.granted(by, subject))
            })
            .map(|(_, subject)| *subject)
            .collect();
        if newly.is_empty() {
            return TrustSet { revoked, ..set };
        }
        revoked.extend(newly);
    }
}

/// One breadth-first walk from the roots, skipping `revoked`.
fn walk(
    me: NodeId,
    roots: &HashSet<NodeId>,
    by_endorser: &HashMap<NodeId, Vec<NodeId>>,
    endorsed: &HashSet<(NodeId, NodeId)>,
    revoked: &HashSet<NodeId>,
    rotations: &[Rotation],
    policy: TrustPolicy,
) -> TrustSet {
    let plain: HashMap<NodeId, (NodeId, u64)> = rotations
        .iter()
        .filter(|r| !r.recovery && !revoked.contains(&r.old))
        .map(|r| (r.old, (r.new, r.seq)))
        .collect();
    let mut depth: HashMap<NodeId, u32> = HashMap::new();
    let mut grantors: HashMap<NodeId, HashSet<NodeId>> = HashMap::new();
    let mut queue = VecDeque::new();
    for r in roots.iter().chain(std::iter::once(&me)) {
        if (!revoked.contains(r) || *r == me) && depth.insert(*r, 0).is_none() {
            queue.push_back(*r);
        }
    }
    while let Some(n) = queue.pop_front() {
        let d = depth[&n];
        if let Some((new, _)) = plain.get(&n) {
            if !revoked.contains(new) && !depth.contains_key(new) {
                depth.insert(*new, d);
                let g = grantors.get(&n).cloned().unwrap_or_default();
                grantors.insert(*new, g);
                queue.push_back(*new);
            }
        }
        if d >= policy.endorsement_depth {
            continue;
        }
        for s in by_endorser.get(&n).into_iter().flatten() {
            if revoked.contains(s) {
                continue;
            }
            match depth.get(s) {
                None => {
                    depth.insert(*s, d + 1);
                    queue.push_back(*s);
                    grantors.entry(*s).or_default().insert(n);
                }
                // Another shortest path: this endorser granted trust too.
                Some(ds) if *ds == d + 1 => {
                    grantors.entry(*s).or_default().insert(n);
                }
                Some(_) => {}
            }
        }
    }
    let mut rotated = plain;
    // Recoveries: the lowest-seq one whose new key a grantor of the old key
    // endorsed (or that is a root) moves the identity.
    let mut recoveries: Vec<&Rotation> = rotations
        .iter()
        .filter(|r| r.recovery && depth.contains_key(&r.old) && !revoked.contains(&r.old))
        .filter(|r| depth.contains_key(&r.new))
        .filter(|r| {
            roots.contains(&r.new)
                || grantors
                    .get(&r.old)
                    .is_some_and(|g| g.iter().any(|e| endorsed.contains(&(*e, r.new))))
        })
        .collect();
    recoveries.sort_by_key(|r| (r.seq, r.new));
    for r in recoveries {
        rotated.entry(r.old).or_insert((r.new, r.seq));
    }
    TrustSet {
        depth,
        revoked: HashSet::new(),
        rotated,
        grantors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yui_core::SecretKey;

    fn id(n: u8) -> NodeId {
        NodeId::new(SecretKey::from_seed(&[n; 32]).public_key())
    }

    fn rot(old: NodeId, new: NodeId, seq: u64) -> Rotation {
        Rotation {
            old,
            new,
            seq,
            recovery: false,
        }
    }

    fn recovery(old: NodeId, new: NodeId, seq: u64) -> Rotation {
        Rotation {
            recovery: true,
            ..rot(old, new, seq)
        }
    }

    fn depth(n: u32) -> TrustPolicy {
        TrustPolicy {
            endorsement_depth: n,
        }
    }

    #[test]
    fn endorsements_chain_only_as_far_as_allowed() {
        let (me, relay, member, sub) = (id(1), id(2), id(3), id(4));
        let roots: HashSet<_> = [relay].into();
        let e = [(relay, member), (member, sub)];
        let one = compute(me, &roots, &e, &[], &[], depth(1));
        assert!(one.contains(&member) && !one.contains(&sub));
        assert_eq!(one.depth[&member], 1);
        let two = compute(me, &roots, &e, &[], &[], depth(2));
        assert!(two.contains(&sub));
        let zero = compute(me, &roots, &e, &[], &[], depth(0));
        assert!(!zero.contains(&member) && zero.contains(&relay) && zero.contains(&me));
    }

    #[test]
    fn who_may_revoke() {
        let (me, relay, member, other) = (id(1), id(2), id(3), id(5));
        let roots: HashSet<_> = [relay].into();
        let e = [(relay, member), (relay, other)];
        let p = TrustPolicy::default();
        // By itself, by its endorser and by this node: valid.
        assert!(!compute(me, &roots, &e, &[(member, member)], &[], p).contains(&member));
        assert!(!compute(me, &roots, &e, &[(relay, member)], &[], p).contains(&member));
        assert!(!compute(me, &roots, &e, &[(me, member)], &[], p).contains(&member));
        // By an unrelated member: ignored.
        let s = compute(me, &roots, &e, &[(other, member)], &[], p);
        assert!(s.contains(&member) && s.revoked.is_empty());
        // A revoked endorser's endorsements no longer count.
        let s = compute(me, &roots, &e, &[(relay, relay)], &[], p);
        assert!(!s.contains(&member) && !s.contains(&relay));
        // This node cannot be revoked out of its own log.
        assert!(compute(me, &roots, &e, &[(me, me)], &[], p).contains(&me));
    }

    /// The reported attack: a member endorses the relay it trusts, then
    /// revokes it. Its endorsement is not an edge of anyone's trust walk,
    /// so the revocation counts nowhere.
    #[test]
    fn a_member_cannot_revoke_the_relay_or_its_peers() {
        let (me, relay, m1, m2) = (id(1), id(2), id(3), id(4));
        let roots: HashSet<_> = [relay].into();
        for p in [depth(1), depth(2), depth(3)] {
            let e = [(relay, m1), (relay, m2), (m1, relay), (m1, m2)];
            let s = compute(me, &roots, &e, &[(m1, relay), (m1, m2)], &[], p);
            assert!(s.contains(&relay) && s.contains(&m2), "{p:?}");
            assert!(s.revoked.is_empty(), "{p:?}");
            // Names: only the relay's endorsement of m2 is an edge.
            assert!(s.granted(&relay, &m2) && !s.granted(&m1, &m2), "{p:?}");
            assert!(!s.granted(&m1, &relay), "{p:?}");
        }
        // A root falls only by itself or by this node, even to another root.
        let other_root = id(6);
        let roots: HashSet<_> = [relay, other_root].into();
        let e = [(other_root, relay)];
        let s = compute(me, &roots, &e, &[(other_root, relay)], &[], depth(2));
        assert!(s.contains(&relay));
    }

    #[test]
    fn an_endorser_two_steps_out_revokes_what_it_granted_only() {
        let (me, relay, m1, sub, m2) = (id(1), id(2), id(3), id(4), id(5));
        let roots: HashSet<_> = [relay].into();
        let e = [(relay, m1), (relay, m2), (m1, sub), (m2, sub)];
        let p = depth(2);
        // m1 granted sub (an edge at depth 1 → 2): its revocation counts.
        let s = compute(me, &roots, &e, &[(m1, sub)], &[], p);
        assert!(!s.contains(&sub));
        // m1 cannot revoke m2 (same depth, not an edge).
        let s = compute(
            me,
            &roots,
            &[(relay, m1), (relay, m2), (m1, m2)],
            &[(m1, m2)],
            &[],
            p,
        );
        assert!(s.contains(&m2));
    }

    #[test]
    fn rotation_moves_trust_unless_the_old_key_was_revoked() {
        let (me, relay, old, new) = (id(1), id(2), id(3), id(4));
        let roots: HashSet<_> = [relay].into();
        let e = [(relay, old)];
        let p = TrustPolicy::default();
        let s = compute(me, &roots, &e, &[], &[rot(old, new, 7)], p);
        assert_eq!(s.depth.get(&new), Some(&1));
        assert_eq!(s.current_key(&old), new);
        // The old key's endorser may revoke the new key.
        let s = compute(me, &roots, &e, &[(relay, new)], &[rot(old, new, 7)], p);
        assert!(!s.contains(&new));
        // A rotation of a root is a root.
        let s = compute(me, &roots, &[], &[], &[rot(relay, new, 3)], p);
        assert_eq!(s.depth.get(&new), Some(&0));
        // A stolen key that was revoked cannot hand its identity on.
        let s = compute(me, &roots, &e, &[(old, old)], &[rot(old, new, 7)], p);
        assert!(!s.contains(&new) && !s.contains(&old));
    }

    /// A thief holding a forked key signs a recovery with a higher seq than
    /// the owner's; only the one whose new key the endorser vouched for
    /// moves the identity.
    #[test]
    fn a_thief_cannot_win_a_fork_recovery() {
        let (me, relay, old, owner, thief) = (id(1), id(2), id(3), id(4), id(5));
        let roots: HashSet<_> = [relay].into();
        let p = TrustPolicy::default();
        let recs = [recovery(old, owner, 10), recovery(old, thief, 99)];
        // Before the endorser speaks: neither counts, neither is trusted.
        let s = compute(me, &roots, &[(relay, old)], &[], &recs, p);
        assert_eq!(s.current_key(&old), old);
        assert!(!s.contains(&owner) && !s.contains(&thief));
        // The relay endorses the owner's new key: the owner's recovery wins.
        let e = [(relay, old), (relay, owner)];
        let s = compute(me, &roots, &e, &[], &recs, p);
        assert_eq!(s.current_key(&old), owner);
        assert!(!s.contains(&thief));
        // The thief endorsing itself through a member changes nothing.
        let e = [(relay, old), (relay, owner), (owner, thief)];
        let s = compute(me, &roots, &e, &[], &recs, p);
        assert_eq!(s.current_key(&old), owner);
        assert!(!s.contains(&thief));
    }

    #[test]
    fn order_of_entries_does_not_matter() {
        let ids: Vec<NodeId> = (10..20).map(id).collect();
        let roots: HashSet<_> = [ids[0]].into();
        let mut e: Vec<(NodeId, NodeId)> = ids.windows(2).map(|w| (w[0], w[1])).collect();
        let r = vec![(ids[3], ids[3]), (ids[5], ids[9]), (ids[1], ids[2])];
        let p = depth(5);
        let a = compute(id(1), &roots, &e, &r, &[], p);
        e.reverse();
        let mut r2 = r.clone();
        r2.reverse();
        assert_eq!(compute(id(1), &roots, &e, &r2, &[], p), a);
        assert!(a.contains(&ids[1]) && !a.contains(&ids[2]) && !a.contains(&ids[3]));
    }
}
