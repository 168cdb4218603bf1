"""Stock gRPC tooling against a real yui node: the grpcio health-checking
client and the grpcio reflection client (the descriptor database grpcurl-like
tools build on) need nothing from yui's own code."""
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from yuipeer import open_channel


def test_health_check_reports_serving(net):
    channel, _, _ = open_channel(net.target.addr, with_client_cert=False)
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "yui.v1.Federation"):
        r = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert r.status == health_pb2.HealthCheckResponse.SERVING, service
    channel.close()


def test_reflection_describes_the_federation_service(net):
    channel, _, _ = open_channel(net.target.addr, with_client_cert=False)
    db = ProtoReflectionDescriptorDatabase(channel)
    services = db.get_services()
    assert "yui.v1.Federation" in services
    assert "grpc.health.v1.Health" in services
    pool = DescriptorPool(db)
    federation = pool.FindServiceByName("yui.v1.Federation")
    methods = {m.name for m in federation.methods}
    assert "Sync" in methods, methods
    hello = pool.FindMessageTypeByName("yui.v1.Hello")
    assert "protocol_version" in hello.fields_by_name
    channel.close()


def test_metrics_parse_with_the_prometheus_client(net):
    """/metrics is valid OpenMetrics text (the reference parser, which is
    strict: types, suffixes, `# EOF`) and carries what an operator
    watches: refusals by reason, per-peer state, lag, catch-up and queue,
    sync bytes, verify and store latency, sizes."""
    import ssl
    import urllib.error
    import urllib.request

    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # Traffic both ways first, so every counter and histogram has seen some
    # (the test does not depend on what ran before it).
    net.assert_serving()
    # The public page (federation port, no token) names no peer: neither
    # address nor node id; links are counted by state.
    public = urllib.request.urlopen(f"https://{net.target.addr}/metrics", context=ctx, timeout=10).read().decode()
    pub_families = {f.name: f for f in text_string_to_metric_families(public)}
    assert "yui_peer_up" not in pub_families and "yui_peer_state" not in pub_families
    assert net.bystander.id not in public and net.bystander.addr.rsplit(":", 1)[0] + '"' not in public
    assert "peer=" not in public and "addr=" not in public, public
    links = {s.labels["state"]: s.value for s in pub_families["yui_links"].samples}
    assert links["connected"] >= 1, links
    assert "yui_entries_accepted" in pub_families
    # The full page, per peer, is behind the admin token.
    admin = (net.target.home / "run" / "admin.addr").read_text().strip()
    token = (net.target.home / "admin.token").read_text().strip()
    try:
        urllib.request.urlopen(f"http://{admin}/metrics", timeout=10)
        raise AssertionError("the full metrics answered without the token")
    except urllib.error.HTTPError as e:
        assert e.code == 401, e.code
    req = urllib.request.Request(f"http://{admin}/metrics", headers={"Authorization": f"Bearer {token}"})
    page = urllib.request.urlopen(req, timeout=10).read().decode()
    families = {f.name: f for f in text_string_to_metric_families(page)}
    for name in ["yui_entries_accepted", "yui_entries_refused", "yui_forks_detected", "yui_sync_bytes",
                 "yui_verify_seconds", "yui_store_seconds", "yui_entries", "yui_entry_bytes",
                 "yui_peer_up", "yui_peer_state", "yui_peer_behind", "yui_peer_missing", "yui_peer_queue",
                 "yui_limit_exceeded", "yui_handshakes_refused"]:
        assert name in families, f"{name} missing from /metrics"

    def samples(name):
        return families[name].samples

    reasons = {s.labels["reason"] for s in samples("yui_entries_refused") if s.name.endswith("_total")}
    assert {"untrusted", "signature", "invalid", "chain", "forked", "rate"} <= reasons
    sent = {s.labels["direction"]: s.value for s in samples("yui_sync_bytes")}
    assert sent["sent"] > 0 and sent["received"] > 0, sent
    for h in ("yui_verify_seconds", "yui_store_seconds"):
        assert families[h].type == "histogram"
        count = next(s.value for s in samples(h) if s.name == f"{h}_count")
        inf = next(s.value for s in samples(h) if s.name == f"{h}_bucket" and s.labels["le"] == "+Inf")
        assert count > 0 and inf == count, (h, count, inf)
    states = [s for s in samples("yui_peer_state") if s.value == 1]
    assert any(s.labels["state"] == "connected" and s.labels["peer"] == net.bystander.id for s in states), states
    size = next(s.value for s in samples("yui_entry_bytes"))
    assert size > 0


def test_the_node_key_file_is_pkcs8_that_other_stacks_read(net):
    """`node.key` is a PKCS#8 PEM Ed25519 key (RFC 8410): OpenSSL's reader
    (through `cryptography`) loads it, and its public key is the node id."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from yuipeer import node_id_text

    pem = (net.target.home / "node.key").read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert node_id_text(public) == net.target.id
    # A signature from the file's key verifies as the node's.
    sig = key.sign(b"yui/entry/v1\0test")
    key.public_key().verify(sig, b"yui/entry/v1\0test")
