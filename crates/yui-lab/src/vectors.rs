//! Test vectors of the protocol (`docs/vectors/`), written by
//! `yui vectors`: keys, entries with their encodings, signatures and ids,
//! the invalid cases with the verdict each must get, handshake
//! transcripts, and a bundle. Everything is deterministic (fixed seeds,
//! times and nonces), so the files are compared byte for byte with what
//! this release writes; the verdicts are the protocol's (docs/PROTOCOL.md),
//! written here by hand, and checked against the code by the tests.

use std::path::Path;

use serde::{Deserialize, Serialize};
use yui_core::content::{
    AidLine, AidMessage, AidResource, AidStep, Event, Profile, ProfileKind, Reply,
};
use yui_core::{Body, Entry, EntryId, LocalizedText, NodeId, SecretKey, SignedEntry};
use yui_sync::Codec;

/// The time every vector's entries are created at (Unix ms,
/// 2027-01-15T08:00:00Z).
pub const T0: i64 = 1_800_000_000_000;

/// A key of the vectors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyVector {
    /// Name used by the other files.
    pub name: String,
    /// The 32-byte ed25519 seed, hex.
    pub seed: String,
    /// The public key, hex.
    pub public_key: String,
    /// The node id (bech32m of the public key, `yui1…`).
    pub node_id: String,
    /// The key file as `yui init` writes it (PKCS#8 v1 PEM).
    pub pkcs8_pem: String,
}

/// A valid entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EntryVector {
    /// Name.
    pub name: String,
    /// Author key (by name).
    pub author: String,
    /// Seq.
    pub seq: u64,
    /// The `Entry` protobuf bytes as signed, hex.
    pub entry: String,
    /// The signing message: `"yui/entry/v1\0" || entry`, hex.
    pub signing_message: String,
    /// The signature, hex.
    pub signature: String,
    /// The canonical `SignedEntry` (field 1, field 2), hex.
    pub signed: String,
    /// SHA-256 of `signed`, hex: the entry id.
    pub id: String,
    /// The body as this release reads it (JSON, as the admin API shows it).
    pub body: serde_json::Value,
}

/// An entry every node must judge the same way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseVector {
    /// Name.
    pub name: String,
    /// What it tests.
    pub about: String,
    /// Entries (by name, from `entries.json`) the receiver holds first.
    pub held: Vec<String>,
    /// The receiver's clock (Unix ms).
    pub now: i64,
    /// The canonical `SignedEntry` received, hex.
    pub signed: String,
    /// The verdict: `accept`, `accept_unknown` (stored and forwarded, body
    /// not read), `signature`, `too_large`, `invalid:<field>`, `later`
    /// (from the future: asked for again once its time has come), `fork`,
    /// `gap`, `duplicate`, `malformed`.
    pub verdict: String,
}

/// One side's handshake proof.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HandshakeVector {
    /// `dialer` or `listener`.
    pub side: String,
    /// Signer key (by name).
    pub signer: String,
    /// Other side's key (by name).
    pub other: String,
    /// The other side's nonce, hex.
    pub other_nonce: String,
    /// SHA-256 of the dialer's TLS certificate DER, hex.
    pub dialer_cert_sha256: String,
    /// SHA-256 of the listener's TLS certificate DER, hex.
    pub listener_cert_sha256: String,
    /// The transcript signed, hex.
    pub transcript: String,
    /// The signature, hex.
    pub signature: String,
}

/// A bundle file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BundleVector {
    /// The file, hex.
    pub file: String,
    /// Exporter key (by name).
    pub exporter: String,
    /// `BundleHeader.created_at`.
    pub created_at: i64,
    /// Ids of the entries in it, in order.
    pub ids: Vec<String>,
}

/// Every vector.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Vectors {
    /// Keys.
    pub keys: Vec<KeyVector>,
    /// Valid entries.
    pub entries: Vec<EntryVector>,
    /// Cases with verdicts.
    pub cases: Vec<CaseVector>,
    /// Handshake proofs of one connection.
    pub handshake: Vec<HandshakeVector>,
    /// A bundle.
    pub bundle: BundleVector,
}

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

fn id_of(k: &SecretKey) -> NodeId {
    NodeId::new(k.public_key())
}

fn entry(author: &SecretKey, seq: u64, prev: Option<EntryId>, object: &str, body: Body) -> Entry {
    Entry {
        sealed: None,
        author: id_of(author),
        seq,
        prev,
        created_at: T0 + seq as i64 * 60_000,
        expires_at: None,
        object_id: object.to_owned(),
        body,
    }
}

fn sign(k: &SecretKey, e: &Entry) -> SignedEntry {
    SignedEntry::sign(yui_net::ProtoCodec.encode_entry(e), k)
}

fn entry_vector(name: &str, author: &str, e: &Entry, s: &SignedEntry) -> EntryVector {
    let mut msg = yui_core::keys::ENTRY_DOMAIN.to_vec();
    msg.extend_from_slice(&s.entry);
    EntryVector {
        name: name.to_owned(),
        author: author.to_owned(),
        seq: e.seq,
        entry: hex::encode(&s.entry),
        signing_message: hex::encode(&msg),
        signature: hex::encode(s.signature.0),
        signed: hex::encode(s.encode()),
        id: s.id().to_hex(),
        body: serde_json::to_value(&e.body).expect("bodies serialise"),
    }
}

fn ja_en(ja: &str, en: &str) -> LocalizedText {
    LocalizedText(vec![("ja".into(), ja.into()), ("en".into(), en.into())])
}

/// The vectors this release writes.
pub fn generate() -> Vectors {
    let (a, b) = (key(1), key(2));
    let keys = [("minami-izu", &a), ("suginami", &b)]
        .into_iter()
        .map(|(name, k)| KeyVector {
            name: name.to_owned(),
            seed: hex::encode(k.seed()),
            public_key: hex::encode(k.public_key().as_bytes()),
            node_id: id_of(k).to_string(),
            pkcs8_pem: k.to_pkcs8_pem().to_string(),
        })
        .collect();

    let profile = entry(
        &a,
        1,
        None,
        "profile",
        Body::Profile(Profile {
            name: ja_en("南伊豆町", "Minami-Izu"),
            kind: ProfileKind::Municipality,
            country: "JP".into(),
            code: "223042".into(),
            languages: vec!["ja".into(), "en".into()],
            ..Default::default()
        }),
    );
    let s1 = sign(&a, &profile);
    let event = entry(
        &a,
        2,
        Some(s1.id()),
        "drill-2027",
        Body::Event(Event {
            title: ja_en("合同防災図上訓練", "Joint disaster drill"),
            start: "2027-02-10T10:00:00+09:00".into(),
            end: "2027-02-10T16:00:00+09:00".into(),
            time_zone: "Asia/Tokyo".into(),
            organisers: vec!["223042".into()],
            partners: vec!["131156".into()],
            category: "disaster-drill".into(),
            exercise: true,
            ..Default::default()
        }),
    );
    let s2 = sign(&a, &event);
    let request = entry(
        &a,
        3,
        Some(s2.id()),
        "aid-blankets",
        Body::Aid(AidMessage {
            step: AidStep::Request,
            lines: vec![
                AidLine {
                    resource: AidResource::Supply,
                    what: LocalizedText::one("ja", "毛布"),
                    quantity: 500.0,
                    unit: "枚".into(),
                    ..Default::default()
                },
                AidLine {
                    resource: AidResource::Staff,
                    what: LocalizedText::one("ja", "保健師"),
                    quantity: 2.0,
                    unit: "人".into(),
                    days: 7,
                    ..Default::default()
                },
            ],
            to: vec!["131156".into()],
            ..Default::default()
        }),
    );
    let s3 = sign(&a, &request);
    let reply = entry(
        &b,
        1,
        None,
        "reply-1",
        Body::Reply(Reply {
            about: yui_core::content::ObjectRef::new(id_of(&a), "aid-blankets"),
            in_reply_to: None,
            text: LocalizedText::one("ja", "300枚なら本日発送できます"),
            exercise: false,
        }),
    );
    let s4 = sign(&b, &reply);
    let entries = vec![
        entry_vector("profile", "minami-izu", &profile, &s1),
        entry_vector("event", "minami-izu", &event, &s2),
        entry_vector("aid-request", "minami-izu", &request, &s3),
        entry_vector("reply", "suginami", &reply, &s4),
    ];

    let mut cases = Vec::new();
    let mut case =
        |name: &str, about: &str, held: &[&str], now: i64, s: &SignedEntry, verdict: &str| {
            cases.push(CaseVector {
                name: name.to_owned(),
                about: about.to_owned(),
                held: held.iter().map(|h| (*h).to_owned()).collect(),
                now,
                signed: hex::encode(s.encode()),
                verdict: verdict.to_owned(),
            })
        };
    let now = T0 + 3_600_000;
    case(
        "first-entry",
        "seq 1 with no prev, nothing held",
        &[],
        now,
        &s1,
        "accept",
    );
    case(
        "next-entry",
        "seq 2 whose prev is the id held at seq 1",
        &["profile"],
        now,
        &s2,
        "accept",
    );
    case(
        "again",
        "an entry already held",
        &["profile", "event"],
        now,
        &s2,
        "duplicate",
    );
    case(
        "gap",
        "seq 3 while only seq 1 is held",
        &["profile"],
        now,
        &s3,
        "gap",
    );
    let mut bad_sig = s2.clone();
    bad_sig.signature.0[10] ^= 1;
    case(
        "bad-signature",
        "one bit of the signature flipped",
        &["profile"],
        now,
        &bad_sig,
        "signature",
    );
    let mut other = event.clone();
    other.object_id = "another-history".into();
    case(
        "fork",
        "a second, different entry at seq 2 (same author, valid signature)",
        &["profile", "event"],
        now,
        &sign(&a, &other),
        "fork",
    );
    let mut wrong_prev = event.clone();
    wrong_prev.prev = Some(EntryId([7; 32]));
    case(
        "wrong-prev",
        "seq 2 whose prev names another entry than the one held at seq 1",
        &["profile"],
        now,
        &sign(&a, &wrong_prev),
        "fork",
    );
    case(
        "from-the-future",
        "created 10 minutes and 1 second after the receiver's clock (the limit is 600,000 ms)",
        &[],
        profile.created_at - 601_000,
        &s1,
        "later",
    );
    case(
        "just-in-time",
        "created exactly 600,000 ms after the receiver's clock",
        &[],
        profile.created_at - 600_000,
        &s1,
        "accept",
    );
    let mut zero = profile.clone();
    zero.seq = 0;
    case(
        "seq-zero",
        "seq 0",
        &[],
        now,
        &sign(&a, &zero),
        "invalid:seq",
    );
    let mut bad_code = profile.clone();
    if let Body::Profile(p) = &mut bad_code.body {
        p.code = "223041".into();
    }
    case(
        "check-digit",
        "a local government code with a wrong check digit (223042 is right)",
        &[],
        now,
        &sign(&a, &bad_code),
        "invalid:profile.code",
    );
    let mut twice = profile.clone();
    if let Body::Profile(p) = &mut twice.body {
        p.name = LocalizedText(vec![
            ("ja".into(), "南伊豆町".into()),
            ("ja".into(), "南伊豆".into()),
        ]);
    }
    case(
        "language-twice",
        "one text with the language tag ja twice",
        &[],
        now,
        &sign(&a, &twice),
        "invalid:profile.name",
    );
    let mut nothing = request.clone();
    nothing.seq = 1;
    nothing.prev = None;
    if let Body::Aid(m) = &mut nothing.body {
        m.lines[0].quantity = 0.0;
    }
    case(
        "aid-zero",
        "an aid request for 0 blankets",
        &[],
        now,
        &sign(&a, &nothing),
        "invalid:aid.lines.quantity",
    );
    let mut big = profile.clone();
    if let Body::Profile(p) = &mut big.body {
        p.name = LocalizedText(
            (0..5)
                .map(|i| (format!("x{i:02}"), "あ".repeat(5_000)))
                .collect(),
        );
    }
    case(
        "too-large",
        "an entry of more than 65,536 bytes",
        &[],
        now,
        &sign(&a, &big),
        "too_large",
    );
    // A body field this release does not know (field 99, a string): the
    // entry belongs to the log, is stored and forwarded, its body unread.
    let mut unknown = yui_net::ProtoCodec.encode_entry(&entry(
        &a,
        1,
        None,
        "future-kind",
        Body::Unknown(Default::default()),
    ));
    unknown.extend_from_slice(&[0x9a, 0x06, 0x03, b'n', b'e', b'w']);
    case(
        "unknown-kind",
        "a body in field 99, which this release does not know",
        &[],
        now,
        &SignedEntry::sign(unknown, &a),
        "accept_unknown",
    );

    let (nonce_d, nonce_l) = ([0x11u8; 32], [0x22u8; 32]);
    let binding = yui_net::tls::Binding {
        dialer: [0xd1; 32],
        listener: [0x1e; 32],
    };
    let hs =
        |side: &str, signer: (&str, &SecretKey), other: (&str, &SecretKey), nonce: [u8; 32]| {
            let t = yui_net::handshake::transcript(
                side,
                &id_of(signer.1),
                &id_of(other.1),
                &nonce,
                &binding,
            );
            HandshakeVector {
                side: side.to_owned(),
                signer: signer.0.to_owned(),
                other: other.0.to_owned(),
                other_nonce: hex::encode(nonce),
                dialer_cert_sha256: hex::encode(binding.dialer),
                listener_cert_sha256: hex::encode(binding.listener),
                signature: hex::encode(signer.1.sign(&t).0),
                transcript: hex::encode(&t),
            }
        };
    let handshake = vec![
        hs("dialer", ("minami-izu", &a), ("suginami", &b), nonce_l),
        hs("listener", ("suginami", &b), ("minami-izu", &a), nonce_d),
    ];

    let file = yui_net::bundle::write(
        &yui_net::bundle::BundleInfo {
            exporter: id_of(&a),
            created_at: T0 + 600_000,
            since: Vec::new(),
        },
        &[s1.clone(), s2.clone(), s3.clone()],
    );
    let bundle = BundleVector {
        file: hex::encode(&file),
        exporter: "minami-izu".into(),
        created_at: T0 + 600_000,
        ids: [&s1, &s2, &s3].iter().map(|s| s.id().to_hex()).collect(),
    };
    Vectors {
        keys,
        entries,
        cases,
        handshake,
        bundle,
    }
}

/// The files of [`generate`]: name and contents.
pub fn files() -> Vec<(&'static str, String)> {
    let v = generate();
    let json = |x: &dyn erased::Ser| x.pretty() + "\n";
    vec![
        ("keys.json", json(&v.keys)),
        ("entries.json", json(&v.entries)),
        ("cases.json", json(&v.cases)),
        ("handshake.json", json(&v.handshake)),
        ("bundle.json", json(&v.bundle)),
    ]
}

mod erased {
    pub trait Ser {
        fn pretty(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn pretty(&self) -> String {
            serde_json::to_string_pretty(self).expect("vectors serialise")
        }
    }
}

/// Writes the vectors into `dir`.
pub fn write(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in files() {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}
