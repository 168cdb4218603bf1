//! The fuzz targets' committed inputs, run as ordinary tests: seeds (valid
//! inputs the fuzzer starts from) and regressions (inputs that once broke
//! an invariant; a crash found by `cargo fuzz` is copied into
//! `fuzz/regressions/<target>/` and stays fixed here).

use std::path::{Path, PathBuf};

use prost::Message;
use yui_core::content::Event;
use yui_core::{Body, Entry, LocalizedText, NodeId, SecretKey, SignedEntry};
use yui_net::codec::signed_to_pb;
use yui_net::{bundle, fuzz, ProtoCodec};
use yui_proto::v1 as pb;
use yui_sync::Codec;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 4] = [
    ("entry", fuzz::entry),
    ("sync_message", fuzz::sync_message),
    ("bundle", fuzz::bundle),
    ("handshake", fuzz::handshake),
];

fn dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(target)
}

fn files(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir(kind, target))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_else(|_| Vec::new())
        .into_iter()
        .filter(|p: &PathBuf| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn seeds_and_regressions_keep_every_invariant() {
    for (name, target) in TARGETS {
        let seeds = files("seeds", name);
        assert!(!seeds.is_empty(), "fuzz/seeds/{name} is empty");
        for (path, bytes) in seeds.iter().chain(files("regressions", name).iter()) {
            let r = std::panic::catch_unwind(|| target(bytes));
            assert!(r.is_ok(), "{} broke an invariant of {name}", path.display());
        }
    }
}

fn signed(seq: u64, prev: Option<yui_core::EntryId>) -> SignedEntry {
    let key = SecretKey::from_seed(&[5; 32]);
    let e = Entry {
        sealed: None,
        author: NodeId::new(key.public_key()),
        seq,
        prev,
        created_at: 1_790_000_000_000,
        expires_at: None,
        object_id: format!("seed-{seq}"),
        body: Body::Event(Event {
            title: LocalizedText::one("ja", "合同防災訓練"),
            start: "2027-02-10T10:00:00+09:00".into(),
            ..Default::default()
        }),
    };
    SignedEntry::sign(ProtoCodec.encode_entry(&e), &key)
}

/// The seeds a valid peer would send, as a parser sees them, from valid
/// inputs. Run `cargo test -p yui-net --test fuzz_inputs -- --ignored` after
/// a change to the wire format, and commit the files.
#[test]
#[ignore = "writes fuzz/seeds; run by hand after a wire format change"]
fn write_seeds() {
    let one = signed(1, None);
    let two = signed(2, Some(one.id()));
    let write = |target: &str, name: &str, bytes: Vec<u8>| {
        std::fs::create_dir_all(dir("seeds", target)).unwrap();
        std::fs::write(dir("seeds", target).join(name), bytes).unwrap();
    };
    write("entry", "event", one.entry.clone());
    write("entry", "canonical-signed", two.encode());
    let msg = |kind| pb::SyncMessage { kind: Some(kind) }.encode_to_vec();
    use pb::sync_message::Kind;
    write(
        "sync_message",
        "entries",
        msg(Kind::Entries(pb::Entries {
            entries: vec![signed_to_pb(&one), signed_to_pb(&two)],
        })),
    );
    write(
        "sync_message",
        "want",
        msg(Kind::Want(pb::Want {
            heads: vec![pb::Head {
                author: one_author(),
                seq: 1,
            }],
            ..Default::default()
        })),
    );
    let hello = pb::SyncMessage {
        kind: Some(Kind::Hello(pb::Hello {
            protocol_version: 1,
            node_id: one_author(),
            role: pb::Role::Municipality as i32,
            nonce: vec![9; 32],
            software: "seed".into(),
        })),
    };
    write("sync_message", "hello", hello.encode_to_vec());
    write(
        "sync_message",
        "fork",
        msg(Kind::Fork(pb::ForkEvidence {
            first: Some(signed_to_pb(&two)),
            second: Some(signed_to_pb(&signed(2, Some(two.id())))),
        })),
    );
    let mut hs = hello.encode_length_delimited_to_vec();
    pb::SyncMessage {
        kind: Some(Kind::Proof(pb::Proof {
            signature: vec![4; 64],
        })),
    }
    .encode_length_delimited(&mut hs)
    .unwrap();
    write("handshake", "hello-proof", hs);
    let info = bundle::BundleInfo {
        exporter: NodeId::new(SecretKey::from_seed(&[6; 32]).public_key()),
        created_at: 1_790_000_000_000,
        since: Vec::new(),
    };
    write("bundle", "two-entries", bundle::write(&info, &[one, two]));
}

fn one_author() -> Vec<u8> {
    NodeId::new(SecretKey::from_seed(&[5; 32]).public_key())
        .as_bytes()
        .to_vec()
}
