"""Restricted audiences from a stack that shares no code with yui.

HPKE (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
ChaCha20-Poly1305) is written here from the RFC with `cryptography`'s
primitives, and the sealed part from docs/PROTOCOL.md. A trusted member
(the Python author) seals a case's contact for the target node: the target
opens it. Then the same member sends what a broken or hostile author would:
tampered ciphertext, a wrap bound to another member, a key epoch that does
not exist, a part that tries to change the entry's header, a restricted
trust statement, a member named twice, a wrong nonce. Each is refused with
nothing stored, or stored and shown as unreadable with the reason, and the
node keeps serving.
"""
import hashlib
import hmac
import json
import os
import ssl
import struct
import time
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from conftest import wait_until
from yuipeer import Author, Peer, entries_msg, epb, entry_id

# --- HPKE, RFC 9180 §4 and §5.1, base mode ---------------------------------
KEM_ID, KDF_ID, AEAD_ID = 0x0020, 0x0001, 0x0003


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return _expand(prk, struct.pack(">H", length) + b"HPKE-v1" + suite + label + info, length)


def _raw(pk) -> bytes:
    return pk.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def hpke_seal(pk_r: bytes, info: bytes, aad: bytes, pt: bytes):
    """SealBase: returns (enc, ciphertext)."""
    kem_suite = b"KEM" + struct.pack(">H", KEM_ID)
    sk_e = X25519PrivateKey.generate()
    enc = _raw(sk_e.public_key())
    dh = sk_e.exchange(X25519PublicKey.from_public_bytes(pk_r))
    eae_prk = _labeled_extract(kem_suite, b"", b"eae_prk", dh)
    shared = _labeled_expand(kem_suite, eae_prk, b"shared_secret", enc + pk_r, 32)
    suite = b"HPKE" + struct.pack(">HHH", KEM_ID, KDF_ID, AEAD_ID)
    psk_id_hash = _labeled_extract(suite, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(suite, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(suite, shared, b"secret", b"")
    key = _labeled_expand(suite, secret, b"key", context, 32)
    nonce = _labeled_expand(suite, secret, b"base_nonce", context, 12)
    return enc, ChaCha20Poly1305(key).encrypt(nonce, pt, aad)


# --- yui's sealed parts (docs/PROTOCOL.md, "Restricted audiences") ----------
def wrap_info(author: bytes, name: str, epoch: int, member: bytes) -> bytes:
    return b"yui/audience/v1\0" + author + name.encode() + b"\0" + struct.pack(">I", epoch) + member


def content_key(epoch_key: bytes, author: bytes, seq: int) -> bytes:
    info = b"yui/sealed/v1\0" + author + struct.pack(">Q", seq)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(epoch_key)


def sealed_aad(author: bytes, seq: int, object_id: str, audience: str, epoch: int) -> bytes:
    return (b"yui/sealed/v1\0" + author + struct.pack(">Q", seq) + object_id.encode() + b"\0"
            + audience.encode() + b"\0" + struct.pack(">I", epoch))


def contact_fragment(email: str) -> bytes:
    return epb.Entry(case=epb.Case(contact=epb.Contact(email=email))).SerializeToString()


def case_entry(author, seq, object_id, title="防災備蓄品の共同購入"):
    return epb.Entry(
        author=author.public, seq=seq, prev=author.head_id if seq > 1 else b"",
        created_at=_now(),
        object_id=object_id,
        case=epb.Case(
            title=epb.LocalizedText(values=[epb.LocalizedString(lang="ja", text=title)]),
            policy_area=epb.POLICY_AREA_DISASTER_PREVENTION,
        ),
    )


def _now():
    return int(time.time() * 1000)


def seal_into(e, epoch_key: bytes, audience: str, epoch: int, fragment: bytes, parts=()):
    key = content_key(epoch_key, e.author, e.seq)
    nonce = os.urandom(12)
    ct = ChaCha20Poly1305(key).encrypt(
        nonce, fragment, sealed_aad(e.author, e.seq, e.object_id, audience, epoch))
    e.sealed.CopyFrom(epb.Sealed(audience=audience, epoch=epoch, nonce=nonce, ciphertext=ct,
                                 parts=list(parts)))
    return e


def push(p, author, e):
    """Signs `e` as the next entry of `author`'s log and sends it."""
    s = author.signed(e)
    p.send(entries_msg([s]))
    return s


def accept(net, p, author, e):
    s = push(p, author, e)
    want = author.head_seq + 1
    wait_until(f"seq {want} stored", lambda: net.target.head_of(author.id) == want)
    author.head_seq = want
    author.head_id = entry_id(s)


def refuse(net, p, author, e):
    """`e` is refused: nothing stored. Shown by sending a valid entry at the
    same seq right after, which the node takes (it would be a fork had the
    refused one been stored)."""
    before = net.snapshot()
    push(p, author, e)
    filler = author.entry(seq=author.head_seq + 1, object_id=f"py-after-refusal-{author.head_seq + 1}")
    accept(net, p, author, filler)
    after = net.snapshot()
    assert after["entries"] == before["entries"] + 1, (before, after)


def cases(net):
    page = json.loads(net.target.cli("query", "cases", "--json"))
    return {e["object_id"]: e for e in page["items"]}


def audience_entry(author, seq, name, epoch, wraps):
    return epb.Entry(
        author=author.public, seq=seq, prev=author.head_id if seq > 1 else b"",
        created_at=_now(), object_id=f"audience/{name}",
        audience=epb.Audience(name=name, epoch=epoch, wraps=wraps),
    )


def wrap_for(author, name, epoch, member_id: bytes, member_key: bytes, epoch_key: bytes, info_member=None):
    enc, wrapped = hpke_seal(member_key, wrap_info(author.public, name, epoch, info_member or member_id),
                             b"", epoch_key)
    return epb.AudienceWrap(node=member_id, key=member_key, enc=enc, wrapped=wrapped)


def test_restricted_parts_open_for_members_and_bad_ones_are_refused_or_unreadable(net):
    t = net.target
    t.cli("publish", "profile", "--name", "神戸市", "--code", "281000")
    profiles = json.loads(t.cli("query", "profiles", "--json"))["items"]
    mine = next(e for e in profiles if e["author"] == t.id)
    target_key = bytes.fromhex(mine["body"]["audience_key"])
    assert len(target_key) == 32
    # A member of its own (the other tests count the attackers' logs).
    a = Author(bytes([0x69] * 32))
    t.cli("trust", "add", a.id, "--name", "三島市")
    p = Peer(t.addr, a)
    target_id = p.listener_id  # the node id its handshake proved
    name = "py-partners"
    k1 = os.urandom(32)
    accept(net, p, a, audience_entry(a, a.head_seq + 1, name, 1,
                                     [wrap_for(a, name, 1, target_id, target_key, k1)]))

    # An honest sealed contact opens at the target, independently sealed.
    good = case_entry(a, a.head_seq + 1, "py-case-open")
    accept(net, p, a, seal_into(good, k1, name, 1, contact_fragment("bousai@city.example.jp")))
    wait_until("the sealed case opened", lambda: cases(net).get("py-case-open", {}).get("sealed", {}).get("shown"))
    assert cases(net)["py-case-open"]["body"]["contact"]["email"] == "bousai@city.example.jp"

    def unreadable(object_id, e, why):
        accept(net, p, a, e)
        wait_until(f"{object_id} indexed", lambda: object_id in cases(net))
        c = cases(net)[object_id]
        assert c["sealed"]["shown"] is False, c
        assert c["sealed"]["closed"] == why, c
        assert c["body"]["contact"]["email"] == "", c

    # Tampered ciphertext: signed as it is, so stored, but it does not open.
    e = seal_into(case_entry(a, a.head_seq + 1, "py-case-tampered"), k1, name, 1,
                  contact_fragment("tampered@city.example.jp"))
    ct = bytearray(e.sealed.ciphertext)
    ct[0] ^= 1
    e.sealed.ciphertext = bytes(ct)
    unreadable("py-case-tampered", e, "does_not_open")

    # A key epoch that does not exist (none before it in the log).
    unreadable("py-case-epoch9",
               seal_into(case_entry(a, a.head_seq + 1, "py-case-epoch9"), k1, name, 9,
                         contact_fragment("nine@city.example.jp")),
               "no_such_epoch")

    # A wrong recipient list: epoch 2 names the target, but its copy of the
    # key is bound to another member (HPKE info), so it never opens.
    other = os.urandom(32)
    k2 = os.urandom(32)
    accept(net, p, a, audience_entry(a, a.head_seq + 1, name, 2,
                                     [wrap_for(a, name, 2, target_id, target_key, k2, info_member=other)]))
    unreadable("py-case-epoch2",
               seal_into(case_entry(a, a.head_seq + 1, "py-case-epoch2"), k2, name, 2,
                         contact_fragment("two@city.example.jp")),
               "does_not_open")

    # Epoch 3 names the target with a key it never had.
    stranger_key = _raw(X25519PrivateKey.generate().public_key())
    k3 = os.urandom(32)
    accept(net, p, a, audience_entry(a, a.head_seq + 1, name, 3,
                                     [wrap_for(a, name, 3, target_id, stranger_key, k3)]))
    unreadable("py-case-epoch3",
               seal_into(case_entry(a, a.head_seq + 1, "py-case-epoch3"), k3, name, 3,
                         contact_fragment("three@city.example.jp")),
               "retired_key")

    # A part that opens but tries to move the entry to another object.
    k4 = os.urandom(32)
    accept(net, p, a, audience_entry(a, a.head_seq + 1, name, 4,
                                     [wrap_for(a, name, 4, target_id, target_key, k4)]))
    hijack = epb.Entry(object_id="someone-elses", case=epb.Case(contact=epb.Contact(email="x@example.jp")))
    unreadable("py-case-hijack",
               seal_into(case_entry(a, a.head_seq + 1, "py-case-hijack"), k4, name, 4,
                         hijack.SerializeToString()),
               "malformed")
    # A part that names the contact but also rewrites the public title.
    more = epb.Entry(case=epb.Case(title=epb.LocalizedText(values=[epb.LocalizedString(lang="ja", text="別の題名")]),
                                   contact=epb.Contact(email="y@example.jp")))
    unreadable("py-case-more",
               seal_into(case_entry(a, a.head_seq + 1, "py-case-more"), k4, name, 4,
                         more.SerializeToString(), parts=["contact"]),
               "malformed")
    # A part this release does not know (a newer author's, say): stored,
    # shown as unreadable with the reason.
    unreadable("py-case-roster",
               seal_into(case_entry(a, a.head_seq + 1, "py-case-roster"), k4, name, 4,
                         contact_fragment("roster@city.example.jp"), parts=["contact", "roster"]),
               "unknown_part")

    # Refused by the validity rules, the same on every node: nothing stored.
    # A shelter location on a case, a part named twice, a badly named part.
    for parts in (["shelter_location"], ["contact", "contact"], ["Contact!"]):
        refuse(net, p, a, seal_into(case_entry(a, a.head_seq + 1, "py-case-parts"), k4, name, 4,
                                    contact_fragment("p@city.example.jp"), parts=parts))
    # A trust statement cannot be restricted.
    endorse = epb.Entry(author=a.public, seq=a.head_seq + 1, prev=a.head_id, created_at=_now(),
                        object_id="py-endorse", endorsement=epb.Endorsement(subject=os.urandom(32)))
    endorse.sealed.CopyFrom(epb.Sealed(audience=name, epoch=4, nonce=os.urandom(12), ciphertext=os.urandom(40)))
    refuse(net, p, a, endorse)
    # A member named twice.
    w = wrap_for(a, name, 5, target_id, target_key, os.urandom(32))
    refuse(net, p, a, audience_entry(a, a.head_seq + 1, name, 5, [w, w]))
    # A nonce of the wrong length.
    bad_nonce = case_entry(a, a.head_seq + 1, "py-case-nonce")
    bad_nonce.sealed.CopyFrom(epb.Sealed(audience=name, epoch=4, nonce=b"short", ciphertext=os.urandom(40)))
    refuse(net, p, a, bad_nonce)
    # An audience whose object id is not its name's.
    misplaced = audience_entry(a, a.head_seq + 1, name, 5, [])
    misplaced.object_id = "audience/another"
    refuse(net, p, a, misplaced)

    # What opened still opens; the node serves on.
    assert cases(net)["py-case-open"]["body"]["contact"]["email"] == "bousai@city.example.jp"
    p.close()
    net.assert_serving()
    # The public export carries the case, never what opened.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    public = urllib.request.urlopen(f"https://{t.addr}/export/entries.json", context=ctx).read()
    assert b"py-case-open" in public
    assert b"bousai@city.example.jp" not in public
