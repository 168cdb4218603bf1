//! Entry points for the fuzz targets in `fuzz/` and their regression tests:
//! every decoder of bytes that come from a peer, each with the invariants it
//! must keep. A function here panics only when an invariant breaks, never
//! on bad input.

use prost::Message;
use yui_core::validate::validate_entry;
use yui_core::{Limits, NodeId, SecretKey, SignedEntry};
use yui_proto::v1 as pb;
use yui_sync::Codec;

use crate::codec::{entry_to_pb, node_id_from_pb, signed_from_pb};
use crate::handshake::{check_proof, read_hello, transcript};
use crate::tls::Binding;
use crate::{bundle, ProtoCodec};

/// Entry bytes as a peer sends them: decode, validate, and re-encode what
/// decoded (the decoded value must survive a round trip); also the store's
/// canonical `SignedEntry` form.
pub fn entry(data: &[u8]) {
    if let Ok(e) = ProtoCodec.decode_entry(data) {
        let _ = validate_entry(&e, data.len(), 1_800_000_000_000, &Limits::default());
        // An unknown body is kept as its bytes and never re-encoded.
        if e.body.kind() == yui_core::Kind::Unknown {
            return;
        }
        let again = entry_to_pb(&e).encode_to_vec();
        let back = ProtoCodec
            .decode_entry(&again)
            .expect("a decoded entry re-encodes to bytes that decode");
        assert_eq!(back, e, "decode(encode(e)) != e");
    }
    if let Ok(s) = SignedEntry::decode_canonical(data) {
        assert_eq!(
            SignedEntry::decode_canonical(&s.encode()).expect("canonical re-decodes"),
            s
        );
    }
}

/// One Sync stream message, converted the way a session converts it.
pub fn sync_message(data: &[u8]) {
    let Ok(m) = pb::SyncMessage::decode(data) else {
        return;
    };
    use pb::sync_message::Kind;
    match m.kind {
        Some(Kind::Entries(e)) => {
            for s in e.entries {
                if let Ok(s) = signed_from_pb(s) {
                    entry(&s.entry);
                }
            }
        }
        Some(Kind::Want(w)) => {
            for h in w.heads {
                let _ = node_id_from_pb(&h.author, "want.author");
            }
        }
        Some(Kind::Have(h)) => {
            let _ = crate::session::have_heads(h, usize::MAX);
        }
        Some(Kind::Fork(f)) => {
            for s in [f.first, f.second].into_iter().flatten() {
                let _ = signed_from_pb(s);
            }
        }
        Some(k @ (Kind::Hello(_) | Kind::Proof(_))) => {
            let _ = read_hello(k);
        }
        Some(Kind::Ping(_)) | None => {}
    }
}

/// An offline bundle file.
pub fn bundle(data: &[u8]) {
    if let Ok((_, entries, _)) = bundle::read(data) {
        for s in entries {
            entry(&s.entry);
        }
    }
}

/// The listener's side of a handshake: the dialer's Hello then its Proof,
/// as two length-delimited SyncMessages. A proof from random bytes must
/// never verify.
pub fn handshake(data: &[u8]) {
    let mut rest = data;
    let Ok(hello) = pb::SyncMessage::decode_length_delimited(&mut rest) else {
        return;
    };
    let Some(Ok((peer, _nonce))) = hello.kind.map(read_hello) else {
        return;
    };
    let Ok(proof) = pb::SyncMessage::decode_length_delimited(&mut rest) else {
        return;
    };
    let Some(kind) = proof.kind else {
        return;
    };
    let me = NodeId::new(SecretKey::from_seed(&[1; 32]).public_key());
    let nonce = [7u8; 32];
    let binding = Binding {
        dialer: [2; 32],
        listener: [3; 32],
    };
    if check_proof(kind, "dialer", &peer.node_id, &me, &nonce, &binding).is_ok() {
        // Only a signature over exactly this transcript may verify; the fuzzer
        // cannot produce one without the key.
        let t = transcript("dialer", &peer.node_id, &me, &nonce, &binding);
        panic!("a fuzzed proof verified over {} transcript bytes", t.len());
    }
}
