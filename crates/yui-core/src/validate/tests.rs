//! Validity rules: good entries pass, and each defect is refused by name.

use super::*;
use crate::{NodeId, SecretKey};

fn event_entry(seq: u64, prev: Option<EntryId>) -> Entry {
    Entry {
        sealed: None,
        author: NodeId::new(SecretKey::from_seed(&[1; 32]).public_key()),
        seq,
        prev,
        created_at: 1_800_000_000_000,
        expires_at: None,
        object_id: "winter-cities-2027".into(),
        body: Body::Event(Event {
            title: LocalizedText::one("ja", "世界冬の都市市長会議"),
            start: "2027-02-10T10:00:00+09:00".into(),
            end: "2027-02-12T17:00:00+09:00".into(),
            time_zone: "Asia/Tokyo".into(),
            organisers: vec!["011002".into()],
            ..Default::default()
        }),
    }
}

#[test]
fn municipality_codes() {
    for ok in ["131016", "131130", "131041", "011002", "KR-busan"] {
        validate_municipality_code(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in ["131017", "13101", "1310166", "kr-busan", "KR-", "abc"] {
        assert!(validate_municipality_code(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn good_event_passes_and_each_defect_is_named() {
    let now = 1_800_000_000_000;
    let l = Limits::default();
    let e = event_entry(1, None);
    validate_entry(&e, 100, now, &l).unwrap();

    let mut bad = e.clone();
    bad.seq = 0;
    assert!(matches!(
        validate_entry(&bad, 100, now, &l),
        Err(ValidationError::Invalid { field: "seq", .. })
    ));
    let mut bad = e.clone();
    bad.seq = 2;
    assert_eq!(
        validate_entry(&bad, 100, now, &l),
        Err(ValidationError::Missing("prev"))
    );
    let mut bad = e.clone();
    bad.created_at = now + 3_600_000;
    assert!(matches!(
        validate_entry(&bad, 100, now, &l),
        Err(ValidationError::FromTheFuture { .. })
    ));
    assert!(matches!(
        validate_entry(&e, 70_000, now, &l),
        Err(ValidationError::TooLarge { .. })
    ));
    let mut bad = e.clone();
    bad.object_id = "has space".into();
    assert!(validate_entry(&bad, 100, now, &l).is_err());
    let mut bad = e.clone();
    if let Body::Event(ev) = &mut bad.body {
        ev.end = "2027-02-09T10:00:00+09:00".into();
    }
    assert!(matches!(
        validate_entry(&bad, 100, now, &l),
        Err(ValidationError::Invalid {
            field: "event.end",
            ..
        })
    ));
    let mut bad = e.clone();
    if let Body::Event(ev) = &mut bad.body {
        ev.title = LocalizedText::one("japanese!", "x");
    }
    assert!(validate_entry(&bad, 100, now, &l).is_err());
    let mut bad = e.clone();
    if let Body::Event(ev) = &mut bad.body {
        ev.time_zone = "Asia/Sapporo".into();
    }
    assert!(matches!(
        validate_entry(&bad, 100, now, &l),
        Err(ValidationError::Invalid {
            field: "event.time_zone",
            ..
        })
    ));
    let mut bad = e;
    if let Body::Event(ev) = &mut bad.body {
        ev.start = "next tuesday".into();
    }
    assert!(matches!(
        validate_entry(&bad, 100, now, &l),
        Err(ValidationError::Invalid {
            field: "event.start",
            ..
        })
    ));
}

#[test]
fn aid_steps_carry_what_they_need() {
    use crate::content::{AidLine, AidMessage, AidStep, ObjectRef};
    let me = NodeId::new(SecretKey::from_seed(&[3; 32]).public_key());
    let line = |q: f64| AidLine {
        what: LocalizedText::one("ja", "毛布"),
        quantity: q,
        ..Default::default()
    };
    let check = |a: AidMessage| {
        let mut e = event_entry(1, None);
        e.body = Body::Aid(a);
        validate_entry(&e, 100, 1_800_000_000_000, &Limits::default())
    };
    let request = AidMessage {
        step: AidStep::Request,
        lines: vec![line(500.0)],
        to: vec!["131156".into()],
        ..Default::default()
    };
    assert_eq!(check(request.clone()), Ok(()));
    let field = |r: Result<(), ValidationError>| match r {
        Err(ValidationError::Invalid { field, .. }) => field,
        Err(ValidationError::Missing(field)) => field,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let nobody = AidMessage {
        to: Vec::new(),
        ..request.clone()
    };
    assert_eq!(field(check(nobody)), "aid.to");
    let empty = AidMessage {
        lines: Vec::new(),
        ..request.clone()
    };
    assert_eq!(field(check(empty)), "aid.lines");
    for q in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let bad = AidMessage {
            lines: vec![line(q)],
            ..request.clone()
        };
        assert_eq!(field(check(bad)), "aid.lines.quantity");
    }
    let bad_code = AidMessage {
        to: vec!["131157".into()],
        ..request.clone()
    };
    assert_eq!(field(check(bad_code)), "aid.to");
    let r = ObjectRef::new(me, "aid-1");
    let decline = AidMessage {
        step: AidStep::Decline,
        request: Some(r.clone()),
        ..Default::default()
    };
    assert_eq!(field(check(decline)), "aid.note");
    let commit = AidMessage {
        step: AidStep::Commit,
        request: Some(r),
        ..Default::default()
    };
    assert_eq!(field(check(commit)), "aid.offer");
    let reply = Body::Reply(crate::content::Reply {
        about: ObjectRef::new(me, "case-1"),
        in_reply_to: None,
        text: LocalizedText::default(),
        exercise: false,
    });
    let mut e = event_entry(1, None);
    e.body = reply;
    assert_eq!(
        validate_entry(&e, 100, 1_800_000_000_000, &Limits::default()),
        Err(ValidationError::Missing("reply.text"))
    );
}

#[test]
fn chain_rule() {
    let id1 = EntryId([1; 32]);
    let id2 = EntryId([2; 32]);
    let head = Some(Head { seq: 1, id: id1 });
    assert_eq!(
        check_chain(None, &event_entry(1, None), id1, None),
        ChainCheck::Append
    );
    assert_eq!(
        check_chain(head, &event_entry(2, Some(id1)), id2, None),
        ChainCheck::Append
    );
    assert_eq!(
        check_chain(head, &event_entry(2, Some(id2)), id2, None),
        ChainCheck::PrevMismatch
    );
    assert_eq!(
        check_chain(head, &event_entry(1, None), id1, Some(id1)),
        ChainCheck::Duplicate
    );
    assert_eq!(
        check_chain(head, &event_entry(1, None), id2, Some(id1)),
        ChainCheck::Fork { existing: id1 }
    );
    assert_eq!(
        check_chain(head, &event_entry(3, Some(id2)), id2, None),
        ChainCheck::Gap { head: 1 }
    );
}
