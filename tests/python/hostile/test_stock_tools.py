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
