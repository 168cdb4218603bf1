"""docs/vectors checked by an independent stack: Python protobuf (code
generated from proto/ by grpcio-tools), PyNaCl for ed25519, `cryptography`
for the PKCS#8 key files, hashlib, the suite's own bech32m, and the rules of docs/PROTOCOL.md written
here again from the text: every id, signature and encoding, each case's
verdict, the handshake transcripts, the bundle."""
import hashlib
import json
from pathlib import Path

import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from yuipeer import ENTRY_DOMAIN, epb, fpb, node_id_text

VECTORS = Path(__file__).resolve().parents[3] / "docs" / "vectors"
MAX_ENTRY_BYTES = 65_536
MAX_CLOCK_SKEW_MS = 600_000


def load(name):
    return json.loads((VECTORS / name).read_text())


def check_digit_ok(code: str) -> bool:
    if len(code) != 6 or not code.isdigit():
        return False
    d = [int(c) for c in code]
    return (11 - (6 * d[0] + 5 * d[1] + 4 * d[2] + 3 * d[3] + 2 * d[4]) % 11) % 10 == d[5]


def texts(msg):
    """Every LocalizedText inside a message."""
    for field, value in msg.ListFields():
        if field.message_type is None:
            continue
        repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED
        items = value if repeated else [value]
        for v in items:
            if field.message_type.name == "LocalizedText":
                yield field.name, v
            else:
                yield from texts(v)


def verdict(signed_bytes: bytes, held, now: int) -> str:
    """The protocol's verdict, from docs/PROTOCOL.md."""
    s = epb.SignedEntry()
    try:
        s.ParseFromString(signed_bytes)
    except Exception:
        return "malformed"
    if len(s.entry) > MAX_ENTRY_BYTES:
        return "too_large"
    e = epb.Entry()
    e.ParseFromString(s.entry)
    try:
        VerifyKey(e.author).verify(ENTRY_DOMAIN + s.entry, s.signature)
    except BadSignatureError:
        return "signature"
    if e.seq == 0:
        return "invalid:seq"
    if e.created_at - now > MAX_CLOCK_SKEW_MS:
        return "later"
    kind = e.WhichOneof("body")
    if kind is not None:
        body = getattr(e, kind)
        for name, t in texts(body):
            langs = [v.lang for v in t.values]
            if len(langs) != len(set(langs)):
                return f"invalid:{kind}.{name}"
        if kind == "profile" and body.code and not check_digit_ok(body.code):
            return "invalid:profile.code"
        if kind == "aid" and any(not (line.quantity > 0) for line in body.lines):
            return "invalid:aid.lines.quantity"
    mine = {}
    for h in held:
        he = epb.Entry()
        he.ParseFromString(h.entry)
        if he.author == e.author:
            mine[he.seq] = hashlib.sha256(h.SerializeToString()).digest()
    head = max(mine) if mine else 0
    my_id = hashlib.sha256(signed_bytes).digest()
    if e.seq <= head:
        return "duplicate" if mine.get(e.seq) == my_id else "fork"
    if e.seq > head + 1:
        return "gap"
    if (e.prev or None) != (mine.get(head) if head else None):
        return "fork"
    return "accept_unknown" if kind is None else "accept"


def test_keys_are_ed25519_seeds_with_their_ids_and_pkcs8_files():
    from cryptography.hazmat.primitives import serialization
    for k in load("keys.json"):
        sk = SigningKey(bytes.fromhex(k["seed"]))
        assert sk.verify_key.encode().hex() == k["public_key"]
        assert node_id_text(sk.verify_key.encode()) == k["node_id"]
        pem = serialization.load_pem_private_key(k["pkcs8_pem"].encode(), password=None)
        raw = pem.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        assert raw.hex() == k["seed"]


def test_entries_encode_hash_and_verify():
    keys = {k["name"]: bytes.fromhex(k["public_key"]) for k in load("keys.json")}
    for v in load("entries.json"):
        signed = bytes.fromhex(v["signed"])
        s = epb.SignedEntry()
        s.ParseFromString(signed)
        assert s.SerializeToString() == signed, "field 1 then field 2, nothing else"
        assert s.entry.hex() == v["entry"]
        assert hashlib.sha256(signed).hexdigest() == v["id"]
        assert (ENTRY_DOMAIN + s.entry).hex() == v["signing_message"]
        VerifyKey(keys[v["author"]]).verify(ENTRY_DOMAIN + s.entry, s.signature)
        e = epb.Entry()
        e.ParseFromString(s.entry)
        assert e.author == keys[v["author"]] and e.seq == v["seq"]
        assert e.WhichOneof("body") == v["body"]["type"]


@pytest.mark.parametrize("case", load("cases.json"), ids=lambda c: c["name"])
def test_each_case_gets_its_verdict(case):
    by_name = {}
    for v in load("entries.json"):
        s = epb.SignedEntry()
        s.ParseFromString(bytes.fromhex(v["signed"]))
        by_name[v["name"]] = s
    held = [by_name[h] for h in case["held"]]
    assert verdict(bytes.fromhex(case["signed"]), held, case["now"]) == case["verdict"], case["about"]


def test_handshake_transcripts_and_proofs():
    keys = {k["name"]: bytes.fromhex(k["public_key"]) for k in load("keys.json")}
    for h in load("handshake.json"):
        t = (b"yui/handshake/v1\0" + h["side"].encode() + b"\0" + keys[h["signer"]] + keys[h["other"]]
             + bytes.fromhex(h["other_nonce"]) + bytes.fromhex(h["dialer_cert_sha256"])
             + bytes.fromhex(h["listener_cert_sha256"]))
        assert t.hex() == h["transcript"]
        VerifyKey(keys[h["signer"]]).verify(t, bytes.fromhex(h["signature"]))


def _varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def test_the_bundle_reads():
    b = load("bundle.json")
    keys = {k["name"]: bytes.fromhex(k["public_key"]) for k in load("keys.json")}
    data = bytes.fromhex(b["file"])
    magic = b"yui-bundle-v1\n"
    assert data.startswith(magic)
    n, i = _varint(data, len(magic))
    header = fpb.BundleHeader()
    header.ParseFromString(data[i:i + n])
    i += n
    assert header.version == 1 and header.exporter == keys[b["exporter"]]
    assert header.created_at == b["created_at"] and header.entries == len(b["ids"])
    ids = []
    for _ in range(header.entries):
        n, i = _varint(data, i)
        ids.append(hashlib.sha256(data[i:i + n]).hexdigest())
        i += n
    assert i == len(data) and ids == b["ids"]
