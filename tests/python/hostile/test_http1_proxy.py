"""A member whose only way out is a TLS-terminating proxy that speaks
HTTP/1.1 alone (Python's http.server, which knows no HTTP/2, with its own
certificate): over `[[federation.http1_peers]]` it catches up with the
relay, pushes its own entries, and receives the relay's new entries live
(long poll). What passes through the proxy cannot be replayed or altered:
a recorded request sent again, or with its body changed, is refused."""
import datetime
import http.client
import http.server
import ipaddress
import shutil
import ssl
import tempfile
import threading
import time
from pathlib import Path



def proxy_cert(dir: Path):
    """The proxy's CA (what the member is told to trust) and its
    certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    span = dict(not_valid_before=now - datetime.timedelta(minutes=5), not_valid_after=now + datetime.timedelta(days=1))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "municipal proxy CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(span["not_valid_before"]).not_valid_after(span["not_valid_after"])
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(span["not_valid_before"]).not_valid_after(span["not_valid_after"])
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (dir / "proxy-ca.pem").write_bytes(ca.public_bytes(pem))
    (dir / "proxy.pem").write_bytes(cert.public_bytes(pem))
    (dir / "proxy.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return dir / "proxy-ca.pem", dir / "proxy.pem", dir / "proxy.key"


class TerminatingProxy:
    """Terminates TLS with its own certificate, speaks HTTP/1.1 only, and
    forwards each request to the upstream node over a new TLS connection."""

    def __init__(self, cert, key, upstream):
        self.requests = []
        box = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k: v for k, v in self.headers.items() if k.lower().startswith("x-yui-")}
                headers["content-type"] = self.headers.get("content-type", "application/x-protobuf")
                box.requests.append((self.path, headers, body))
                status, out_headers, data = box.forward(self.path, headers, body)
                self.send_response(status)
                for k, v in out_headers:
                    if k.lower() in ("content-type", "x-yui-your-head", "x-yui-more"):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.upstream = upstream
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        ctx.set_alpn_protocols(["http/1.1"])
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, path, headers, body):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        host, port = self.upstream.rsplit(":", 1)
        c = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=60)
        c.request("POST", path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheaders(), data

    def stop(self):
        self.server.shutdown()


def test_a_member_behind_an_http1_only_tls_terminating_proxy_syncs_both_ways(procs):
    Node, wait_until = procs.Node, procs.wait_until
    root = Path(tempfile.mkdtemp(prefix="yui-h1-"))
    relay = Node(root, "relay", "東京都 広域連携", "130001")
    member = Node(root, "izu", "南伊豆町", "223042")
    proxy = None
    try:
        relay.set("http1_serve", "true")
        relay.start()
        ca, cert, key = proxy_cert(root)
        proxy = TerminatingProxy(cert, key, relay.addr)
        cfg = member.home / "config.toml"
        text = cfg.read_text().replace("http1_peers = []\n", "")
        text += (f'\n[[federation.http1_peers]]\nurl = "https://127.0.0.1:{proxy.port}"\n'
                 f'node_id = "{relay.id}"\nca_file = "{ca}"\n')
        cfg.write_text(text)
        member.start()
        member.cli("trust", "add", relay.id, "--name", "東京都")
        relay.cli("trust", "add", member.id, "--name", "南伊豆町")
        relay.cli("publish", "event", "--id", "notice", "--title", "広域防災連絡会議",
                  "--start", "2027-02-10T10:00:00+09:00")

        wait_until("the relay's entry at the member through the proxy",
                   lambda: member.head_of(relay.id) >= 1, 30)
        member.cli("publish", "event", "--id", "reply", "--title", "出席します",
                   "--start", "2027-02-10T10:00:00+09:00")
        wait_until("the member's entry at the relay", lambda: relay.head_of(member.id) >= 1, 30)
        # Live: a new entry at the relay reaches the member while its long
        # poll waits, well before the poll would end by itself.
        before = member.head_of(relay.id)
        t0 = time.time()
        relay.cli("publish", "event", "--id", "notice-2", "--title", "第2回 連絡会議",
                  "--start", "2027-03-10T10:00:00+09:00")
        wait_until("the relay's new entry at the member", lambda: member.head_of(relay.id) > before, 20)
        assert time.time() - t0 < 15, "pushed live, not at the next poll"
        assert proxy.requests, "everything went through the proxy"
        assert all(p.startswith("/h1/v1/") for p, _, _ in proxy.requests)

        # What the proxy saw cannot be replayed, or changed.
        path, headers, body = next(r for r in proxy.requests if r[0].startswith("/h1/v1/pull"))
        status, _, data = proxy.forward(path, headers, body)
        assert status == 401 and b"seen before" in data, (status, data)
        fresh = dict(headers)
        fresh["x-yui-nonce"] = "00" * 16
        status, _, data = proxy.forward(path, fresh, body + b"\x00")
        assert status == 401, (status, data)
        # An untrusted caller gets nothing.
        stranger = dict(headers)
        stranger["x-yui-node"] = relay.id.replace(relay.id[5], "q" if relay.id[5] != "q" else "p", 1)
        status, _, _ = proxy.forward(path, stranger, body)
        assert status in (401, 403)
        assert member.alive() and relay.alive()
    finally:
        member.stop()
        relay.stop()
        if proxy:
            proxy.stop()
        print("member log:", member.log()[-3000:])
        print("relay log:", relay.log()[-2000:])
        shutil.rmtree(root, ignore_errors=True)
