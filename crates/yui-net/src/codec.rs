//! Conversions between the generated protobuf types and `yui-core` types,
//! and [`ProtoCodec`], the [`Codec`] every node uses.
//!
//! Decoding is strict: unknown enum values, missing required messages and
//! malformed keys are errors, never defaults. Encoding happens once per own
//! entry; received bytes are never re-encoded.

use prost::Message;
use yui_core::content::{
    AttendanceMode, Contact, Event, EventStatus, Profile, ProfileKind, Retraction,
};
use yui_core::{Body, Entry, EntryId, LocalizedText, NodeId, Signature, SignedEntry};
use yui_proto::v1 as pb;
use yui_sync::{Codec, DecodeError};

/// The protobuf [`Codec`].
#[derive(Debug, Default, Clone, Copy)]
pub struct ProtoCodec;

impl Codec for ProtoCodec {
    fn encode_entry(&self, entry: &Entry) -> Vec<u8> {
        entry_to_pb(entry).encode_to_vec()
    }

    fn decode_entry(&self, bytes: &[u8]) -> Result<Entry, DecodeError> {
        let pb = pb::Entry::decode(bytes).map_err(|e| DecodeError(e.to_string()))?;
        entry_from_pb(pb)
    }
}

fn err(msg: impl Into<String>) -> DecodeError {
    DecodeError(msg.into())
}

/// A wire `SignedEntry` to the core type (signature length checked).
pub fn signed_from_pb(s: pb::SignedEntry) -> Result<SignedEntry, DecodeError> {
    let signature =
        Signature::from_slice(&s.signature).map_err(|e| err(format!("signature: {e}")))?;
    Ok(SignedEntry {
        entry: s.entry,
        signature,
    })
}

/// The core `SignedEntry` to the wire type.
pub fn signed_to_pb(s: &SignedEntry) -> pb::SignedEntry {
    pb::SignedEntry {
        entry: s.entry.clone(),
        signature: s.signature.0.to_vec(),
    }
}

/// Reads a 32-byte node id from the wire.
pub fn node_id_from_pb(bytes: &[u8], field: &str) -> Result<NodeId, DecodeError> {
    NodeId::from_bytes(bytes).map_err(|e| err(format!("{field}: {e}")))
}

fn text_to_pb(t: &LocalizedText) -> Option<pb::LocalizedText> {
    if t.0.is_empty() {
        return None;
    }
    Some(pb::LocalizedText {
        values: t
            .0
            .iter()
            .map(|(lang, text)| pb::LocalizedString {
                lang: lang.clone(),
                text: text.clone(),
            })
            .collect(),
    })
}

fn text_from_pb(t: Option<pb::LocalizedText>) -> LocalizedText {
    LocalizedText(
        t.map(|t| t.values.into_iter().map(|v| (v.lang, v.text)).collect())
            .unwrap_or_default(),
    )
}

fn contact_to_pb(c: &Contact) -> Option<pb::Contact> {
    if *c == Contact::default() {
        return None;
    }
    Some(pb::Contact {
        name: text_to_pb(&c.name),
        department: text_to_pb(&c.department),
        email: c.email.clone(),
        phone: c.phone.clone(),
        url: c.url.clone(),
    })
}

fn contact_from_pb(c: Option<pb::Contact>) -> Contact {
    c.map(|c| Contact {
        name: text_from_pb(c.name),
        department: text_from_pb(c.department),
        email: c.email,
        phone: c.phone,
        url: c.url,
    })
    .unwrap_or_default()
}

fn profile_kind_from_pb(v: i32) -> Result<ProfileKind, DecodeError> {
    use pb::ProfileKind as K;
    Ok(
        match K::try_from(v).map_err(|_| err(format!("profile.kind: unknown value {v}")))? {
            K::Unspecified => return Err(err("profile.kind is required")),
            K::Municipality => ProfileKind::Municipality,
            K::SpecialWard => ProfileKind::SpecialWard,
            K::Prefecture => ProfileKind::Prefecture,
            K::WideAreaUnion => ProfileKind::WideAreaUnion,
            K::ForeignCity => ProfileKind::ForeignCity,
            K::Network => ProfileKind::Network,
        },
    )
}

fn profile_kind_to_pb(k: ProfileKind) -> pb::ProfileKind {
    use pb::ProfileKind as K;
    match k {
        ProfileKind::Municipality => K::Municipality,
        ProfileKind::SpecialWard => K::SpecialWard,
        ProfileKind::Prefecture => K::Prefecture,
        ProfileKind::WideAreaUnion => K::WideAreaUnion,
        ProfileKind::ForeignCity => K::ForeignCity,
        ProfileKind::Network => K::Network,
        _ => K::Unspecified,
    }
}

fn status_from_pb(v: i32) -> Result<EventStatus, DecodeError> {
    use pb::EventStatus as S;
    Ok(
        match S::try_from(v).map_err(|_| err(format!("event.status: unknown value {v}")))? {
            S::Unspecified => return Err(err("event.status is required")),
            S::Tentative => EventStatus::Tentative,
            S::Confirmed => EventStatus::Confirmed,
            S::Cancelled => EventStatus::Cancelled,
        },
    )
}

fn status_to_pb(s: EventStatus) -> pb::EventStatus {
    match s {
        EventStatus::Tentative => pb::EventStatus::Tentative,
        EventStatus::Confirmed => pb::EventStatus::Confirmed,
        EventStatus::Cancelled => pb::EventStatus::Cancelled,
    }
}

fn attendance_from_pb(v: i32) -> Result<AttendanceMode, DecodeError> {
    use pb::AttendanceMode as A;
    Ok(
        match A::try_from(v).map_err(|_| err(format!("event.attendance: unknown value {v}")))? {
            A::Unspecified => return Err(err("event.attendance is required")),
            A::Offline => AttendanceMode::Offline,
            A::Online => AttendanceMode::Online,
            A::Mixed => AttendanceMode::Mixed,
        },
    )
}

fn attendance_to_pb(a: AttendanceMode) -> pb::AttendanceMode {
    match a {
        AttendanceMode::Offline => pb::AttendanceMode::Offline,
        AttendanceMode::Online => pb::AttendanceMode::Online,
        AttendanceMode::Mixed => pb::AttendanceMode::Mixed,
    }
}

fn event_to_pb(e: &Event) -> pb::Event {
    pb::Event {
        title: text_to_pb(&e.title),
        description: text_to_pb(&e.description),
        sequence: e.sequence,
        status: status_to_pb(e.status) as i32,
        start: e.start.clone(),
        end: e.end.clone(),
        duration_minutes: e.duration_minutes,
        time_zone: e.time_zone.clone(),
        all_day: e.all_day,
        attendance: attendance_to_pb(e.attendance) as i32,
        location: text_to_pb(&e.location),
        online_url: e.online_url.clone(),
        organisers: e.organisers.clone(),
        partners: e.partners.clone(),
        category: e.category.clone(),
        contact: contact_to_pb(&e.contact),
    }
}

fn event_from_pb(e: pb::Event) -> Result<Event, DecodeError> {
    Ok(Event {
        title: text_from_pb(e.title),
        description: text_from_pb(e.description),
        sequence: e.sequence,
        status: status_from_pb(e.status)?,
        start: e.start,
        end: e.end,
        duration_minutes: e.duration_minutes,
        time_zone: e.time_zone,
        all_day: e.all_day,
        attendance: attendance_from_pb(e.attendance)?,
        location: text_from_pb(e.location),
        online_url: e.online_url,
        organisers: e.organisers,
        partners: e.partners,
        category: e.category,
        contact: contact_from_pb(e.contact),
    })
}

/// Core entry to the wire type.
pub fn entry_to_pb(e: &Entry) -> pb::Entry {
    use pb::entry::Body as B;
    let body = match &e.body {
        Body::Profile(p) => B::Profile(pb::Profile {
            name: text_to_pb(&p.name),
            kind: profile_kind_to_pb(p.kind) as i32,
            country: p.country.clone(),
            code: p.code.clone(),
            languages: p.languages.clone(),
            contact: contact_to_pb(&p.contact),
        }),
        Body::Event(ev) => B::Event(event_to_pb(ev)),
        Body::Retraction(r) => B::Retraction(pb::Retraction {
            reason: text_to_pb(&r.reason),
        }),
        _ => unreachable!("every body kind has a wire form"),
    };
    pb::Entry {
        author: e.author.as_bytes().to_vec(),
        seq: e.seq,
        prev: e.prev.map(|p| p.0.to_vec()).unwrap_or_default(),
        created_at: e.created_at,
        expires_at: e.expires_at.unwrap_or(0),
        object_id: e.object_id.clone(),
        body: Some(body),
    }
}

/// Wire entry to the core type.
pub fn entry_from_pb(e: pb::Entry) -> Result<Entry, DecodeError> {
    use pb::entry::Body as B;
    let author = node_id_from_pb(&e.author, "author")?;
    let prev = if e.prev.is_empty() {
        None
    } else {
        Some(EntryId::from_slice(&e.prev).ok_or_else(|| err("prev must be 32 bytes"))?)
    };
    let body = match e
        .body
        .ok_or_else(|| err("entry has no body (or a kind this node does not know)"))?
    {
        B::Profile(p) => Body::Profile(Profile {
            name: text_from_pb(p.name),
            kind: profile_kind_from_pb(p.kind)?,
            country: p.country,
            code: p.code,
            languages: p.languages,
            contact: contact_from_pb(p.contact),
        }),
        B::Event(ev) => Body::Event(event_from_pb(ev)?),
        B::Retraction(r) => Body::Retraction(Retraction {
            reason: text_from_pb(r.reason),
        }),
    };
    Ok(Entry {
        author,
        seq: e.seq,
        prev,
        created_at: e.created_at,
        expires_at: (e.expires_at != 0).then_some(e.expires_at),
        object_id: e.object_id,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use yui_core::SecretKey;

    fn arb_text() -> impl Strategy<Value = LocalizedText> {
        proptest::collection::vec(("[a-z]{2}", "\\PC{0,20}"), 0..3).prop_map(LocalizedText)
    }

    fn arb_event() -> impl Strategy<Value = Event> {
        (
            arb_text(),
            arb_text(),
            any::<u32>(),
            0..3u8,
            "\\PC{0,30}",
            any::<bool>(),
            0..3u8,
            proptest::collection::vec("[0-9]{6}", 0..3),
        )
            .prop_map(
                |(title, description, sequence, st, start, all_day, att, organisers)| Event {
                    title,
                    description,
                    sequence,
                    status: [
                        EventStatus::Tentative,
                        EventStatus::Confirmed,
                        EventStatus::Cancelled,
                    ][st as usize],
                    start,
                    all_day,
                    attendance: [
                        AttendanceMode::Offline,
                        AttendanceMode::Online,
                        AttendanceMode::Mixed,
                    ][att as usize],
                    organisers,
                    ..Default::default()
                },
            )
    }

    fn arb_entry() -> impl Strategy<Value = Entry> {
        (
            any::<[u8; 32]>(),
            1..u64::MAX,
            any::<[u8; 32]>(),
            1..i64::MAX,
            proptest::option::of(1..i64::MAX),
            "[a-z0-9-]{1,40}",
            arb_event(),
        )
            .prop_map(
                |(seed, seq, prev, created_at, expires_at, object_id, ev)| Entry {
                    author: NodeId::new(SecretKey::from_seed(&seed).public_key()),
                    seq,
                    prev: (seq > 1).then_some(EntryId(prev)),
                    created_at,
                    expires_at,
                    object_id,
                    body: Body::Event(ev),
                },
            )
    }

    proptest! {
        #[test]
        fn entry_round_trips(e in arb_entry()) {
            let bytes = ProtoCodec.encode_entry(&e);
            prop_assert_eq!(ProtoCodec.decode_entry(&bytes).unwrap(), e);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = ProtoCodec.decode_entry(&bytes);
        }

        /// The id rule: core's canonical SignedEntry encoding is byte for byte
        /// what prost writes, so any protobuf library recomputes the same id.
        #[test]
        fn canonical_signed_entry_matches_prost(entry in proptest::collection::vec(any::<u8>(), 0..2000), seed: [u8; 32]) {
            let s = SignedEntry::sign(entry, &SecretKey::from_seed(&seed));
            prop_assert_eq!(signed_to_pb(&s).encode_to_vec(), s.encode());
        }
    }

    #[test]
    fn unknown_enum_values_are_refused() {
        let key = SecretKey::from_seed(&[1; 32]);
        let mut pb = entry_to_pb(&Entry {
            author: NodeId::new(key.public_key()),
            seq: 1,
            prev: None,
            created_at: 1,
            expires_at: None,
            object_id: "x".into(),
            body: Body::Event(Event::default()),
        });
        if let Some(pb::entry::Body::Event(ev)) = &mut pb.body {
            ev.status = 42;
        }
        let e = ProtoCodec.decode_entry(&pb.encode_to_vec()).unwrap_err();
        assert!(e.0.contains("event.status"), "{e}");
        pb.body = None;
        assert!(ProtoCodec.decode_entry(&pb.encode_to_vec()).is_err());
        pb.author = vec![1; 31];
        assert!(ProtoCodec
            .decode_entry(&pb.encode_to_vec())
            .unwrap_err()
            .0
            .contains("author"));
    }
}
