"""The files in deploy/ parse and agree with each other and with yui: the
systemd unit, the container image build file, the compose demo and the
example configs. Where a container engine exists the image is built and
the demo brought up; elsewhere those two tests are skipped, saying why."""
import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
YUI = os.environ.get("YUI_BIN") or str(ROOT / "target" / "debug" / "yui")
SLUGS = ["tokyo-relay", "suginami", "minami-izu", "sapporo"]


def dockerfile_instructions(text):
    """(INSTRUCTION, arguments) with continuation lines joined."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        current += " " + stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            word, _, rest = current.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            current = ""
    assert not current, "Dockerfile ends inside a continuation"
    return out


def test_systemd_unit_is_hardened():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read_string((DEPLOY / "yui.service").read_text())
    s = unit["Service"]
    assert s["User"] == "yui" and s["StateDirectory"] == "yui"
    assert s["ProtectSystem"] == "strict"
    assert s["NoNewPrivileges"] == "true"
    assert s["Restart"] in ("on-failure", "always")
    assert "YUI_HOME=/var/lib/yui" in s["Environment"]
    assert s["ExecStart"].split()[1:] == ["run"]
    # systemd must wait longer than yui's own drain before it kills.
    assert int(s["TimeoutStopSec"]) > 10
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_dockerfile_builds_a_minimal_non_root_image():
    ins = dockerfile_instructions((DEPLOY / "Dockerfile").read_text())
    froms = [a for i, a in ins if i == "FROM"]
    assert len(froms) == 2, "a build stage and a runtime stage"
    assert froms[0].endswith(" AS build")
    assert "distroless" in froms[1], "runtime image is distroless"
    final = ins[[i for i, _ in ins].index("FROM", 1):]
    kinds = dict(final)
    assert kinds["USER"].split(":")[0] not in ("0", "root")
    assert kinds["ENTRYPOINT"] == '["/usr/local/bin/yui"]'
    assert kinds["CMD"] == '["run"]'
    assert kinds["EXPOSE"] == "7100"
    assert "YUI_HOME=/var/lib/yui" in kinds["ENV"]
    assert "yui" in kinds["HEALTHCHECK"] and "status" in kinds["HEALTHCHECK"]
    build = " ".join(a for i, a in ins if i == "RUN")
    assert "--locked" in build and "--release" in build
    # Every demo mount point exists in the image, owned by the node's user.
    for slug in SLUGS:
        assert f"/var/lib/yui-demo/{slug}" in build
    assert any(i == "COPY" and "--chown=65532" in a for i, a in final)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "target/" in ignored


def test_compose_demo_has_a_relay_and_three_municipalities_each_on_its_own_volume():
    c = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = c["services"]
    assert set(services) == {"prepare", *SLUGS}
    build = services["prepare"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
    cmd = services["prepare"]["command"]
    assert cmd[:2] == ["demo", "--prepare"]
    root = cmd[2]
    assert cmd[cmd.index("--relay-addr") + 1] == "tokyo-relay:7100"
    prepared = {v.split(":")[0]: v.split(":")[1] for v in services["prepare"]["volumes"]}
    assert prepared == {s: f"{root}/{s}" for s in SLUGS}
    volumes = set()
    for slug in SLUGS:
        s = services[slug]
        assert s["image"] == services["prepare"]["image"]
        assert s["depends_on"]["prepare"]["condition"] == "service_completed_successfully"
        [v] = s["volumes"]
        name, mount = v.split(":")
        assert mount == "/var/lib/yui" and name == slug
        volumes.add(name)
    assert volumes == set(c["volumes"]) == set(SLUGS), "one volume per node"
    assert services["tokyo-relay"]["ports"] == ["7100:7100"]


@pytest.mark.parametrize("example", sorted((DEPLOY / "examples").glob("*.toml")) + [DEPLOY / "yui.example.toml"],
                         ids=lambda p: p.name)
def test_example_configs_pass_yui_config_check(example):
    r = subprocess.run([YUI, "config", "check", "--file", str(example)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def engine():
    for e in ("docker", "podman"):
        if shutil.which(e) and subprocess.run([e, "info"], capture_output=True).returncode == 0:
            return e
    return None


@pytest.mark.skipif(engine() is None, reason="no container engine on this machine (docker or podman)")
def test_image_builds_and_runs():
    e = engine()
    subprocess.run([e, "build", "-f", str(DEPLOY / "Dockerfile"), "-t", "yui:test", str(ROOT)], check=True)
    r = subprocess.run([e, "run", "--rm", "yui:test", "--version"], capture_output=True, text=True, check=True)
    assert r.stdout.startswith("yui ")
