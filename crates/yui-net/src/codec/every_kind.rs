//! Every body kind through the wire form and back.

use super::*;
use yui_core::SecretKey;

fn t(ja: &str) -> LocalizedText {
    LocalizedText(vec![("ja".into(), ja.into()), ("en".into(), "x".into())])
}

#[test]
fn every_body_kind_round_trips() {
    let partner = NodeId::new(SecretKey::from_seed(&[2; 32]).public_key());
    let bodies = vec![
        Body::Profile(Profile {
            audience_key: Vec::new(),
            name: t("杉並区"),
            kind: ProfileKind::SpecialWard,
            country: "JP".into(),
            code: "131156".into(),
            languages: vec!["ja".into(), "en".into()],
            contact: Contact {
                email: "a@example.jp".into(),
                ..Default::default()
            },
        }),
        Body::Readiness(Readiness {
            as_of: 1,
            valid_until: 2,
            alert_level: 4,
            headline: t("避難指示"),
            description: t("土砂災害警戒"),
            communications: OperationalStatus::Degraded,
            facilities: vec![Facility {
                name: t("本庁舎"),
                status: OperationalStatus::Down,
                note: t("停電"),
            }],
            supplies: vec![Supply {
                item: t("毛布"),
                quantity: 500.0,
                unit: "pcs".into(),
                available_from: 3,
            }],
            staff: vec![StaffOffer {
                skill: t("保健師"),
                count: 3,
                days: 7,
                self_sufficient: true,
            }],
            shelter: Some(Shelter {
                capacity: 200,
                available: 120,
                accepts_outside_evacuees: true,
                location: t("体育館"),
            }),
            resources: vec![ResourceMessage {
                kind: ResourceMessageType::Commit,
                message_id: "c1".into(),
                references: format!("{partner}/r1"),
                item: t("飲料水"),
                quantity: 2.5,
                unit: "t".into(),
                to: vec!["223042".into()],
                note: t("明朝発送"),
            }],
            area_codes: vec!["223042".into()],
            contact: Contact::default(),
            exercise: true,
        }),
        Body::Case(Case {
            title: t("特別養護老人ホームの共同整備"),
            policy_area: PolicyArea::Welfare,
            tags: vec!["介護".into()],
            participants: vec!["131156".into(), "223042".into()],
            period_start: "2015-04-01".into(),
            attachments: vec![Attachment {
                name: "report.pdf".into(),
                sha256: "a".repeat(64),
                size: 10,
                ..Default::default()
            }],
            ..Default::default()
        }),
        Body::CallForPartners(CallForPartners {
            kind: CallKind::Offer,
            policy_area: PolicyArea::Tourism,
            title: t("観光パンフレット共同制作"),
            deadline: "2027-03-31".into(),
            ..Default::default()
        }),
        Body::Partnership(Partnership {
            kind: PartnershipKind::MutualAid,
            partner,
            partner_code: "223042".into(),
            since: "2012-01-01".into(),
            description: t("災害時相互応援協定"),
        }),
        Body::Acknowledgement(Acknowledgement {
            entry_id: EntryId([5; 32]),
            note: t("受領しました"),
            kind: AckKind::Received,
        }),
        Body::Retraction(Retraction {
            reason: t("中止")
        }),
        Body::Aid(AidMessage {
            step: AidStep::Commit,
            request: Some(ObjectRef::new(
                NodeId::new(SecretKey::from_seed(&[2; 32]).public_key()),
                "aid-1",
            )),
            offer: Some(ObjectRef::new(
                NodeId::new(SecretKey::from_seed(&[1; 32]).public_key()),
                "aid/offer 2",
            )),
            lines: vec![AidLine {
                resource: AidResource::Staff,
                what: t("保健師"),
                quantity: 2.0,
                unit: "人".into(),
                days: 7,
                answers_line: 2,
            }],
            to: vec!["131156".into()],
            to_partners: true,
            needed_by: 5,
            deliver_to: t("役場"),
            eta: 9,
            note: t("二名"),
            exercise: true,
        }),
        Body::Reply(Reply {
            about: ObjectRef::new(
                NodeId::new(SecretKey::from_seed(&[2; 32]).public_key()),
                "case-1",
            ),
            in_reply_to: None,
            text: t("資料をいただけますか"),
            exercise: false,
        }),
    ];
    for body in bodies {
        let e = Entry {
            sealed: None,
            author: NodeId::new(SecretKey::from_seed(&[1; 32]).public_key()),
            seq: 1,
            prev: None,
            created_at: 1,
            expires_at: None,
            object_id: "o".into(),
            body,
        };
        let back = ProtoCodec
            .decode_entry(&ProtoCodec.encode_entry(&e))
            .unwrap();
        assert_eq!(back, e);
    }
}
