"""Helpers of the page tests: real `yui` processes, TLS fetches from
self-signed loopback nodes, waiting on conditions with deadlines."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
YUI = os.environ.get("YUI_BIN") or str(ROOT / "target" / "debug" / "yui")
CHROMIUM = os.environ.get("YUI_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "target" / "pages"
# What this sandbox's Chromium needs (no GPU, no sandbox as root, no
# background calls to hosts it cannot reach).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MEMBERS = ["tokyo-relay", "suginami", "minami-izu", "sapporo"]


def wait_until(what, cond, secs=30):
    deadline = time.time() + secs
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {secs} s waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, home: Path, env: dict):
        self.home = home
        self.slug = home.name
        self.env = env
        self.proc = None

    def start(self):
        shutil.rmtree(self.home / "run", ignore_errors=True)
        log = open(self.home / "node.log", "ab")
        self.proc = subprocess.Popen(
            [YUI, "--home", str(self.home), "run"],
            stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, **self.env},
        )
        wait_until(f"{self.slug} to serve", lambda: self.try_cli("status", "--json").returncode == 0)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
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
    def id(self):
        return self.status()["node_id"]

    @property
    def base(self):
        addr = (self.home / "run" / "federation.addr").read_text().strip()
        return f"https://{addr}"


def insecure():
    """Loopback nodes have self-signed certificates."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def fetch(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=insecure(), timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
