//! Wire forms of audiences, withdrawals and sealed parts, and the split and
//! merge of an entry's restricted fragment (protobuf concatenation).

use prost::Message;
use yui_core::audience::{Audience, AudienceMembers, AudienceWrap, SealPart, Sealed, Withdrawal};
use yui_core::Entry;
use yui_proto::v1 as pb;
use yui_sync::DecodeError;

use super::{entry_from_pb, entry_to_pb, err, node_id_from_pb, pk_from_pb, pk_to_pb};
use super::{text_from_pb, text_to_pb};

pub(super) fn sealed_to_pb(s: &Sealed) -> pb::Sealed {
    pb::Sealed {
        audience: s.audience.clone(),
        epoch: s.epoch,
        nonce: s.nonce.clone(),
        ciphertext: s.ciphertext.clone(),
        parts: s.parts.clone(),
    }
}

pub(super) fn sealed_from_pb(s: pb::Sealed) -> Sealed {
    Sealed {
        audience: s.audience,
        epoch: s.epoch,
        nonce: s.nonce,
        ciphertext: s.ciphertext,
        parts: s.parts,
    }
}

pub(super) fn audience_to_pb(a: &Audience) -> pb::Audience {
    pb::Audience {
        name: a.name.clone(),
        epoch: a.epoch,
        members: Some(pb::AudienceMembers {
            codes: a.members.codes.clone(),
            partner_kinds: a
                .members
                .partner_kinds
                .iter()
                .map(|k| pk_to_pb(*k))
                .collect(),
            endorsed_by: a
                .members
                .endorsed_by
                .iter()
                .map(|n| n.as_bytes().to_vec())
                .collect(),
            own_staff: a.members.own_staff,
        }),
        wraps: a
            .wraps
            .iter()
            .map(|w| pb::AudienceWrap {
                node: w.node.as_bytes().to_vec(),
                key: w.key.clone(),
                enc: w.enc.clone(),
                wrapped: w.wrapped.clone(),
            })
            .collect(),
    }
}

pub(super) fn audience_from_pb(a: pb::Audience) -> Result<Audience, DecodeError> {
    let m = a.members.unwrap_or_default();
    Ok(Audience {
        name: a.name,
        epoch: a.epoch,
        members: AudienceMembers {
            codes: m.codes,
            partner_kinds: m
                .partner_kinds
                .into_iter()
                .map(pk_from_pb)
                .collect::<Result<_, _>>()?,
            endorsed_by: m
                .endorsed_by
                .iter()
                .map(|b| node_id_from_pb(b, "audience.members.endorsed_by"))
                .collect::<Result<_, _>>()?,
            own_staff: m.own_staff,
        },
        wraps: a
            .wraps
            .into_iter()
            .map(|w| {
                Ok(AudienceWrap {
                    node: node_id_from_pb(&w.node, "audience.wraps.node")?,
                    key: w.key,
                    enc: w.enc,
                    wrapped: w.wrapped,
                })
            })
            .collect::<Result<_, DecodeError>>()?,
    })
}

pub(super) fn withdrawal_to_pb(w: &Withdrawal) -> pb::Withdrawal {
    pb::Withdrawal {
        objects: w.objects.clone(),
        reason: text_to_pb(&w.reason),
    }
}

pub(super) fn withdrawal_from_pb(w: pb::Withdrawal) -> Withdrawal {
    Withdrawal {
        objects: w.objects,
        reason: text_from_pb(w.reason),
    }
}

/// `entry` without `parts`, the fragment holding them, and which of them
/// it holds; `None` when the body has none of them.
pub(super) fn split(entry: &Entry, parts: &[SealPart]) -> Option<(Entry, Vec<u8>, Vec<SealPart>)> {
    use pb::entry::Body as B;
    let mut public = entry_to_pb(entry);
    let body = public.body.as_mut()?;
    let mut fragment = match body {
        B::Profile(_) => B::Profile(Default::default()),
        B::Event(_) => B::Event(Default::default()),
        B::Readiness(_) => B::Readiness(Default::default()),
        B::Case(_) => B::Case(Default::default()),
        B::CallForPartners(_) => B::CallForPartners(Default::default()),
        _ => return None,
    };
    let taken: Vec<SealPart> = parts
        .iter()
        .copied()
        .filter(|&p| take(body, &mut fragment, p))
        .collect();
    if taken.is_empty() {
        return None;
    }
    let fragment = pb::Entry {
        body: Some(fragment),
        ..Default::default()
    }
    .encode_to_vec();
    let public = entry_from_pb(public).ok()?;
    Some((public, fragment, taken))
}

/// Moves `part` from `body` into `fragment` (of the same kind); whether
/// there was one.
fn take(body: &mut pb::entry::Body, fragment: &mut pb::entry::Body, part: SealPart) -> bool {
    use pb::entry::Body as B;
    fn carry<T>(from: &mut Option<T>, to: &mut Option<T>) -> bool {
        from.take().map(|v| *to = Some(v)).is_some()
    }
    match (part, body, fragment) {
        (SealPart::Contact, B::Profile(p), B::Profile(f)) => carry(&mut p.contact, &mut f.contact),
        (SealPart::Contact, B::Event(e), B::Event(f)) => carry(&mut e.contact, &mut f.contact),
        (SealPart::Contact, B::Readiness(r), B::Readiness(f)) => {
            carry(&mut r.contact, &mut f.contact)
        }
        (SealPart::Contact, B::Case(c), B::Case(f)) => carry(&mut c.contact, &mut f.contact),
        (SealPart::Contact, B::CallForPartners(c), B::CallForPartners(f)) => {
            carry(&mut c.contact, &mut f.contact)
        }
        (SealPart::ShelterLocation, B::Readiness(r), B::Readiness(f)) => {
            let Some(location) = r.shelter.as_mut().and_then(|s| s.location.take()) else {
                return false;
            };
            f.shelter.get_or_insert_with(Default::default).location = Some(location);
            true
        }
        _ => false,
    }
}

/// The entry as its author wrote it: the public bytes with an opened
/// fragment merged in. The fragment may hold body fields only, of the
/// public body's own kind, and of those only `parts`: taking them off the
/// merged entry again must give the public entry back.
pub(super) fn merge(
    public: &[u8],
    fragment: &[u8],
    parts: &[SealPart],
) -> Result<Entry, DecodeError> {
    let f = pb::Entry::decode(fragment).map_err(|e| err(format!("sealed part: {e}")))?;
    if !f.author.is_empty()
        || f.seq != 0
        || !f.prev.is_empty()
        || f.created_at != 0
        || f.expires_at != 0
        || !f.object_id.is_empty()
        || f.sealed.is_some()
    {
        return Err(err("sealed part: may hold body fields only"));
    }
    let mut merged = pb::Entry::decode(public).map_err(|e| DecodeError(e.to_string()))?;
    let same_kind = match (&merged.body, &f.body) {
        (Some(a), Some(b)) => std::mem::discriminant(a) == std::mem::discriminant(b),
        (None, Some(_)) => true,
        (_, None) => false,
    };
    if !same_kind {
        return Err(err("sealed part: not of the entry's kind"));
    }
    let as_published = entry_from_pb(merged.clone())?;
    merged
        .merge(fragment)
        .map_err(|e| err(format!("sealed part: {e}")))?;
    let merged = entry_from_pb(merged)?;
    match split(&merged, parts) {
        Some((again, _, taken)) if again == as_published && taken.len() == parts.len() => {
            Ok(merged)
        }
        _ => Err(err(
            "sealed part: holds other fields than the parts it names, or not all of them",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yui_core::content::{Case, Contact, PolicyArea};
    use yui_core::{Body, LocalizedText, NodeId, SecretKey};

    fn case_entry() -> Entry {
        let key = SecretKey::from_seed(&[7; 32]);
        Entry {
            author: NodeId::new(key.public_key()),
            seq: 3,
            prev: Some(yui_core::EntryId([1; 32])),
            created_at: 1_800_000_000_000,
            expires_at: None,
            object_id: "case-1".into(),
            sealed: None,
            body: Body::Case(Case {
                title: LocalizedText::one("ja", "防災備蓄品の共同購入"),
                policy_area: PolicyArea::DisasterPrevention,
                contact: Contact {
                    name: LocalizedText::one("ja", "田中花子"),
                    email: "tanaka@town.example.jp".into(),
                    ..Contact::default()
                },
                ..Case::default()
            }),
        }
    }

    #[test]
    fn a_contact_splits_off_and_merges_back() {
        let e = case_entry();
        let (public, fragment, taken) = split(&e, &SealPart::ALL).unwrap();
        assert_eq!(taken, [SealPart::Contact]);
        let Body::Case(c) = &public.body else {
            panic!()
        };
        assert_eq!(c.contact, Contact::default());
        assert_eq!(c.title, LocalizedText::one("ja", "防災備蓄品の共同購入"));
        let bytes = entry_to_pb(&public).encode_to_vec();
        assert_eq!(merge(&bytes, &fragment, &taken).unwrap(), e);
        // A fragment that holds more than the parts it names is refused.
        assert!(merge(&bytes, &fragment, &[]).is_err());
        // Nothing to seal: no contact.
        let mut bare = e.clone();
        if let Body::Case(c) = &mut bare.body {
            c.contact = Contact::default();
        }
        assert!(split(&bare, &[SealPart::Contact]).is_none());
    }

    #[test]
    fn a_shelter_location_splits_off_and_its_places_stay_public() {
        use yui_core::content::{Readiness, Shelter};
        let mut e = case_entry();
        e.body = Body::Readiness(Readiness {
            headline: LocalizedText::one("ja", "受け入れ可能"),
            shelter: Some(Shelter {
                capacity: 12,
                available: 5,
                accepts_outside_evacuees: true,
                location: LocalizedText::one("ja", "非公開の一時保護施設"),
            }),
            ..Readiness::default()
        });
        let (public, fragment, taken) = split(&e, &[SealPart::ShelterLocation]).unwrap();
        assert_eq!(taken, [SealPart::ShelterLocation]);
        let Body::Readiness(r) = &public.body else {
            panic!()
        };
        let shelter = r.shelter.as_ref().unwrap();
        assert_eq!((shelter.capacity, shelter.available), (12, 5));
        assert!(shelter.location.0.is_empty());
        let bytes = entry_to_pb(&public).encode_to_vec();
        assert_eq!(merge(&bytes, &fragment, &taken).unwrap(), e);
        // Named as the contact, the same fragment does not open.
        assert!(merge(&bytes, &fragment, &[SealPart::Contact]).is_err());
        // A fragment that also changes the public places is refused.
        let mut more = pb::Entry::decode(fragment.as_slice()).unwrap();
        if let Some(pb::entry::Body::Readiness(r)) = &mut more.body {
            r.shelter.as_mut().unwrap().available = 9;
        }
        let more = more.encode_to_vec();
        assert!(merge(&bytes, &more, &taken).is_err());
    }

    #[test]
    fn a_fragment_may_not_touch_the_header_or_change_the_kind() {
        let e = case_entry();
        let (public, _, _) = split(&e, &[SealPart::Contact]).unwrap();
        let bytes = entry_to_pb(&public).encode_to_vec();
        let header = pb::Entry {
            object_id: "someone-elses".into(),
            ..Default::default()
        }
        .encode_to_vec();
        assert!(merge(&bytes, &header, &[SealPart::Contact])
            .unwrap_err()
            .0
            .contains("body fields only"));
        let other_kind = pb::Entry {
            body: Some(pb::entry::Body::Event(pb::Event::default())),
            ..Default::default()
        }
        .encode_to_vec();
        assert!(merge(&bytes, &other_kind, &[SealPart::Contact])
            .unwrap_err()
            .0
            .contains("kind"));
        assert!(merge(&bytes, b"\xff\xff\xff", &[SealPart::Contact]).is_err());
    }
}
