"""A yui peer written from the protocol description alone: grpcio for gRPC,
PyNaCl for ed25519, `cryptography` for the TLS client certificate. The
hostile-peer tests use it to speak (and break) the protocol from a stack that
shares no code with yui.
"""
import hashlib
import os
import queue
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import nacl.signing
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[3]


def _generate_stubs():
    """Generates Python modules from proto/ with grpcio-tools (no protoc)."""
    out = Path(tempfile.mkdtemp(prefix="yui-pb-"))
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto"))
    rc = protoc.main(
        ["protoc", f"-I{ROOT / 'proto'}", f"--python_out={out}", f"--grpc_python_out={out}"] + protos
    )
    if rc != 0:
        raise RuntimeError(f"grpc_tools.protoc failed with {rc}")
    sys.path.insert(0, str(out))


_generate_stubs()
from yui.v1 import entry_pb2 as epb  # noqa: E402
from yui.v1 import federation_pb2 as fpb  # noqa: E402
from yui.v1 import federation_pb2_grpc as fgrpc  # noqa: E402

ENTRY_DOMAIN = b"yui/entry/v1\0"
HANDSHAKE_DOMAIN = b"yui/handshake/v1\0"

# --- bech32m (BIP 350), for the `yui1...` text form of node ids -----------
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((top >> i) & 1) else 0
    return chk


def _hrp_expand(hrp):
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _to_5bit(data):
    acc, bits, out = 0, 0, []
    for b in data:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def node_id_text(public_key: bytes) -> str:
    data = _to_5bit(public_key)
    poly = _polymod(_hrp_expand("yui") + data + [0] * 6) ^ _BECH32M_CONST
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return "yui1" + "".join(_CHARSET[d] for d in data + checksum)


# --- keys and entries -----------------------------------------------------
class Author:
    """An ed25519 key and its log, signing entries the way yui specifies."""

    def __init__(self, seed: bytes):
        self.key = nacl.signing.SigningKey(seed)
        self.public = bytes(self.key.verify_key)
        self.id = node_id_text(self.public)
        self.head_seq = 0
        self.head_id = b""

    def sign_bytes(self, entry_bytes: bytes) -> "epb.SignedEntry":
        sig = self.key.sign(ENTRY_DOMAIN + entry_bytes).signature
        return epb.SignedEntry(entry=entry_bytes, signature=sig)

    def entry(self, seq=None, prev=None, title="ネットワーク型交流フォーラム", created_at=None, **over):
        seq = self.head_seq + 1 if seq is None else seq
        if prev is None:  # the log's own chain; an explicit prev is kept as given
            prev = self.head_id if seq > 1 else b""
        e = epb.Entry(
            author=self.public,
            seq=seq,
            prev=prev,
            created_at=created_at or int(time.time() * 1000),
            object_id=over.pop("object_id", f"py-event-{seq}"),
            event=epb.Event(
                title=epb.LocalizedText(values=[epb.LocalizedString(lang="ja", text=title)]),
                start="2027-02-10T10:00:00+09:00",
                time_zone="Asia/Tokyo",
                status=epb.EVENT_STATUS_CONFIRMED,
                attendance=epb.ATTENDANCE_MODE_OFFLINE,
            ),
        )
        for k, v in over.items():
            setattr(e, k, v)
        return e

    def signed(self, entry: "epb.Entry") -> "epb.SignedEntry":
        return self.sign_bytes(entry.SerializeToString())

    def next_signed(self, **kw) -> "epb.SignedEntry":
        """Signs the next entry of the log and advances the local head."""
        s = self.signed(self.entry(**kw))
        self.head_seq += 1
        self.head_id = entry_id(s)
        return s


def entry_id(signed: "epb.SignedEntry") -> bytes:
    # Field 1 then field 2: what any protobuf library writes for SignedEntry.
    return hashlib.sha256(signed.SerializeToString()).digest()


def entries_msg(entries):
    return fpb.SyncMessage(entries=fpb.Entries(entries=list(entries)))


# --- TLS ------------------------------------------------------------------
def client_certificate():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "yui hostile peer")])
    now = time.time()
    import datetime

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime.fromtimestamp(now - 3600, datetime.timezone.utc))
        .not_valid_after(datetime.datetime.fromtimestamp(now + 86400, datetime.timezone.utc))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, cert.public_bytes(serialization.Encoding.DER)


def server_certificate(addr):
    host, port = addr.rsplit(":", 1)
    pem = ssl.get_server_certificate((host, int(port)))
    return pem.encode(), ssl.PEM_cert_to_DER_cert(pem)


def open_channel(addr, with_client_cert=True):
    """A channel with its own TCP connection (yui allows one Sync per
    connection). Returns (channel, client cert DER or None, server cert DER)."""
    server_pem, server_der = server_certificate(addr)
    if with_client_cert:
        cert_pem, key_pem, cert_der = client_certificate()
        creds = grpc.ssl_channel_credentials(server_pem, key_pem, cert_pem)
    else:
        cert_der = None
        creds = grpc.ssl_channel_credentials(server_pem)
    channel = grpc.secure_channel(
        addr,
        creds,
        options=[
            # yui's self-signed certificates name "yui-node".
            ("grpc.ssl_target_name_override", "yui-node"),
            ("grpc.use_local_subchannel_pool", 1),
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ],
    )
    return channel, cert_der, server_der


# --- the Sync stream -----------------------------------------------------
class SyncCall:
    """One Sync stream (or, `method="Urgent"`, the urgent lane of protocol
    4); messages go out through a queue, a thread reads."""

    def __init__(self, channel, raw=False, method="Sync"):
        self.out = queue.Queue()
        self.inbox = queue.Queue()
        self.status = None

        def requests():
            while True:
                m = self.out.get()
                if m is None:
                    return
                yield m

        if raw:
            method = channel.stream_stream(
                "/yui.v1.Federation/Sync",
                request_serializer=lambda b: b,
                response_deserializer=fpb.SyncMessage.FromString,
            )
            self.call = method(requests())
        else:
            self.call = getattr(fgrpc.FederationStub(channel), method)(requests())
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for m in self.call:
                self.inbox.put(m)
            self.inbox.put(("end", None))
        except grpc.RpcError as e:
            self.status = e
            self.inbox.put(("error", e))

    def send(self, m):
        self.out.put(m)

    def recv(self, timeout=10):
        item = self.inbox.get(timeout=timeout)
        if isinstance(item, tuple):
            self.inbox.put(item)
            tag, err = item
            raise StreamEnded(err)
        return item

    def wait_status(self, timeout=15):
        """Reads until the node ends the stream; returns (code, details)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                self.recv(timeout=max(0.1, deadline - time.time()))
            except StreamEnded as e:
                if e.error is None:
                    return grpc.StatusCode.OK, ""
                return e.error.code(), e.error.details()
            except queue.Empty:
                break
        raise AssertionError("the node did not end the stream in time")

    def close(self):
        self.out.put(None)

    def cancel(self):
        self.call.cancel()


class StreamEnded(Exception):
    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


def transcript(side: bytes, signer: bytes, other: bytes, nonce: bytes, dialer_cert: bytes, listener_cert: bytes):
    return (
        HANDSHAKE_DOMAIN
        + side
        + b"\0"
        + signer
        + other
        + nonce
        + hashlib.sha256(dialer_cert).digest()
        + hashlib.sha256(listener_cert).digest()
    )


class Peer:
    """A Sync session as `author`, handshake done."""

    def __init__(self, addr, author: Author, proof_for=None, tamper=None, protocol_version=1):
        self.channel, self.cert, self.server_cert = open_channel(addr)
        self.call = SyncCall(self.channel)
        self.author = author
        nonce = os.urandom(32)
        self.call.send(
            fpb.SyncMessage(
                hello=fpb.Hello(
                    protocol_version=protocol_version,
                    node_id=author.public,
                    role=fpb.ROLE_MUNICIPALITY,
                    nonce=nonce,
                    software="yui-hostile-peer.py",
                )
            )
        )
        hello = self.call.recv().hello
        self.listener_version = hello.protocol_version
        self.listener_id = hello.node_id
        self.listener_nonce = hello.nonce
        t = transcript(b"dialer", author.public, hello.node_id, hello.nonce, self.cert, self.server_cert)
        sig = author.key.sign(t).signature
        if tamper is not None:
            sig = tamper(sig, self)
        self.call.send(fpb.SyncMessage(proof=fpb.Proof(signature=sig)))
        proof = self.call.recv()
        if not proof.HasField("proof"):
            raise AssertionError(f"expected the listener's proof, got {proof}")
        # Check the node's own proof too: a real peer would.
        expect = transcript(b"listener", hello.node_id, author.public, nonce, self.cert, self.server_cert)
        nacl.signing.VerifyKey(hello.node_id).verify(expect, proof.proof.signature)

    def send(self, m):
        self.call.send(m)

    def pending(self):
        """Messages queued here, not yet taken by the gRPC stack."""
        return self.call.out.qsize()

    def close(self):
        self.call.close()
        self.channel.close()


def raw_tcp(addr):
    host, port = addr.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)
