"""Hostile peers against a real `yui` node, from an independent gRPC stack.

Each test attacks the target, checks that nothing stored changed and that the
attack got a clear answer (a gRPC status or a counted refusal), then checks
that the target still exchanges entries with an honest peer both ways.
Tests run in file order and share one network (see conftest.py).
"""
import json
import os
import socket
import ssl
import threading
import time

import grpc
import pytest

from conftest import wait_until
from yuipeer import (
    Author,
    Peer,
    StreamEnded,
    SyncCall,
    client_certificate,
    entries_msg,
    epb,
    fpb,
    fgrpc,
    open_channel,
    raw_tcp,
    transcript,
)


def refused_status(fn):
    """Runs a handshake that must fail; returns the node's gRPC status."""
    with pytest.raises(StreamEnded) as e:
        fn()
    assert e.value.error is not None, "the stream ended without a status"
    return e.value.error.code(), e.value.error.details()


def test_an_honest_python_peer_is_accepted(net):
    """The baseline: this stack's handshake and signing match yui's."""
    p = Peer(net.target.addr, net.evil)
    p.send(entries_msg([net.evil.next_signed(title="正規の投稿")]))
    wait_until("the python entry", lambda: net.target.head_of(net.evil.id) == 1)
    # The node relays it to the bystander, byte for byte (same id chain).
    wait_until("the entry at the bystander", lambda: net.bystander.head_of(net.evil.id) == 1)
    p.close()
    net.assert_serving()


def first_want(p):
    for _ in range(20):
        m = p.call.recv()
        if m.HasField("want"):
            return m.want
    raise AssertionError("no Want from the node")


def test_mixed_protocol_versions_keep_syncing(net):
    """Peers of other releases keep syncing: both speak the lower version.
    Protocol 1: the node opens with its full Want. Protocols 2 to 5 (this
    build): as listener it answers the dialer's opening Want with the
    difference only (a listed opening stays valid in 3 to 5). A newer peer
    (6) gets 5; an older one than yui supports is refused, naming versions."""
    before = net.target.head_of(net.evil.id)
    old = Peer(net.target.addr, net.evil, protocol_version=1)
    w = first_want(old)
    assert not w.reply and len(w.heads) >= 3, w
    old.send(entries_msg([net.evil.next_signed(title="旧版からの投稿")]))
    wait_until("the entry from the protocol-1 peer", lambda: net.target.head_of(net.evil.id) == before + 1)
    old.close()

    new = Peer(net.target.addr, net.evil, protocol_version=6)
    assert new.listener_version == 5
    mine = net.target.head_of(net.evil.id)
    new.send(fpb.SyncMessage(want=fpb.Want(heads=[fpb.Head(author=net.evil.public, seq=mine),
                                                 fpb.Head(author=net.stranger.public, seq=0)])))
    w = first_want(new)
    assert w.reply, w
    named = {h.author for h in w.heads}
    assert net.evil.public not in named, "an author at the same head must be implied, not repeated"
    assert list(w.declined) == [net.stranger.public], "the untrusted stranger is declined"
    assert len(w.heads) >= 2, "authors the dialer did not name are listed"
    new.send(entries_msg([net.evil.next_signed(title="新しい版からの投稿")]))
    wait_until("the entry from the newer peer", lambda: net.target.head_of(net.evil.id) == mine + 1)
    new.close()
    code, details = refused_status(lambda: Peer(net.target.addr, net.evil, protocol_version=0))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "protocol" in details, (code, details)
    net.assert_serving()


def _summary(heads, bits):
    """HeadSummary fingerprints, from docs/PROTOCOL.md section 6 alone."""
    import hashlib
    fps = [bytes(16)] * (1 << bits)
    for author, seq in heads:
        b = 0 if bits == 0 else int.from_bytes(author[:2], "big") >> (16 - bits)
        h = hashlib.sha256(b"yui/heads/v1\0" + author + seq.to_bytes(8, "big")).digest()[:16]
        fps[b] = bytes(x ^ y for x, y in zip(fps[b], h))
    return fps


def test_a_summary_opening_reconciles_up_to_date_peers_in_one_round_trip(net):
    """Protocol 3: a dialer may open with bucket fingerprints of its heads.
    Buckets that differ come back with the node's heads in them; a summary
    of exactly the node's own list, computed here from the protocol text,
    comes back with nothing to list; a summary of the wrong size ends the
    session with a protocol error and the node serves on."""
    p = Peer(net.target.addr, net.evil, protocol_version=3)
    assert p.listener_version >= 3, "the node's Hello states the newest it speaks"
    p.send(fpb.SyncMessage(want=fpb.Want(summary=fpb.HeadSummary(
        bits=1, fingerprints=[os.urandom(16), os.urandom(16)]))))
    w = first_want(p)
    assert w.reply and sorted(w.differ) == [0, 1], w
    theirs = [(h.author, h.seq) for h in w.heads]
    assert (net.evil.public, net.target.head_of(net.evil.id)) in theirs, "the node lists what it holds"
    p.close()

    q = Peer(net.target.addr, net.evil, protocol_version=3)
    q.send(fpb.SyncMessage(want=fpb.Want(summary=fpb.HeadSummary(bits=1, fingerprints=_summary(theirs, 1)))))
    w = first_want(q)
    assert w.reply and list(w.differ) == [] and len(w.heads) == 0, w
    # Where the buckets agree the node takes us to hold what it holds, and
    # pushes only what comes after.
    before = net.target.head_of(net.evil.id)
    q.send(entries_msg([net.evil.next_signed(title="要約で開いた接続からの投稿")]))
    wait_until("the entry over the summarised link", lambda: net.target.head_of(net.evil.id) == before + 1)
    q.close()

    r = Peer(net.target.addr, net.evil, protocol_version=3)
    r.send(fpb.SyncMessage(want=fpb.Want(summary=fpb.HeadSummary(bits=2, fingerprints=[bytes(16)] * 3))))
    code, details = r.call.wait_status()
    assert code != grpc.StatusCode.OK and "summary" in details, (code, details)
    r.close()
    net.assert_serving()


def test_garbage_bytes(net):
    before = net.snapshot()
    # 1. Garbage where a SyncMessage belongs, before any handshake.
    channel, _, _ = open_channel(net.target.addr)
    call = SyncCall(channel, raw=True)
    call.send(os.urandom(300))
    code, _ = call.wait_status()
    assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL), code
    channel.close()
    # 2. Garbage after a good handshake.
    p = Peer(net.target.addr, net.evil)
    raw = SyncCall(p.channel, raw=True)
    raw.send(b"\x22\xff\xff\xff\xff\x0f" + os.urandom(64))
    code, _ = raw.wait_status()
    assert code != grpc.StatusCode.OK
    p.close()
    # 3. Entries whose bytes are not an Entry, and signatures of the wrong length.
    p = Peer(net.target.addr, net.evil)
    invalid = net.target.counter("refused_invalid")
    p.send(entries_msg([
        epb.SignedEntry(entry=os.urandom(200), signature=os.urandom(64)),
        epb.SignedEntry(entry=b"\x08\x01", signature=b"\x01" * 10),
    ]))
    wait_until("garbage entries counted", lambda: net.target.counter("refused_invalid") >= invalid + 2)
    p.close()
    # 4. Random bytes instead of TLS, and TLS followed by random bytes instead of HTTP/2.
    s = raw_tcp(net.target.addr)
    s.sendall(os.urandom(4096))
    s.close()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    with ctx.wrap_socket(raw_tcp(net.target.addr), server_hostname="yui-node") as t:
        t.sendall(os.urandom(4096))
    net.assert_unchanged(before)
    net.assert_serving()


def test_wrong_signatures(net):
    before = net.snapshot()
    bad = net.target.counter("refused_signature")
    p = Peer(net.target.addr, net.evil)
    e = net.evil.entry(title="改ざん")
    s = net.evil.signed(e)
    flipped = bytearray(s.signature)
    flipped[5] ^= 0x40
    # A valid signature by someone else over the same bytes, and a valid
    # signature over other bytes.
    other = Author(bytes([0x99] * 32)).sign_bytes(s.entry)
    moved = epb.SignedEntry(entry=s.entry, signature=net.evil.sign_bytes(s.entry + b"x").signature)
    p.send(entries_msg([epb.SignedEntry(entry=s.entry, signature=bytes(flipped)), other, moved]))
    wait_until("bad signatures counted", lambda: net.target.counter("refused_signature") == bad + 3)
    p.close()
    net.assert_unchanged(before)
    net.assert_serving()


def test_broken_chains(net):
    p = Peer(net.target.addr, net.evil3)
    p.send(entries_msg([net.evil3.next_signed(title="一")]))
    wait_until("evil3's first entry", lambda: net.target.head_of(net.evil3.id) == 1)
    before = net.snapshot()
    # seq 2 whose prev is not entry 1: the author signed a second history,
    # so the pair is fork evidence and the log stops at seq 2.
    forks = net.target.counter("forks_detected")
    p.send(entries_msg([net.evil3.signed(net.evil3.entry(prev=os.urandom(32)))]))
    wait_until("the broken chain kept as fork evidence",
               lambda: net.target.counter("forks_detected") == forks + 1)
    held = net.target.status()["forks"]
    assert any(f["author"] == net.evil3.id and f["seq"] == 2 for f in held), held
    forked = net.target.counter("refused_forked")
    p.send(entries_msg([net.evil3.next_signed(title="続き")]))
    wait_until("refused past the broken chain", lambda: net.target.counter("refused_forked") == forked + 1)
    p.close()
    p = Peer(net.target.addr, net.evil)
    # seq 0, a seq far ahead of the head, a seq-1 entry with a prev.
    invalid = net.target.counter("refused_invalid")
    gaps = net.target.counter("gaps")
    p.send(entries_msg([
        net.evil.signed(net.evil.entry(seq=0)),
        net.evil.signed(net.evil.entry(seq=1, prev=os.urandom(32), object_id="x")),
    ]))
    p.send(entries_msg([net.evil.signed(net.evil.entry(seq=50))]))
    wait_until("invalid seqs counted", lambda: net.target.counter("refused_invalid") >= invalid + 1)
    wait_until("the gap noticed", lambda: net.target.counter("gaps") >= gaps + 1)
    p.close()
    net.assert_unchanged(before)
    net.assert_serving()


def test_entries_from_unknown_authors(net):
    before = net.snapshot()
    untrusted = net.target.counter("refused_untrusted")
    # Relayed by a trusted peer.
    p = Peer(net.target.addr, net.evil)
    p.send(entries_msg([net.stranger.signed(net.stranger.entry(seq=1))]))
    wait_until("untrusted author counted", lambda: net.target.counter("refused_untrusted") == untrusted + 1)
    p.close()
    # Or a stranger dialling in itself: refused at the handshake.
    code, details = refused_status(lambda: Peer(net.target.addr, net.stranger))
    assert code == grpc.StatusCode.PERMISSION_DENIED, (code, details)
    assert "not trusted" in details
    net.assert_unchanged(before)
    net.assert_serving()


def test_handshake_attacks(net):
    before = net.snapshot()
    addr = net.target.addr
    # A proof bound to a TLS certificate other than the one this connection shows.
    _, _, elsewhere = client_certificate()

    def other_cert(sig, p):
        return net.evil.key.sign(
            transcript(b"dialer", net.evil.public, p.listener_id, p.listener_nonce, elsewhere, p.server_cert)
        ).signature

    code, details = refused_status(lambda: Peer(addr, net.evil, tamper=other_cert))
    assert code == grpc.StatusCode.UNAUTHENTICATED, (code, details)
    # A proof signed by another key than the one in Hello.
    impostor = Author(bytes([0x55] * 32))

    def wrong_key(sig, p):
        return impostor.key.sign(
            transcript(b"dialer", net.evil.public, p.listener_id, p.listener_nonce, p.cert, p.server_cert)
        ).signature

    code, _ = refused_status(lambda: Peer(addr, net.evil, tamper=wrong_key))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    # A replay: a proof recorded on one connection, sent on the next.
    recorded = {}

    def record(sig, p):
        recorded["sig"] = sig
        return sig

    Peer(addr, net.evil, tamper=record).close()
    code, _ = refused_status(lambda: Peer(addr, net.evil, tamper=lambda sig, p: recorded["sig"]))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    # No TLS client certificate: nothing to bind the proof to.
    channel, _, _ = open_channel(addr, with_client_cert=False)
    call = SyncCall(channel)
    call.send(fpb.SyncMessage(hello=fpb.Hello(protocol_version=1, node_id=net.evil.public, nonce=os.urandom(32))))
    code, details = call.wait_status()
    assert code == grpc.StatusCode.UNAUTHENTICATED and "certificate" in details, (code, details)
    channel.close()
    # Pull without a completed handshake on the connection.
    channel, _, _ = open_channel(addr)
    with pytest.raises(grpc.RpcError) as e:
        fgrpc.FederationStub(channel).Pull(fpb.PullRequest(author=net.evil.public, from_seq=1))
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    channel.close()
    wait_until("refused handshakes counted", lambda: net.target.counter("handshake_bad_proof") >= 4)
    net.assert_unchanged(before)
    net.assert_serving()


def test_forks(net):
    """A second, different entry at a held seq: kept as evidence, the log stops."""
    before = net.snapshot()
    p = Peer(net.target.addr, net.evil2)
    first = net.evil2.next_signed(title="一つ目")
    p.send(entries_msg([first]))
    wait_until("evil2's first entry", lambda: net.target.head_of(net.evil2.id) == 1)
    before = net.snapshot()
    twin = net.evil2.signed(net.evil2.entry(seq=1, title="二つ目"))
    p.send(entries_msg([twin]))
    wait_until("the fork", lambda: net.target.counter("forks_detected") >= 1)
    # The log is stopped at the fork: its next entry is refused.
    forked = net.target.counter("refused_forked")
    p.send(entries_msg([net.evil2.next_signed(title="続き")]))
    wait_until("refused past the fork", lambda: net.target.counter("refused_forked") == forked + 1)
    forks = net.target.status()["forks"]
    assert any(f["author"] == net.evil2.id and f["seq"] == 1 for f in forks), forks
    p.close()
    net.assert_unchanged(before)
    net.assert_serving()


def test_oversized_messages_and_entries(net):
    before = net.snapshot()
    # A 9 MiB message: over max_message_bytes (8 MiB), refused from its length prefix.
    p = Peer(net.target.addr, net.evil)
    huge = epb.SignedEntry(entry=os.urandom(9 * 1024 * 1024), signature=os.urandom(64))
    p.send(entries_msg([huge]))
    code, details = p.call.wait_status()
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (code, details)
    assert "max_message_bytes" in details
    p.close()
    # An entry over max_entry_bytes inside a normal message.
    p = Peer(net.target.addr, net.evil)
    invalid = net.target.counter("refused_invalid")
    big = net.evil.entry(title="大" * 30000)
    p.send(entries_msg([net.evil.signed(big)]))
    wait_until("oversized entry counted", lambda: net.target.counter("refused_invalid") == invalid + 1)
    # A batch with more entries than max_batch_entries.
    p.send(entries_msg([epb.SignedEntry(entry=b"\x08\x01", signature=b"\0" * 64)] * 5000))
    code, details = p.call.wait_status()
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "max_batch_entries" in details, (code, details)
    p.close()
    net.assert_unchanged(before)
    net.assert_serving()


def test_floods(net):
    """Floods of pings, duplicates and new entries over the rate limit, while
    an honest peer keeps exchanging."""
    p = Peer(net.target.addr, net.evil)
    stop = threading.Event()

    def flood():
        # As fast as the node takes them, and no faster: the client's send
        # queue is unbounded, so a flood that outran the transport would
        # bury the entries below behind a backlog that only grows (on a
        # busy machine, for longer than any deadline). Bounded, the flood
        # still fills every read the node makes.
        ping = fpb.SyncMessage(ping=fpb.Ping(sent_at=1))
        while not stop.is_set():
            if p.pending() < 200:
                for _ in range(200):
                    p.send(ping)
            else:
                time.sleep(0.001)

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    # 700 new entries from one author: 600 fit the per-minute bucket.
    rate = net.target.counter("refused_rate")
    start = net.target.head_of(net.evil.id)
    batch = [net.evil.next_signed(title=f"大量投稿 {i}") for i in range(700)]
    for i in range(0, 700, 100):
        p.send(entries_msg(batch[i:i + 100]))
    wait_until("the bucketful stored", lambda: net.target.head_of(net.evil.id) >= start + 590, 30)
    wait_until("the rest refused for rate", lambda: net.target.counter("refused_rate") > rate, 30)
    # Duplicates, again and again.
    dup = net.target.counter("duplicate")
    for _ in range(20):
        p.send(entries_msg(batch[:100]))
    wait_until("duplicates counted", lambda: net.target.counter("duplicate") >= dup + 2000, 30)
    # The honest peer is served meanwhile.
    net.assert_serving()
    stop.set()
    t.join()
    p.close()
    net.assert_serving()


def test_half_open_streams_and_abrupt_disconnects(net):
    before = net.snapshot()
    addr = net.target.addr
    # A Hello and then silence: the handshake deadline (2 s here) ends it.
    channel, _, _ = open_channel(addr)
    call = SyncCall(channel)
    call.send(fpb.SyncMessage(hello=fpb.Hello(protocol_version=1, node_id=net.evil.public, nonce=os.urandom(32))))
    call.recv()  # the node's Hello
    code, _ = call.wait_status(timeout=15)
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED, code
    channel.close()
    # A TCP connection that never starts TLS is closed after the deadline.
    s = raw_tcp(addr)
    s.settimeout(15)
    t0 = time.time()
    assert s.recv(1) == b""
    assert time.time() - t0 < 10
    s.close()
    # Abrupt ends: a stream cancelled mid-batch, a connection reset mid-stream.
    p = Peer(addr, net.evil)
    p.send(entries_msg([epb.SignedEntry(entry=os.urandom(1000), signature=os.urandom(64))] * 400))
    p.call.cancel()
    p.channel.close()
    s = raw_tcp(addr)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    s.close()  # RST
    # Many half-open connections at once: those past max_connections_per_address
    # (64 here) are closed at once; the honest peer's link is not disturbed.
    idle = [raw_tcp(addr) for _ in range(70)]
    wait_until("connections over the per-address limit counted",
               lambda: net.target.counter("limit_connections_per_address") >= 1)
    net.assert_unchanged(before)
    net.assert_serving()
    for c in idle:
        c.close()
    wait_until("the handshake timeout counted", lambda: net.target.counter("handshake_timeout") >= 1)
    net.assert_serving()


def _tls(addr, alpn):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols([alpn])
    t = ctx.wrap_socket(raw_tcp(addr), server_hostname="yui-node")
    t.settimeout(20)
    return t


def _closed_by_peer(sock):
    try:
        return sock.recv(65536) == b"" or _drain_to_close(sock)
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def _drain_to_close(sock):
    """Frames the server sent (its HTTP/2 SETTINGS), then the close."""
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
    return False


def test_silent_connections_after_tls_are_closed(net):
    """Connections that finish TLS and then say nothing, or only open HTTP/2
    and send no request, are closed at the handshake deadline (2 s here),
    so they cannot fill max_connections; a trusted peer still connects."""
    before = net.snapshot()
    addr = net.target.addr
    t0 = time.time()
    # 50 in all: under max_connections_per_address (64 here), so each one
    # is accepted and must be closed by its deadline.
    silent = [_tls(addr, "h2") for _ in range(25)]
    preface = []
    for _ in range(15):
        t = _tls(addr, "h2")
        t.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        preface.append(t)
    http1 = [_tls(addr, "http/1.1") for _ in range(10)]
    for s in silent + preface + http1:
        assert _closed_by_peer(s), "a silent connection stayed open"
    elapsed = time.time() - t0
    assert elapsed < 15, f"closed only after {elapsed:.1f} s"
    for s in silent + preface + http1:
        s.close()
    # A Sync stream that sends its Hello and then nothing: its connection
    # goes too, not only the stream.
    t = _tls(addr, "h2")
    assert _closed_by_peer(t)
    t.close()
    net.assert_unchanged(before)
    net.assert_serving()


def test_http2_streams_per_connection_are_bounded(net):
    """The node's HTTP/2 SETTINGS cap concurrent streams per connection, so
    one connection cannot open streams without end."""
    t = _tls(net.target.addr, "h2")
    t.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    buf = b""
    while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
        chunk = t.recv(65536)
        assert chunk, "closed before its SETTINGS"
        buf += chunk
    length, kind = int.from_bytes(buf[:3], "big"), buf[3]
    assert kind == 4, f"first frame is type {kind}, not SETTINGS"
    payload = buf[9:9 + length]
    settings = {int.from_bytes(payload[i:i + 2], "big"): int.from_bytes(payload[i + 2:i + 6], "big")
                for i in range(0, len(payload), 6)}
    assert 0 < settings.get(3, 1 << 31) <= 64, f"SETTINGS_MAX_CONCURRENT_STREAMS: {settings}"
    t.close()


def test_many_small_batches_are_held_a_few_at_a_time(net):
    """Thousands of one-entry messages: each is taken in turn (a small batch
    never waits behind a bulk one, but only a few run at once) and the node
    keeps serving."""
    before = net.snapshot()
    p = Peer(net.target.addr, net.evil)
    untrusted = net.target.counter("refused_untrusted")
    e = net.stranger.signed(net.stranger.entry(seq=1, title="小口"))
    for _ in range(3000):
        while p.pending() > 500:
            time.sleep(0.005)
        p.send(entries_msg([e]))
    wait_until("every small batch taken",
               lambda: net.target.counter("refused_untrusted") >= untrusted + 3000, 60)
    net.assert_unchanged(before)
    p.close()
    net.assert_serving()


def test_extreme_numbers(net):
    """Seqs at the top of u64 in Wants, entries and fork evidence: refused
    or ignored, never an overflow; the node keeps serving."""
    before = net.snapshot()
    top = (1 << 64) - 1
    p = Peer(net.target.addr, net.evil)
    p.send(fpb.SyncMessage(want=fpb.Want(heads=[
        fpb.Head(author=net.evil.public, seq=top),
        fpb.Head(author=net.evil2.public, seq=top),
        fpb.Head(author=net.stranger.public, seq=top),
    ])))
    forks = net.target.counter("forks_detected")
    gaps = net.target.counter("gaps")
    refused_forked = net.target.counter("refused_forked")
    a = net.evil.signed(net.evil.entry(seq=top, prev=os.urandom(32), object_id="top-a"))
    b = net.evil.signed(net.evil.entry(seq=top, prev=os.urandom(32), object_id="top-b"))
    p.send(entries_msg([a]))
    p.send(fpb.SyncMessage(fork=fpb.ForkEvidence(first=a, second=b)))
    c = net.evil.signed(net.evil.entry(seq=top - 1, prev=os.urandom(32), object_id="top-c"))
    p.send(fpb.SyncMessage(fork=fpb.ForkEvidence(first=a, second=c)))
    # Both pairs are real evidence (one seq twice; top after top - 1 with
    # another prev), stopping evil's log at a seq no log reaches.
    wait_until("both pairs taken as evidence", lambda: net.target.counter("forks_detected") >= forks + 2)
    # The entry and the evidence travel separately (entries are ingested off
    # the session's task): the entry at the top seq is either a gap (it came
    # first) or refused as from a forked log (the evidence came first).
    wait_until("the entry at the top seq taken as a gap or refused as forked",
               lambda: net.target.counter("gaps") > gaps
               or net.target.counter("refused_forked") > refused_forked)
    assert net.target.alive(), net.target.log()[-3000:]
    p.close()
    net.assert_unchanged(before)
    net.assert_serving()


def test_public_exports_are_paged_limited_and_never_stall_sessions(net):
    """Anyone may read the public exports, so they come in pages, each
    client address has a budget (429 past it), rendering is off the async
    workers and cached: a crowd of readers never stalls the node's links."""
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    base = f"https://{net.target.addr}/export/entries.json"

    def get(url):
        try:
            r = urllib.request.urlopen(url, context=ctx, timeout=30)
            return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    # Enough entries for pages, whatever ran before.
    for n in range(3):
        net.target.cli("publish", "event", "--title", f"公開訓練 {n}",
                       "--start", "2027-03-01T10:00:00+09:00")
    # Wait out any budget earlier tests spent.
    wait_until("the export answers", lambda: get(base + "?limit=2")[0] == 200, 30)
    code, headers, body = get(base + "?limit=2")
    if code == 429:
        wait_until("budget back", lambda: get(base + "?limit=2")[0] == 200, 30)
        code, headers, body = get(base + "?limit=2")
    assert code == 200, (code, body[:200])
    total = int(headers["X-Total-Count"] if "X-Total-Count" in headers else headers["x-total-count"])
    assert total > 2, total
    page = json.loads(body)
    assert len(page) == 2
    link = headers.get("Link") or headers.get("link")
    assert link and "cursor=" in link and 'rel="next"' in link, headers
    # The next page follows on, with nothing twice.
    nxt = link.split(";")[0].strip("<> ")
    code, _, body2 = get(base + nxt)
    assert code in (200, 429), code
    if code == 200:
        ids = [e["id"] for e in page] + [e["id"] for e in json.loads(body2)]
        assert len(ids) == len(set(ids)), ids
    # A crowd from one address: the budget (a burst of 20) runs out.
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: get(base)[0], range(150)))
    assert 429 in codes and 200 in codes, codes
    assert all(c in (200, 429, 503) for c in codes), codes
    # Metrics have a budget of their own: a scraper at the same address is
    # not starved by the crowd of readers.
    code, _, _ = get(f"https://{net.target.addr}/metrics")
    assert code == 200, code
    # Meanwhile, and after, the links are served.
    net.assert_serving()


def test_one_sync_stream_per_connection(net):
    """A second Sync stream on a connection is refused from its first
    message, while the first is still in its handshake."""
    channel, _, _ = open_channel(net.target.addr)
    first = SyncCall(channel)
    first.send(fpb.SyncMessage(hello=fpb.Hello(protocol_version=1, node_id=net.evil.public, nonce=os.urandom(32))))
    first.recv()  # the node's Hello: the first stream is in its handshake
    second = SyncCall(channel)
    second.send(fpb.SyncMessage(hello=fpb.Hello(protocol_version=1, node_id=net.evil2.public, nonce=os.urandom(32))))
    code, details = second.wait_status()
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "one Sync stream per connection" in details, (code, details)
    channel.close()
    net.assert_serving()


def test_the_node_reports_every_attack(net):
    """The refusals are visible to the operator, in status and in /metrics."""
    c = net.target.status()["counters"]
    # (No refused_chain: a broken chain at the next seq is fork evidence.)
    for key in ["refused_signature", "refused_untrusted", "refused_invalid",
                "refused_forked", "refused_rate", "limit_message_bytes", "limit_batch_entries",
                "limit_connections_per_address",
                "handshake_bad_proof", "handshake_untrusted", "handshake_timeout", "forks_detected"]:
        assert c[key] > 0, f"{key} was never counted: {c}"
    assert net.target.alive() and net.bystander.alive()


def test_the_urgent_lane_from_the_protocol_text(net):
    """Protocol 4: once the node has answered the opening Want, the dialer
    opens `Urgent` on the same connection. The node's urgent entries come on
    it while the Sync stream is left unread; an entry sent on it is stored; a
    lane on a connection without a handshake, or a second one, is refused;
    a message other than Entries or Have on it ends the session with a protocol
    error, and the node serves on."""
    from yuipeer import SyncCall, open_channel

    channel, _, _ = open_channel(net.target.addr)
    refused = SyncCall(channel, method="Urgent")
    code, details = refused.wait_status()
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "once per connection" in details, (code, details)
    channel.close()

    p = Peer(net.target.addr, net.evil, protocol_version=4)
    assert p.listener_version == 5
    own = net.target.head_of(net.target.id)
    p.send(fpb.SyncMessage(want=fpb.Want(heads=[fpb.Head(author=p.listener_id, seq=own),
                                                fpb.Head(author=net.evil.public, seq=net.target.head_of(net.evil.id))])))
    w = first_want(p)
    assert w.reply, w
    lane = SyncCall(p.channel, method="Urgent")
    second = SyncCall(p.channel, method="Urgent")
    code, details = second.wait_status()
    assert code == grpc.StatusCode.FAILED_PRECONDITION, (code, details)
    net.target.cli("publish", "readiness", "--alert-level", "3", "--headline", "避難所を開設しました")
    m = lane.recv(timeout=20)
    assert m.HasField("entries") and len(m.entries.entries) == 1, m
    e = epb.Entry.FromString(m.entries.entries[0].entry)
    assert e.author == p.listener_id and e.seq == own + 1 and e.HasField("readiness"), e
    # An author of its own: the others' per-minute budgets may be spent by
    # the tests before this one.
    urgent = Author(bytes([0x6c] * 32))
    net.target.cli("trust", "add", urgent.id, "--name", "lane")
    lane.send(entries_msg([urgent.next_signed(title="至急: 給水車の派遣")]))
    wait_until("the entry sent on the lane", lambda: net.target.head_of(urgent.id) == 1)
    lane.send(fpb.SyncMessage(ping=fpb.Ping(sent_at=1)))
    code, details = p.call.wait_status()
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "Entries and Have messages only" in details, (code, details)
    p.close()
    net.assert_serving()


def test_a_have_of_a_head_the_node_lacks_is_asked_for(net):
    """Protocol 5, lazy push from docs/PROTOCOL.md section 6: a peer states
    in a Have that it holds an author the node trusts but lacks; once the
    grace time has passed without the entries coming another way, the node
    asks this peer for them with a Want stating its own head, and stores
    what the peer then sends. A Have naming a malformed author ends the
    session with a protocol error."""
    p = Peer(net.target.addr, net.evil, protocol_version=5)
    assert p.listener_version == 5
    own = net.target.head_of(net.target.id)
    p.send(fpb.SyncMessage(want=fpb.Want(heads=[fpb.Head(author=p.listener_id, seq=own)])))
    assert first_want(p).reply
    lazy = Author(bytes([0x6d] * 32))
    net.target.cli("trust", "add", lazy.id, "--name", "lazy")
    entry = lazy.next_signed(title="応援職員の派遣について")
    p.send(fpb.SyncMessage(have=fpb.Have(heads=[fpb.Head(author=lazy.public, seq=1)])))
    graft = None
    deadline = time.monotonic() + 20
    while graft is None and time.monotonic() < deadline:
        m = p.call.recv(timeout=20)
        if m.HasField("want"):
            graft = next((h for h in m.want.heads if h.author == lazy.public), None)
    assert graft is not None and graft.seq == 0, graft
    p.send(entries_msg([entry]))
    wait_until("the entry asked for after the Have", lambda: net.target.head_of(lazy.id) == 1)
    p.send(fpb.SyncMessage(have=fpb.Have(heads=[fpb.Head(author=b"\x01" * 31, seq=1)])))
    code, details = p.call.wait_status()
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "have.author" in details, (code, details)
    p.close()
