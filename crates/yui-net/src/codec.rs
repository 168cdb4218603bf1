//! Conversions between the generated protobuf types and `yui-core` types,
//! and [`ProtoCodec`], the [`Codec`] every node uses.
//!
//! Decoding is strict: unknown enum values, missing required messages and
//! malformed keys are errors, never defaults. Encoding happens once per own
//! entry; received bytes are never re-encoded.

use prost::Message;
use yui_core::content::{
    AckKind, Acknowledgement, AidLine, AidMessage, AidResource, AidStep, Attachment,
    AttendanceMode, CallForPartners, CallKind, Case, Contact, Endorsement, Event, EventStatus,
    Facility, ObjectRef, OperationalStatus, Partnership, PartnershipKind, PolicyArea, Profile,
    ProfileKind, Readiness, Reply, ResourceMessage, ResourceMessageType, Retraction, Revocation,
    Shelter, StaffOffer, Supply,
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

    fn split_restricted(
        &self,
        entry: &Entry,
        parts: &[yui_core::audience::SealPart],
    ) -> Option<(Entry, Vec<u8>, Vec<yui_core::audience::SealPart>)> {
        sealed::split(entry, parts)
    }

    fn merge_restricted(
        &self,
        public: &[u8],
        fragment: &[u8],
        parts: &[yui_core::audience::SealPart],
    ) -> Result<Entry, DecodeError> {
        sealed::merge(public, fragment, parts)
    }
}

mod sealed;

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
        exercise: e.exercise,
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
        exercise: e.exercise,
    })
}

/// Maps a core enum to and from its wire enum; UNSPECIFIED and unknown values
/// are refused on decode.
macro_rules! wire_enum {
    ($to:ident, $from:ident, $core:ty, $pb:ty, $field:literal, { $($c:ident => $p:ident),* $(,)? }) => {
        fn $to(v: $core) -> i32 {
            match v { $(<$core>::$c => <$pb>::$p as i32,)* }
        }
        fn $from(v: i32) -> Result<$core, DecodeError> {
            match <$pb>::try_from(v) {
                $(Ok(<$pb>::$p) => Ok(<$core>::$c),)*
                Ok(_) => Err(err(concat!($field, " is required"))),
                Err(_) => Err(err(format!(concat!($field, ": unknown value {}"), v))),
            }
        }
    };
}

wire_enum!(op_to_pb, op_from_pb, OperationalStatus, pb::OperationalStatus, "status", {
    Normal => Normal, Degraded => Degraded, Down => Down,
});
wire_enum!(rm_to_pb, rm_from_pb, ResourceMessageType, pb::ResourceMessageType, "resources.type", {
    Request => Request, Offer => Offer, Commit => Commit, Decline => Decline, Cancel => Cancel, Release => Release,
});
wire_enum!(ack_to_pb, ack_from_pb, AckKind, pb::AcknowledgementKind, "acknowledgement.kind", {
    Read => Read, Received => Received,
});
wire_enum!(step_to_pb, step_from_pb, AidStep, pb::AidStep, "aid.step", {
    Request => Request, Offer => Offer, Decline => Decline, Accept => Accept, Commit => Commit,
    Dispatch => Dispatch, Arrive => Arrive, Release => Release, Cancel => Cancel,
});
wire_enum!(aidres_to_pb, aidres_from_pb, AidResource, pb::AidResource, "aid.lines.resource", {
    Supply => Supply, Staff => Staff, Money => Money, Shelter => Shelter,
});

fn ref_to_pb(r: &Option<ObjectRef>) -> String {
    r.as_ref().map(ObjectRef::to_string).unwrap_or_default()
}

fn ref_from_pb(s: &str, field: &str) -> Result<Option<ObjectRef>, DecodeError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|e| err(format!("{field}: {e}")))
}

fn aid_to_pb(a: &AidMessage) -> pb::AidMessage {
    pb::AidMessage {
        step: step_to_pb(a.step),
        request: ref_to_pb(&a.request),
        offer: ref_to_pb(&a.offer),
        lines: a
            .lines
            .iter()
            .map(|l| pb::AidLine {
                resource: aidres_to_pb(l.resource),
                what: text_to_pb(&l.what),
                quantity: l.quantity,
                unit: l.unit.clone(),
                days: l.days,
                answers_line: l.answers_line,
            })
            .collect(),
        to: a.to.clone(),
        to_partners: a.to_partners,
        needed_by: a.needed_by,
        deliver_to: text_to_pb(&a.deliver_to),
        eta: a.eta,
        note: text_to_pb(&a.note),
        exercise: a.exercise,
    }
}

fn aid_from_pb(a: pb::AidMessage) -> Result<AidMessage, DecodeError> {
    Ok(AidMessage {
        step: step_from_pb(a.step)?,
        request: ref_from_pb(&a.request, "aid.request")?,
        offer: ref_from_pb(&a.offer, "aid.offer")?,
        lines: a
            .lines
            .into_iter()
            .map(|l| {
                Ok(AidLine {
                    resource: aidres_from_pb(l.resource)?,
                    what: text_from_pb(l.what),
                    quantity: l.quantity,
                    unit: l.unit,
                    days: l.days,
                    answers_line: l.answers_line,
                })
            })
            .collect::<Result<_, DecodeError>>()?,
        to: a.to,
        to_partners: a.to_partners,
        needed_by: a.needed_by,
        deliver_to: text_from_pb(a.deliver_to),
        eta: a.eta,
        note: text_from_pb(a.note),
        exercise: a.exercise,
    })
}

wire_enum!(area_to_pb, area_from_pb, PolicyArea, pb::PolicyArea, "policy_area", {
    Tourism => Tourism, DisasterPrevention => DisasterPrevention, Education => Education,
    Welfare => Welfare, Economy => Economy, Culture => Culture, Other => Other,
});
wire_enum!(call_to_pb, call_from_pb, CallKind, pb::CallKind, "call_for_partners.kind", {
    Need => Need, Offer => Offer,
});
wire_enum!(pk_to_pb, pk_from_pb, PartnershipKind, pb::PartnershipKind, "partnership.kind", {
    SisterCity => SisterCity, Friendship => Friendship, MutualAid => MutualAid, Network => Network,
});

fn readiness_to_pb(r: &Readiness) -> pb::Readiness {
    pb::Readiness {
        as_of: r.as_of,
        valid_until: r.valid_until,
        alert_level: r.alert_level,
        headline: text_to_pb(&r.headline),
        description: text_to_pb(&r.description),
        communications: op_to_pb(r.communications),
        facilities: r
            .facilities
            .iter()
            .map(|f| pb::Facility {
                name: text_to_pb(&f.name),
                status: op_to_pb(f.status),
                note: text_to_pb(&f.note),
            })
            .collect(),
        supplies: r
            .supplies
            .iter()
            .map(|s| pb::Supply {
                item: text_to_pb(&s.item),
                quantity: s.quantity,
                unit: s.unit.clone(),
                available_from: s.available_from,
            })
            .collect(),
        staff: r
            .staff
            .iter()
            .map(|s| pb::StaffOffer {
                skill: text_to_pb(&s.skill),
                count: s.count,
                days: s.days,
                self_sufficient: s.self_sufficient,
            })
            .collect(),
        shelter: r.shelter.as_ref().map(|s| pb::Shelter {
            capacity: s.capacity,
            available: s.available,
            accepts_outside_evacuees: s.accepts_outside_evacuees,
            location: text_to_pb(&s.location),
        }),
        resources: r
            .resources
            .iter()
            .map(|m| pb::ResourceMessage {
                r#type: rm_to_pb(m.kind),
                message_id: m.message_id.clone(),
                references: m.references.clone(),
                item: text_to_pb(&m.item),
                quantity: m.quantity,
                unit: m.unit.clone(),
                to: m.to.clone(),
                note: text_to_pb(&m.note),
            })
            .collect(),
        area_codes: r.area_codes.clone(),
        contact: contact_to_pb(&r.contact),
        exercise: r.exercise,
    }
}

fn readiness_from_pb(r: pb::Readiness) -> Result<Readiness, DecodeError> {
    Ok(Readiness {
        as_of: r.as_of,
        valid_until: r.valid_until,
        alert_level: r.alert_level,
        headline: text_from_pb(r.headline),
        description: text_from_pb(r.description),
        communications: op_from_pb(r.communications)?,
        facilities: r
            .facilities
            .into_iter()
            .map(|f| {
                Ok(Facility {
                    name: text_from_pb(f.name),
                    status: op_from_pb(f.status)?,
                    note: text_from_pb(f.note),
                })
            })
            .collect::<Result<_, DecodeError>>()?,
        supplies: r
            .supplies
            .into_iter()
            .map(|s| Supply {
                item: text_from_pb(s.item),
                quantity: s.quantity,
                unit: s.unit,
                available_from: s.available_from,
            })
            .collect(),
        staff: r
            .staff
            .into_iter()
            .map(|s| StaffOffer {
                skill: text_from_pb(s.skill),
                count: s.count,
                days: s.days,
                self_sufficient: s.self_sufficient,
            })
            .collect(),
        shelter: r.shelter.map(|s| Shelter {
            capacity: s.capacity,
            available: s.available,
            accepts_outside_evacuees: s.accepts_outside_evacuees,
            location: text_from_pb(s.location),
        }),
        resources: r
            .resources
            .into_iter()
            .map(|m| {
                Ok(ResourceMessage {
                    kind: rm_from_pb(m.r#type)?,
                    message_id: m.message_id,
                    references: m.references,
                    item: text_from_pb(m.item),
                    quantity: m.quantity,
                    unit: m.unit,
                    to: m.to,
                    note: text_from_pb(m.note),
                })
            })
            .collect::<Result<_, DecodeError>>()?,
        area_codes: r.area_codes,
        contact: contact_from_pb(r.contact),
        exercise: r.exercise,
    })
}

fn case_to_pb(c: &Case) -> pb::Case {
    pb::Case {
        title: text_to_pb(&c.title),
        summary: text_to_pb(&c.summary),
        outcomes: text_to_pb(&c.outcomes),
        policy_area: area_to_pb(c.policy_area),
        tags: c.tags.clone(),
        participants: c.participants.clone(),
        period_start: c.period_start.clone(),
        period_end: c.period_end.clone(),
        contact: contact_to_pb(&c.contact),
        attachments: c
            .attachments
            .iter()
            .map(|a| pb::Attachment {
                name: a.name.clone(),
                media_type: a.media_type.clone(),
                sha256: a.sha256.clone(),
                size: a.size,
                url: a.url.clone(),
            })
            .collect(),
        exercise: c.exercise,
    }
}

fn case_from_pb(c: pb::Case) -> Result<Case, DecodeError> {
    Ok(Case {
        title: text_from_pb(c.title),
        summary: text_from_pb(c.summary),
        outcomes: text_from_pb(c.outcomes),
        policy_area: area_from_pb(c.policy_area)?,
        tags: c.tags,
        participants: c.participants,
        period_start: c.period_start,
        period_end: c.period_end,
        contact: contact_from_pb(c.contact),
        attachments: c
            .attachments
            .into_iter()
            .map(|a| Attachment {
                name: a.name,
                media_type: a.media_type,
                sha256: a.sha256,
                size: a.size,
                url: a.url,
            })
            .collect(),
        exercise: c.exercise,
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
            audience_key: p.audience_key.clone(),
        }),
        Body::Event(ev) => B::Event(event_to_pb(ev)),
        Body::Readiness(r) => B::Readiness(readiness_to_pb(r)),
        Body::Case(c) => B::Case(case_to_pb(c)),
        Body::CallForPartners(c) => B::CallForPartners(pb::CallForPartners {
            kind: call_to_pb(c.kind),
            policy_area: area_to_pb(c.policy_area),
            title: text_to_pb(&c.title),
            description: text_to_pb(&c.description),
            deadline: c.deadline.clone(),
            contact: contact_to_pb(&c.contact),
            exercise: c.exercise,
        }),
        Body::Partnership(p) => B::Partnership(pb::Partnership {
            kind: pk_to_pb(p.kind),
            partner: p.partner.as_bytes().to_vec(),
            partner_code: p.partner_code.clone(),
            since: p.since.clone(),
            description: text_to_pb(&p.description),
        }),
        Body::Endorsement(e) => B::Endorsement(pb::Endorsement {
            subject: e.subject.as_bytes().to_vec(),
            name: text_to_pb(&e.name),
            code: e.code.clone(),
            country: e.country.clone(),
        }),
        Body::Revocation(r) => B::Revocation(pb::Revocation {
            subject: r.subject.as_bytes().to_vec(),
            reason: text_to_pb(&r.reason),
        }),
        Body::KeyRotation(k) => B::KeyRotation(pb::KeyRotation {
            new_key: k.new_key.as_bytes().to_vec(),
            countersignature: k.countersignature.0.to_vec(),
        }),
        Body::Acknowledgement(a) => B::Acknowledgement(pb::Acknowledgement {
            entry_id: a.entry_id.0.to_vec(),
            note: text_to_pb(&a.note),
            kind: ack_to_pb(a.kind),
        }),
        Body::Aid(a) => B::Aid(aid_to_pb(a)),
        Body::Reply(r) => B::Reply(pb::Reply {
            about: r.about.to_string(),
            in_reply_to: ref_to_pb(&r.in_reply_to),
            text: text_to_pb(&r.text),
            exercise: r.exercise,
        }),
        Body::Retraction(r) => B::Retraction(pb::Retraction {
            reason: text_to_pb(&r.reason),
        }),
        Body::Audience(a) => B::Audience(sealed::audience_to_pb(a)),
        Body::Withdrawal(w) => B::Withdrawal(sealed::withdrawal_to_pb(w)),
        // Never published (validation refuses it); received ones keep their
        // bytes and are never re-encoded.
        Body::Unknown(_) => return pb_entry(e, None),
        _ => unreachable!("every body kind has a wire form"),
    };
    pb_entry(e, Some(body))
}

fn pb_entry(e: &Entry, body: Option<pb::entry::Body>) -> pb::Entry {
    pb::Entry {
        author: e.author.as_bytes().to_vec(),
        seq: e.seq,
        prev: e.prev.map(|p| p.0.to_vec()).unwrap_or_default(),
        created_at: e.created_at,
        expires_at: e.expires_at.unwrap_or(0),
        object_id: e.object_id.clone(),
        sealed: e.sealed.as_ref().map(sealed::sealed_to_pb),
        body,
    }
}

/// Wire entry to the core type.
pub fn entry_from_pb(mut e: pb::Entry) -> Result<Entry, DecodeError> {
    let author = node_id_from_pb(&e.author, "author")?;
    let prev = if e.prev.is_empty() {
        None
    } else {
        Some(EntryId::from_slice(&e.prev).ok_or_else(|| err("prev must be 32 bytes"))?)
    };
    // No body this release knows (a newer kind, or none at all), or a value
    // of an enum it does not know: an unknown body, stored and forwarded as
    // it came. Every release reads the header the same way, so every
    // release agrees the entry belongs to the log.
    let Some(body) = e.body.take() else {
        return Ok(header(
            e,
            author,
            prev,
            unknown("no body kind this release knows"),
        ));
    };
    let body = match body_from_pb(body) {
        Ok(b) => b,
        Err(d) if d.0.contains(UNKNOWN_VALUE) => unknown(&d.0),
        Err(d) => return Err(d),
    };
    Ok(header(e, author, prev, body))
}

/// The marker in the error for an enum value this release does not know.
const UNKNOWN_VALUE: &str = ": unknown value ";

fn unknown(reason: &str) -> Body {
    Body::Unknown(yui_core::content::UnknownBody {
        reason: reason.to_owned(),
    })
}

fn header(e: pb::Entry, author: NodeId, prev: Option<EntryId>, body: Body) -> Entry {
    Entry {
        author,
        seq: e.seq,
        prev,
        created_at: e.created_at,
        expires_at: (e.expires_at != 0).then_some(e.expires_at),
        object_id: e.object_id,
        sealed: e.sealed.map(sealed::sealed_from_pb),
        body,
    }
}

fn body_from_pb(body: pb::entry::Body) -> Result<Body, DecodeError> {
    use pb::entry::Body as B;
    Ok(match body {
        B::Profile(p) => Body::Profile(Profile {
            name: text_from_pb(p.name),
            kind: profile_kind_from_pb(p.kind)?,
            country: p.country,
            code: p.code,
            languages: p.languages,
            contact: contact_from_pb(p.contact),
            audience_key: p.audience_key,
        }),
        B::Event(ev) => Body::Event(event_from_pb(ev)?),
        B::Readiness(r) => Body::Readiness(readiness_from_pb(r)?),
        B::Case(c) => Body::Case(case_from_pb(c)?),
        B::CallForPartners(c) => Body::CallForPartners(CallForPartners {
            kind: call_from_pb(c.kind)?,
            policy_area: area_from_pb(c.policy_area)?,
            title: text_from_pb(c.title),
            description: text_from_pb(c.description),
            deadline: c.deadline,
            contact: contact_from_pb(c.contact),
            exercise: c.exercise,
        }),
        B::Partnership(p) => Body::Partnership(Partnership {
            kind: pk_from_pb(p.kind)?,
            partner: node_id_from_pb(&p.partner, "partnership.partner")?,
            partner_code: p.partner_code,
            since: p.since,
            description: text_from_pb(p.description),
        }),
        B::Endorsement(e) => Body::Endorsement(Endorsement {
            subject: node_id_from_pb(&e.subject, "endorsement.subject")?,
            name: text_from_pb(e.name),
            code: e.code,
            country: e.country,
        }),
        B::Revocation(r) => Body::Revocation(Revocation {
            subject: node_id_from_pb(&r.subject, "revocation.subject")?,
            reason: text_from_pb(r.reason),
        }),
        B::KeyRotation(k) => Body::KeyRotation(yui_core::content::KeyRotation {
            new_key: node_id_from_pb(&k.new_key, "key_rotation.new_key")?,
            countersignature: Signature::from_slice(&k.countersignature)
                .map_err(|e| err(format!("key_rotation.countersignature: {e}")))?,
        }),
        B::Acknowledgement(a) => Body::Acknowledgement(Acknowledgement {
            entry_id: EntryId::from_slice(&a.entry_id)
                .ok_or_else(|| err("acknowledgement.entry_id must be 32 bytes"))?,
            note: text_from_pb(a.note),
            // 0 is every acknowledgement from before kinds: a person read it.
            kind: if a.kind == 0 {
                AckKind::Read
            } else {
                ack_from_pb(a.kind)?
            },
        }),
        B::Aid(a) => Body::Aid(aid_from_pb(a)?),
        B::Reply(r) => Body::Reply(Reply {
            about: ref_from_pb(&r.about, "reply.about")?
                .ok_or_else(|| err("reply.about is required"))?,
            in_reply_to: ref_from_pb(&r.in_reply_to, "reply.in_reply_to")?,
            text: text_from_pb(r.text),
            exercise: r.exercise,
        }),
        B::Retraction(r) => Body::Retraction(Retraction {
            reason: text_from_pb(r.reason),
        }),
        B::Audience(a) => Body::Audience(sealed::audience_from_pb(a)?),
        B::Withdrawal(w) => Body::Withdrawal(sealed::withdrawal_from_pb(w)),
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
                    sealed: None,
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

    /// A newer release's body (a kind or an enum value this one does not
    /// know, or none) is an unknown body, not a refusal: stored and
    /// forwarded like any entry, so releases agree on every log. A broken
    /// header is still refused.
    #[test]
    fn unknown_bodies_and_enum_values_decode_as_unknown() {
        let key = SecretKey::from_seed(&[1; 32]);
        let mut pb = entry_to_pb(&Entry {
            sealed: None,
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
        let e = ProtoCodec.decode_entry(&pb.encode_to_vec()).unwrap();
        match &e.body {
            Body::Unknown(u) => assert!(u.reason.contains("event.status"), "{u:?}"),
            b => panic!("decoded as {b:?}"),
        }
        assert_eq!((e.seq, e.object_id.as_str()), (1, "x"));
        pb.body = None;
        let mut bytes = pb.encode_to_vec();
        // Field 40, a body kind from a newer release (length-delimited).
        bytes.extend_from_slice(&[0xc2, 0x02, 0x03, 0x0a, 0x01, 0x41]);
        let e = ProtoCodec.decode_entry(&bytes).unwrap();
        assert_eq!(e.body.kind(), yui_core::Kind::Unknown);
        // An unknown body is never published.
        assert!(yui_core::validate::publishable(&e.body).is_err());
        pb.author = vec![1; 31];
        assert!(ProtoCodec
            .decode_entry(&pb.encode_to_vec())
            .unwrap_err()
            .0
            .contains("author"));
    }
}

#[cfg(test)]
mod every_kind;
