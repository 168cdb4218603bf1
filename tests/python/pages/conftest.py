"""A small network of real `yui` processes for the page tests: the demo's
four homes (a relay and three municipalities, sample entries published by
`yui demo --prepare`), each run as its own `yui run` process on loopback,
and a headless Debian Chromium driven by Playwright."""
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from pagenet import CHROMIUM, CHROMIUM_ARGS, MEMBERS, SHOTS, YUI, Node, free_port, wait_until


@pytest.fixture(scope="session")
def network():
    root = Path(tempfile.mkdtemp(prefix="yui-pages-"))
    relay_port = free_port()
    subprocess.run(
        [YUI, "demo", "--prepare", str(root), "--relay-addr", f"127.0.0.1:{relay_port}",
         "--listen", "127.0.0.1:0"],
        check=True, capture_output=True, text=True,
    )
    nodes = {}
    for slug in MEMBERS:
        env = {
            "YUI_ADMIN_LISTEN": "127.0.0.1:0",
            "YUI_FEDERATION_LISTEN": f"127.0.0.1:{relay_port}" if slug == "tokyo-relay" else "127.0.0.1:0",
            # The tests open many pages quickly from one address.
            "YUI_HTTP_PAGE_RATE": "1000",
            "YUI_HTTP_PAGE_BURST": "1000",
            "YUI_LOG_LEVEL": "info",
        }
        nodes[slug] = Node(root / slug, env)
    try:
        for n in nodes.values():
            n.start()
        # Every node holds and has indexed everything: the sum of what each
        # published itself.
        def own(n):
            st = n.status()
            return next(h["seq"] for h in st["heads"] if h["author"] == st["node_id"])
        total = sum(own(n) for n in nodes.values())
        assert total >= 19, "yui demo --prepare published the sample entries"

        def converged():
            # Recounted each time: a node's desk signs receipts of the
            # sample aid request when it arrives.
            now = sum(own(n) for n in nodes.values())
            return all(n.status()["entries"] == now and n.status()["indexed"] == now
                       for n in nodes.values())
        wait_until("every node to hold and index every sample entry", converged, 60)
        yield nodes
    finally:
        for n in nodes.values():
            n.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
