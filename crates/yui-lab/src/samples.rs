//! Realistic sample content, in Japanese and English, for the demo and the
//! tests: a winter-cities summit, a disaster mutual-aid drill between a Tokyo
//! ward and a rural town, an elderly-care cooperation case, readiness during
//! heavy rain, a ward ready to help and a snow drill, a joint drill case, a
//! call for tourism partners and an offer that fits it, a mutual-aid
//! agreement.

use yui_core::content::{
    AidLine, AidMessage, AidResource, AidStep, AttendanceMode, CallForPartners, CallKind, Case,
    Contact, Event, EventStatus, OperationalStatus, Partnership, PartnershipKind, PolicyArea,
    Profile, ProfileKind, Readiness, Shelter, StaffOffer, Supply,
};
use yui_core::{LocalizedText, NodeId};

/// Text in Japanese and English.
pub fn ja_en(ja: &str, en: &str) -> LocalizedText {
    LocalizedText(vec![("ja".into(), ja.into()), ("en".into(), en.into())])
}

/// A profile.
pub fn profile(ja: &str, en: &str, kind: ProfileKind, code: &str) -> Profile {
    Profile {
        audience_key: Vec::new(),
        name: ja_en(ja, en),
        kind,
        country: "JP".into(),
        code: code.into(),
        languages: vec!["ja".into(), "en".into()],
        contact: Contact {
            department: ja_en(
                "企画政策課 国際交流係",
                "Planning Division, International Exchange",
            ),
            email: "kouryu@example.jp".into(),
            ..Default::default()
        },
    }
}

/// The World Winter Cities summit in Sapporo.
pub fn winter_cities_summit() -> Event {
    Event {
        title: ja_en(
            "世界冬の都市市長会議 2027",
            "World Winter Cities Mayors Summit 2027",
        ),
        description: ja_en(
            "雪と共生するまちづくりの事例を持ち寄る国際会議。",
            "Member cities share how they live with snow.",
        ),
        status: EventStatus::Confirmed,
        start: "2027-02-10T10:00:00+09:00".into(),
        end: "2027-02-12T17:00:00+09:00".into(),
        time_zone: "Asia/Tokyo".into(),
        attendance: AttendanceMode::Mixed,
        location: ja_en("札幌コンベンションセンター", "Sapporo Convention Center"),
        online_url: "https://example.org/wwcam-2027".into(),
        organisers: vec!["011002".into()],
        category: "culture".into(),
        ..Default::default()
    }
}

/// The Suginami–Minami-Izu tabletop drill, three weeks from today (Tokyo
/// time), so that the demo's calendar always shows it among the events
/// to come.
pub fn joint_drill() -> Event {
    let tokyo = chrono::FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset");
    let day = (chrono::Utc::now().with_timezone(&tokyo) + chrono::Duration::days(21)).date_naive();
    Event {
        title: ja_en("杉並区・南伊豆町 合同防災図上訓練", "Suginami–Minami-Izu joint disaster tabletop drill"),
        description: ja_en(
            "大規模地震を想定し、物資・職員派遣・避難者受入れの手順をオンラインで確認します。",
            "Online drill of supplies, staff dispatch and evacuee reception after a major earthquake.",
        ),
        start: format!("{day}T13:30:00+09:00"),
        end: format!("{day}T16:00:00+09:00"),
        time_zone: "Asia/Tokyo".into(),
        attendance: AttendanceMode::Online,
        online_url: "https://example.org/drill".into(),
        organisers: vec!["223042".into()],
        partners: vec!["131156".into()],
        category: "disaster-drill".into(),
        contact: Contact {
            department: ja_en("総務課 防災係", "General Affairs, Disaster Prevention"),
            email: "bousai@example.jp".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A visit to the jointly built nursing home.
pub fn nursing_home_visit() -> Event {
    Event {
        title: ja_en(
            "南伊豆町 特別養護老人ホーム 見学会",
            "Visit to the Minami-Izu nursing home",
        ),
        description: ja_en(
            "杉並区と南伊豆町が共同で整備した特別養護老人ホームの運営事例を紹介します。",
            "How Suginami and Minami-Izu run the nursing home they opened together.",
        ),
        start: "2027-03-15T10:00:00+09:00".into(),
        duration_minutes: 180,
        time_zone: "Asia/Tokyo".into(),
        location: ja_en("静岡県賀茂郡南伊豆町", "Minami-Izu, Shizuoka"),
        organisers: vec!["131156".into(), "223042".into()],
        category: "welfare".into(),
        ..Default::default()
    }
}

/// A forum held by the regional body.
pub fn exchange_forum() -> Event {
    Event {
        title: ja_en(
            "ネットワーク型交流フォーラム",
            "Network-type exchange forum",
        ),
        start: "2027-01-20T14:00:00+09:00".into(),
        end: "2027-01-20T17:00:00+09:00".into(),
        time_zone: "Asia/Tokyo".into(),
        attendance: AttendanceMode::Mixed,
        location: ja_en("東京都庁", "Tokyo Metropolitan Government Building"),
        category: "forum".into(),
        ..Default::default()
    }
}

/// Readiness during heavy rain (alert level 3), with supplies, staff,
/// shelter places and an EDXL-RM request addressed to `partner_code`.
pub fn heavy_rain_readiness(now: i64) -> Readiness {
    Readiness {
        as_of: now,
        valid_until: now + 6 * 3_600_000,
        alert_level: 3,
        headline: ja_en(
            "大雨のため高齢者等避難を発令",
            "Heavy rain: elderly and others to evacuate",
        ),
        description: ja_en(
            "町内全域に警戒レベル3。避難所を開設し、域外からの避難者も受け入れ可能です。",
            "Alert level 3 town-wide. Shelters are open and accept evacuees from outside the town.",
        ),
        communications: OperationalStatus::Degraded,
        facilities: vec![yui_core::content::Facility {
            name: ja_en("役場本庁舎", "Town hall"),
            status: OperationalStatus::Normal,
            note: ja_en("非常用電源で稼働", "Running on emergency power"),
        }],
        supplies: vec![
            Supply {
                item: ja_en("毛布", "Blankets"),
                quantity: 500.0,
                unit: "pcs".into(),
                available_from: 0,
            },
            Supply {
                item: ja_en("飲料水", "Drinking water"),
                quantity: 2.0,
                unit: "t".into(),
                available_from: 0,
            },
        ],
        staff: vec![StaffOffer {
            skill: ja_en("保健師", "Public health nurses"),
            count: 3,
            days: 7,
            self_sufficient: true,
        }],
        shelter: Some(Shelter {
            capacity: 200,
            available: 120,
            accepts_outside_evacuees: true,
            location: ja_en("町民体育館", "Town gymnasium"),
        }),
        resources: Vec::new(),
        area_codes: vec!["223042".into()],
        contact: Contact {
            department: ja_en("総務課 防災係", "General Affairs, Disaster Prevention"),
            phone: "+81-558-00-0000".into(),
            ..Default::default()
        },
        exercise: false,
    }
}

/// Readiness of a ward with nothing to report (level 0), ready to help:
/// supplies, staff and places for evacuees from outside.
pub fn ready_to_help(now: i64) -> Readiness {
    Readiness {
        as_of: now,
        valid_until: now + 24 * 3_600_000,
        alert_level: 0,
        headline: ja_en("平常時。応援の準備あり", "Normal. Ready to send help"),
        communications: OperationalStatus::Normal,
        supplies: vec![Supply {
            item: ja_en("簡易トイレ", "Portable toilets"),
            quantity: 300.0,
            unit: "pcs".into(),
            available_from: now,
        }],
        staff: vec![
            StaffOffer {
                skill: ja_en("保健師", "Public health nurses"),
                count: 4,
                days: 5,
                self_sufficient: true,
            },
            StaffOffer {
                skill: ja_en("土木技師", "Civil engineers"),
                count: 2,
                days: 7,
                self_sufficient: true,
            },
        ],
        shelter: Some(Shelter {
            capacity: 400,
            available: 350,
            accepts_outside_evacuees: true,
            location: ja_en("区立体育館", "Ward gymnasium"),
        }),
        area_codes: vec!["131156".into()],
        contact: Contact {
            department: ja_en(
                "危機管理室 防災課",
                "Crisis Management, Disaster Prevention",
            ),
            phone: "+81-3-0000-0000".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A heavy-snow drill (訓練): readiness marked as an exercise.
pub fn snow_drill(now: i64) -> Readiness {
    Readiness {
        as_of: now,
        valid_until: now + 12 * 3_600_000,
        alert_level: 2,
        headline: ja_en(
            "【訓練】大雪に備えた広域応援の図上訓練",
            "[Drill] Tabletop drill for wide-area support in heavy snow",
        ),
        description: ja_en(
            "本日の表示は訓練です。除雪車の相互派遣の手順を確認しています。",
            "Today's status is a drill: checking how snowploughs are lent between cities.",
        ),
        communications: OperationalStatus::Normal,
        staff: vec![StaffOffer {
            skill: ja_en("除雪オペレーター", "Snowplough operators"),
            count: 6,
            days: 3,
            self_sufficient: true,
        }],
        area_codes: vec!["011002".into()],
        exercise: true,
        ..Default::default()
    }
}

/// A joint disaster drill case (disaster prevention).
pub fn joint_drill_case() -> Case {
    Case {
        title: ja_en(
            "都市と地方の合同防災訓練による受援体制づくり",
            "Joint disaster drills between a city ward and a rural town",
        ),
        summary: ja_en(
            "杉並区と南伊豆町は毎年合同防災訓練を行い、災害時の職員派遣と物資輸送の手順を共有している。",
            "Suginami and Minami-Izu drill together every year and share how staff and supplies are sent after a disaster.",
        ),
        outcomes: ja_en(
            "応援職員の受け入れ手順書を共同で作成。訓練参加者は延べ300人。",
            "A shared handbook for receiving support staff; 300 participants so far.",
        ),
        policy_area: PolicyArea::DisasterPrevention,
        tags: vec!["防災".into(), "相互応援".into(), "訓練".into()],
        participants: vec!["131156".into(), "223042".into()],
        period_start: "2019-04-01".into(),
        period_end: String::new(),
        contact: Contact {
            name: ja_en("佐藤 健", "Ken Sato"),
            department: ja_en("総務課 防災係", "General Affairs, Disaster Prevention"),
            phone: "+81-558-00-0000".into(),
            ..Default::default()
        },
        attachments: Vec::new(),
        exercise: false,
    }
}

/// An offer of tourism cooperation (fits the winter tourism call).
pub fn tourism_offer() -> CallForPartners {
    CallForPartners {
        kind: CallKind::Offer,
        policy_area: PolicyArea::Tourism,
        title: ja_en(
            "区内アンテナショップで連携自治体の観光プロモーションに協力します",
            "Our ward's shop promotes partner towns' tourism",
        ),
        description: ja_en(
            "区の施設でパンフレット配布や観光物産展を開催できます。冬の観光キャンペーンにも参加可能です。",
            "Brochures and tourism fairs at ward facilities, including winter campaigns.",
        ),
        deadline: String::new(),
        contact: Contact {
            email: "kouryu@example.jp".into(),
            ..Default::default()
        },
        exercise: false,
    }
}

/// The jointly built nursing home (elderly care).
pub fn nursing_home_case() -> Case {
    Case {
        title: ja_en("区外での特別養護老人ホーム共同整備", "A nursing home built together outside the ward"),
        summary: ja_en(
            "杉並区と南伊豆町が連携し、南伊豆町内に特別養護老人ホームを整備。区民の入所先を確保しつつ、町の雇用と地域経済に貢献した。",
            "Suginami Ward and Minami-Izu Town opened a nursing home in Minami-Izu: places for ward residents, jobs for the town.",
        ),
        outcomes: ja_en("入所定員100名、町内雇用約60名", "100 places, about 60 local jobs"),
        policy_area: PolicyArea::Welfare,
        tags: vec!["介護".into(), "高齢者福祉".into(), "自治体間連携".into()],
        participants: vec!["131156".into(), "223042".into()],
        period_start: "2015-04-01".into(),
        period_end: "2018-03-31".into(),
        contact: Contact {
            name: ja_en("山田 花子", "Hanako Yamada"),
            department: ja_en("保健福祉部 高齢者施策課", "Health and Welfare, Elderly Policy"),
            email: "koureisha@example.jp".into(),
            ..Default::default()
        },
        attachments: vec![yui_core::content::Attachment {
            name: "report-2018.pdf".into(),
            media_type: "application/pdf".into(),
            sha256: "3f5a0c1d2e4b6a7980f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b".into(),
            size: 1_482_113,
            url: String::new(),
        }],
        exercise: false,
    }
}

/// A call for winter tourism partners.
pub fn tourism_call() -> CallForPartners {
    CallForPartners {
        kind: CallKind::Need,
        policy_area: PolicyArea::Tourism,
        title: ja_en(
            "冬季観光プロモーションの連携自治体を募集",
            "Partners wanted for winter tourism promotion",
        ),
        description: ja_en(
            "雪まつり期間中の共同観光パンフレット制作と相互送客に参加する自治体を募集します。",
            "Join a shared brochure and visitor exchange during the snow festival.",
        ),
        deadline: "2027-03-31".into(),
        contact: Contact {
            email: "kanko@example.jp".into(),
            ..Default::default()
        },
        exercise: false,
    }
}

/// A mutual-aid agreement with `partner`.
pub fn mutual_aid(partner: NodeId, partner_code: &str) -> Partnership {
    Partnership {
        kind: PartnershipKind::MutualAid,
        partner,
        partner_code: partner_code.into(),
        since: "2012-01-20".into(),
        description: ja_en("災害時相互援助協定", "Disaster mutual-aid agreement"),
    }
}

/// A request for help after the heavy rain: blankets and public health
/// nurses (保健師), addressed to the named municipalities.
pub fn blankets_and_nurses(now: i64, to: &[&str]) -> AidMessage {
    AidMessage {
        step: AidStep::Request,
        lines: vec![
            AidLine {
                resource: AidResource::Supply,
                what: ja_en("毛布", "Blankets"),
                quantity: 500.0,
                unit: "枚".into(),
                ..Default::default()
            },
            AidLine {
                resource: AidResource::Staff,
                what: ja_en("保健師", "Public health nurses"),
                quantity: 2.0,
                unit: "人".into(),
                days: 7,
                ..Default::default()
            },
        ],
        to: to.iter().map(|c| (*c).to_owned()).collect(),
        needed_by: now + 48 * 3_600_000,
        deliver_to: ja_en(
            "南伊豆町役場 防災倉庫",
            "Minami-Izu town hall, disaster store",
        ),
        note: ja_en("避難所の夜間冷え込み対策", "Shelters are cold at night"),
        ..Default::default()
    }
}
