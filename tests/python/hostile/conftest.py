"""Real `yui` processes for the hostile-peer suite: a target node, an honest
bystander node linked to it, and helpers to check that an attack left the
target serving and its data intact."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from yuipeer import ROOT, Author

YUI = os.environ.get("YUI_BIN") or str(ROOT / "target" / "debug" / "yui")


def wait_until(what, cond, secs=20):
    deadline = time.time() + secs
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {secs} s waiting for {what}")


class Node:
    """A `yui` home in `root` and, once started, its process."""

    def __init__(self, root: Path, slug, name, code):
        self.home = root / slug
        self.name = name
        out = subprocess.run(
            [YUI, "--home", str(self.home), "init", "--name", name, "--code", code,
             "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"],
            capture_output=True, text=True, check=True,
        )
        self.id = out.stdout.strip()
        self.proc = None

    def set(self, key, value):
        cfg = self.home / "config.toml"
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", cfg.read_text())
        assert n == 1, f"config.toml has no {key}"
        cfg.write_text(text)

    def start(self):
        shutil.rmtree(self.home / "run", ignore_errors=True)
        log = open(self.home / "node.log", "ab")
        self.proc = subprocess.Popen(
            [YUI, "--home", str(self.home), "run"],
            stdout=subprocess.DEVNULL, stderr=log,
            env={**os.environ, "YUI_LOG_LEVEL": "info"},
        )
        wait_until(f"{self.name} to serve", lambda: self.try_cli("status", "--json").returncode == 0, 30)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def try_cli(self, *args):
        return subprocess.run([YUI, "--home", str(self.home), *args], capture_output=True, text=True)

    def cli(self, *args):
        r = self.try_cli(*args)
        assert r.returncode == 0, f"yui {args} failed: {r.stderr}"
        return r.stdout

    def status(self):
        return json.loads(self.cli("status", "--json"))

    @property
    def addr(self):
        return (self.home / "run" / "federation.addr").read_text().strip()

    def head_of(self, author_id):
        for h in self.status()["heads"]:
            if h["author"] == author_id:
                return h["seq"]
        return 0

    def counter(self, name):
        return self.status()["counters"][name]

    def log(self):
        return (self.home / "node.log").read_text(errors="replace")


class Network:
    """The target, an honest bystander dialling it, and the attacker's keys."""

    def __init__(self, root):
        self.target = Node(root, "target", "神戸市", "281000")
        # Short handshake deadline so half-open streams are cut quickly.
        self.target.set("handshake_timeout_secs", "2")
        # Few enough connections per address that a test can go past it.
        self.target.set("max_connections_per_address", "64")
        self.target.start()
        self.bystander = Node(root, "bystander", "天津市", "CN-tianjin")
        self.bystander.start()
        for a, b in [(self.target, self.bystander), (self.bystander, self.target)]:
            a.cli("trust", "add", b.id, "--name", b.name)
        # Two trusted attacker identities ("malicious members") and a stranger.
        self.evil = Author(bytes([0x66] * 32))
        self.evil2 = Author(bytes([0x67] * 32))
        # One more, whose log the broken-chain test stops (a fork).
        self.evil3 = Author(bytes([0x68] * 32))
        self.stranger = Author(bytes([0x77] * 32))
        for a in (self.evil, self.evil2, self.evil3):
            self.target.cli("trust", "add", a.id, "--name", "evil")
            self.bystander.cli("trust", "add", a.id, "--name", "evil")
        self.bystander.cli("peer", "add", self.target.addr, "--id", self.target.id)
        self.honest_rounds = 0

    def snapshot(self):
        s = self.target.status()
        return {"heads": sorted((h["author"], h["seq"]) for h in s["heads"]), "entries": s["entries"]}

    def assert_serving(self):
        """The target still exchanges entries with an honest peer both ways."""
        assert self.target.alive(), "target died:\n" + self.target.log()[-3000:]
        self.honest_rounds += 1
        n = self.honest_rounds
        before_t = self.target.head_of(self.bystander.id)
        self.bystander.cli("publish", "event", "--id", f"honest-{n}", "--title", f"姉妹都市交流 {n}",
                           "--start", "2027-04-01T10:00:00+09:00")
        wait_until("the bystander's entry at the target",
                   lambda: self.target.head_of(self.bystander.id) == before_t + 1)
        before_b = self.bystander.head_of(self.target.id)
        self.target.cli("publish", "event", "--id", f"target-{n}", "--title", f"防災連携 {n}",
                        "--start", "2027-04-02T10:00:00+09:00")
        wait_until("the target's entry at the bystander",
                   lambda: self.bystander.head_of(self.target.id) == before_b + 1)

    def assert_unchanged(self, before):
        """Nothing the attack sent was stored. Call before `assert_serving`."""
        after = self.snapshot()
        assert after == before, f"stored data changed: {before} -> {after}"


@pytest.fixture(scope="session")
def net():
    root = Path(tempfile.mkdtemp(prefix="yui-hostile-"))
    n = Network(root)
    yield n
    n.target.stop()
    n.bystander.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def procs():
    """This suite's `Node` and `wait_until`, for tests that make their own
    nodes (a fixture, since another suite's conftest has a `Node` too)."""
    import types
    return types.SimpleNamespace(Node=Node, wait_until=wait_until)
