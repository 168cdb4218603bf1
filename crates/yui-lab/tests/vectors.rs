//! docs/vectors: the files are what this release writes (`yui vectors`),
//! and every vector holds against the code that nodes run: ids, signatures
//! (ZIP-215), decoding, the validity rules and the chain rule give each case
//! the verdict docs/PROTOCOL.md promises; handshake proofs verify; the
//! bundle reads back with its entries.

use std::collections::HashMap;
use std::path::PathBuf;

use yui_core::validate::{check_chain, validate_entry, ChainCheck};
use yui_core::{Body, Head, Limits, NodeId, SecretKey, Signature, SignedEntry, ValidationError};
use yui_lab::vectors::{self, Vectors};
use yui_sync::Codec;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/vectors")
}

fn bytes(h: &str) -> Vec<u8> {
    hex::decode(h).expect("hex")
}

#[test]
fn the_files_are_what_this_release_writes() {
    for (name, text) in vectors::files() {
        let on_disk = std::fs::read_to_string(dir().join(name))
            .unwrap_or_else(|e| panic!("docs/vectors/{name}: {e}; run `yui vectors`"));
        assert!(
            on_disk == text,
            "docs/vectors/{name} differs from what this release writes: run `yui vectors` and review the change"
        );
    }
}

fn load() -> Vectors {
    let read = |n: &str| std::fs::read_to_string(dir().join(n)).expect("vector file");
    Vectors {
        keys: serde_json::from_str(&read("keys.json")).expect("keys"),
        entries: serde_json::from_str(&read("entries.json")).expect("entries"),
        cases: serde_json::from_str(&read("cases.json")).expect("cases"),
        handshake: serde_json::from_str(&read("handshake.json")).expect("handshake"),
        bundle: serde_json::from_str(&read("bundle.json")).expect("bundle"),
    }
}

/// What a receiver holding `held` decides for `bytes`, by the same
/// functions a replica runs, in the same order.
fn verdict(bytes: &[u8], held: &[SignedEntry], now: i64) -> String {
    let codec = yui_net::ProtoCodec;
    let Ok(s) = SignedEntry::decode_canonical(bytes) else {
        return "malformed".into();
    };
    let limits = Limits::default();
    if s.entry.len() > limits.max_entry_bytes {
        return "too_large".into();
    }
    let Ok(e) = codec.decode_entry(&s.entry) else {
        return "malformed".into();
    };
    if s.verify(&e.author).is_err() {
        return "signature".into();
    }
    match validate_entry(&e, s.entry.len(), now, &limits) {
        Ok(()) => {}
        Err(ValidationError::FromTheFuture { .. }) => return "later".into(),
        Err(ValidationError::Invalid { field, .. }) => return format!("invalid:{field}"),
        Err(ValidationError::Missing(field)) => return format!("invalid:{field}"),
        Err(other) => return format!("invalid:{other}"),
    }
    let mine: Vec<(u64, yui_core::EntryId)> = held
        .iter()
        .filter_map(|h| {
            let he = codec.decode_entry(&h.entry).ok()?;
            (he.author == e.author).then(|| (he.seq, h.id()))
        })
        .collect();
    let head = mine
        .iter()
        .max_by_key(|(seq, _)| *seq)
        .map(|(seq, id)| Head { seq: *seq, id: *id });
    let at_seq = mine
        .iter()
        .find(|(seq, _)| *seq == e.seq)
        .map(|(_, id)| *id);
    match check_chain(head, &e, s.id(), at_seq) {
        ChainCheck::Append if matches!(e.body, Body::Unknown(_)) => "accept_unknown".into(),
        ChainCheck::Append => "accept".into(),
        ChainCheck::Duplicate => "duplicate".into(),
        ChainCheck::Gap { .. } => "gap".into(),
        ChainCheck::Fork { .. } | ChainCheck::PrevMismatch => "fork".into(),
    }
}

#[test]
fn every_case_gets_its_verdict() {
    let v = load();
    let by_name: HashMap<&str, SignedEntry> = v
        .entries
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                SignedEntry::decode_canonical(&bytes(&e.signed)).expect("canonical"),
            )
        })
        .collect();
    assert!(v.cases.len() >= 15, "every rule has a case");
    for c in &v.cases {
        let held: Vec<SignedEntry> = c.held.iter().map(|h| by_name[h.as_str()].clone()).collect();
        assert_eq!(
            verdict(&bytes(&c.signed), &held, c.now),
            c.verdict,
            "case {}: {}",
            c.name,
            c.about
        );
    }
}

#[test]
fn entries_keys_handshake_and_bundle_hold() {
    let v = load();
    let keys: HashMap<&str, SecretKey> = v
        .keys
        .iter()
        .map(|k| {
            let seed: [u8; 32] = bytes(&k.seed).try_into().expect("32 bytes");
            let sk = SecretKey::from_seed(&seed);
            assert_eq!(hex::encode(sk.public_key().as_bytes()), k.public_key);
            assert_eq!(NodeId::new(sk.public_key()).to_string(), k.node_id);
            let from_pem = SecretKey::from_pkcs8_pem(&k.pkcs8_pem).expect("PKCS#8");
            assert_eq!(from_pem.seed(), sk.seed());
            (k.name.as_str(), sk)
        })
        .collect();
    for e in &v.entries {
        let s = SignedEntry::decode_canonical(&bytes(&e.signed)).expect("canonical");
        assert_eq!(hex::encode(&s.entry), e.entry);
        assert_eq!(s.id().to_hex(), e.id);
        let mut msg = yui_core::keys::ENTRY_DOMAIN.to_vec();
        msg.extend_from_slice(&s.entry);
        assert_eq!(hex::encode(&msg), e.signing_message);
        let author = NodeId::new(keys[e.author.as_str()].public_key());
        s.verify(&author).expect("signature");
        let entry = yui_net::ProtoCodec.decode_entry(&s.entry).expect("decodes");
        assert_eq!((entry.author, entry.seq), (author, e.seq));
        assert_eq!(serde_json::to_value(&entry.body).expect("json"), e.body);
    }
    for h in &v.handshake {
        let signer = keys[h.signer.as_str()].public_key();
        let sig = Signature::from_slice(&bytes(&h.signature)).expect("64 bytes");
        signer
            .verify(&bytes(&h.transcript), &sig)
            .expect("handshake proof");
        let binding = yui_net::tls::Binding {
            dialer: bytes(&h.dialer_cert_sha256).try_into().expect("32"),
            listener: bytes(&h.listener_cert_sha256).try_into().expect("32"),
        };
        let t = yui_net::handshake::transcript(
            &h.side,
            &NodeId::new(signer),
            &NodeId::new(keys[h.other.as_str()].public_key()),
            &bytes(&h.other_nonce),
            &binding,
        );
        assert_eq!(hex::encode(t), h.transcript);
    }
    let (info, entries, bad) = yui_net::bundle::read(&bytes(&v.bundle.file)).expect("bundle");
    assert_eq!(bad, 0);
    assert_eq!(info.created_at, v.bundle.created_at);
    assert_eq!(
        info.exporter,
        NodeId::new(keys[v.bundle.exporter.as_str()].public_key())
    );
    let ids: Vec<String> = entries.iter().map(|e| e.id().to_hex()).collect();
    assert_eq!(ids, v.bundle.ids);
}
