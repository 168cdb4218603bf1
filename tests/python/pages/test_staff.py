"""Staff at work, end to end in Debian's Chromium against real `yui`
processes: a relay and three municipalities. A disaster officer of 南伊豆町
signs in and asks 杉並区 and 札幌市 for 500 blankets and 2 public health
nurses, choosing them from the suggestions of whom to ask; 杉並区's officer
is told by e-mail (a local SMTP server that requires STARTTLS) and by a
signed webhook, and offers 300 blankets and 2 nurses; 札幌市 offers 200
blankets; 南伊豆町 accepts both; commit, dispatch and arrival follow, each
by the side whose step it is; the board of every node shows the thread, its
quantities and who acknowledged; the receipt verifies with `yui receipt
verify`; a form without its token changes nothing."""
import datetime
import hashlib
import hmac
import http.server
import ipaddress
import json
import urllib.parse
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from pagenet import SHOTS, YUI, Node, fetch, free_port, wait_until

PASSWORD = "kasumi-ga-seki-2027"
CODES = {"relay": "130001", "izu": "223042", "suginami": "131156", "sapporo": "011002"}
NAMES = {"relay": "東京都 広域連携", "izu": "南伊豆町", "suginami": "杉並区", "sapporo": "札幌市"}


def tls_files(dir: Path):
    """A CA and a certificate for 127.0.0.1 it signed (the SMTP server's)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "yui test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (dir / "ca.pem").write_bytes(ca.public_bytes(pem))
    (dir / "smtp.pem").write_bytes(cert.public_bytes(pem))
    (dir / "smtp.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return dir / "ca.pem", dir / "smtp.pem", dir / "smtp.key"


class Mailbox:
    """An SMTP server on loopback that requires STARTTLS and keeps mail."""

    def __init__(self, cert, key):
        import ssl
        from aiosmtpd.controller import Controller
        self.mail = []
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                box.mail.append({"to": envelope.rcpt_tos, "tls": session.ssl is not None,
                                 "text": envelope.content.decode("utf-8", "replace")})
                return "250 OK"

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert), str(key))
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     tls_context=ctx, require_starttls=True)
        self.controller.start()

    def stop(self):
        self.controller.stop()


class Hooks:
    """A webhook receiver on loopback."""

    def __init__(self):
        self.calls = []
        box = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                box.calls.append((dict((k.lower(), v) for k, v in self.headers.items()), body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def init(root: Path, slug: str) -> Node:
    home = root / slug
    subprocess.run([YUI, "--home", str(home), "init", "--name", NAMES[slug], "--code", CODES[slug],
                    "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"], check=True, capture_output=True)
    return Node(home, {"YUI_HTTP_PAGE_RATE": "1000", "YUI_HTTP_PAGE_BURST": "1000", "YUI_LOG_LEVEL": "info"})


def add_user(n: Node, name: str, role: str, email: str = ""):
    args = [YUI, "--home", str(n.home), "user", "add", name, "--role", role, "--password-stdin"]
    if email:
        args += ["--email", email]
    subprocess.run(args, input=PASSWORD + "\n", check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def staffnet():
    root = Path(tempfile.mkdtemp(prefix="yui-staff-"))
    ca, cert, key = tls_files(root)
    mailbox, hooks = Mailbox(cert, key), Hooks()
    nodes = {slug: init(root, slug) for slug in CODES}
    sugi = nodes["suginami"].home / "config.toml"
    text = sugi.read_text()
    text = text[: text.index("\n[notify]")] + f"""
[notify]
smtp_host = "127.0.0.1"
smtp_port = {mailbox.port}
smtp_security = "starttls"
smtp_ca_file = "{ca}"
from = "yui@city.suginami.example.jp"
first_retry_ms = 200

[[notify.subscription]]
name = "防災課 チャット"
topics = ["aid_request", "aid_update"]
webhook = ["http://127.0.0.1:{hooks.port}/hook"]
"""
    sugi.write_text(text)
    add_user(nodes["izu"], "izu.bousai", "disaster")
    add_user(nodes["izu"], "izu.admin", "admin")
    add_user(nodes["suginami"], "sugi.bousai", "disaster", "bousai@city.suginami.example.jp")
    nodes["suginami"].cli("user", "notify", "sugi.bousai", "--topic", "aid_request", "--topic", "aid_update")
    add_user(nodes["sapporo"], "sap.bousai", "disaster")
    try:
        for n in nodes.values():
            n.start()
        relay = nodes["relay"]
        relay_id, relay_addr = relay.id, (relay.home / "run" / "federation.addr").read_text().strip()
        for slug in ["izu", "suginami", "sapporo"]:
            n = nodes[slug]
            n.cli("trust", "add", relay_id, "--name", "東京都")
            relay.cli("endorse", n.id, "--name", NAMES[slug], "--code", CODES[slug])
            n.cli("peer", "add", relay_addr, "--id", relay_id)
            # The profile carries the node's audience key.
            n.cli("publish", "profile", "--name", NAMES[slug], "--code", CODES[slug])
        # 南伊豆町 and 杉並区 have a mutual-aid agreement; 杉並区's readiness
        # offers blankets and nurses.
        izu, sugi_n = nodes["izu"], nodes["suginami"]
        izu.cli("publish", "partnership", "--kind", "mutual_aid", "--partner", sugi_n.id, "--partner-code", "131156")
        sugi_n.cli("publish", "partnership", "--kind", "mutual_aid", "--partner", izu.id, "--partner-code", "223042")
        now = int(time.time() * 1000)
        ready = root / "ready.json"
        ready.write_text(json.dumps({
            "as_of": now, "valid_until": now + 6 * 3600_000, "alert_level": 0,
            "headline": {"ja": "平常時。応援の準備あり"},
            "supplies": [{"item": {"ja": "毛布"}, "quantity": 300, "unit": "枚"}],
            "staff": [{"skill": {"ja": "保健師"}, "count": 2, "days": 7, "self_sufficient": True}],
        }, ensure_ascii=False))
        sugi_n.cli("publish", "readiness", "--file", str(ready))

        def partnered():
            out = json.loads(izu.cli("query", "partnerships", "--json"))
            return sum(1 for e in out["items"] if e.get("partnership") == "active") >= 2
        wait_until("the mutual-aid agreement at 南伊豆町", partnered, 60)
        yield {"nodes": nodes, "mail": mailbox, "hooks": hooks, "root": root}
    finally:
        for n in nodes.values():
            n.stop()
        mailbox.stop()
        hooks.stop()
        shutil.rmtree(root, ignore_errors=True)


def serious(page):
    from axe_playwright_python.sync_playwright import Axe
    res = Axe().run(page, options={"resultTypes": ["violations"]})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in res.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def signed_in(browser, node, name):
    ctx = browser.new_context(ignore_https_errors=True, locale="ja", viewport={"width": 1280, "height": 1000})
    page = ctx.new_page()
    page.goto(node.base + "/staff")
    assert "/staff/sign-in" in page.url, "the desk asks to sign in first"
    page.get_by_label("ユーザー名").fill(name)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="職員ログイン").click()
    page.wait_for_url("**/staff")
    return ctx, page


def reload_until(page, what, cond, secs=30):
    def ok():
        page.reload()
        return cond()
    wait_until(what, ok, secs)


def click_step(page, label):
    page.get_by_role("button", name=label).first.click()
    page.wait_for_load_state()


def test_a_request_for_blankets_and_nurses_in_the_browser(browser, staffnet):
    nodes = staffnet["nodes"]
    izu, sugi, sap = nodes["izu"], nodes["suginami"], nodes["sapporo"]

    # A wrong password is refused with a message beside the form.
    ctx = browser.new_context(ignore_https_errors=True, locale="ja")
    p = ctx.new_page()
    p.goto(izu.base + "/staff/sign-in")
    p.get_by_label("ユーザー名").fill("izu.bousai")
    p.get_by_label("パスワード").fill("wrong password")
    p.get_by_role("button", name="職員ログイン").click()
    assert "ユーザー名またはパスワードが違います" in p.locator("[role=alert]").inner_text()
    ctx.close()

    izu_ctx, izu_p = signed_in(browser, izu, "izu.bousai")
    izu_p.screenshot(path=str(SHOTS / "staff-desk-ja.png"), full_page=True)
    # Signed in, the footer no longer offers to sign in; the staff bar
    # leads to the desk.
    assert izu_p.locator("footer").get_by_role("link", name="職員ログイン").count() == 0
    assert izu_p.locator(".staff-bar").get_by_role("link", name="作業スペース").count() == 1
    assert serious(izu_p) == [], "desk"
    izu_p.get_by_role("link", name="支援を要請する").click()
    izu_p.fill("#w1", "毛布")
    izu_p.fill("#q1", "500")
    izu_p.fill("#u1", "枚")
    izu_p.select_option("#r2", "staff")
    izu_p.fill("#w2", "保健師")
    izu_p.fill("#q2", "２")  # full-width digits are read too
    izu_p.fill("#u2", "人")
    izu_p.fill("#d2", "7")
    izu_p.fill("#deliver_to", "南伊豆町役場 防災倉庫")
    izu_p.get_by_role("button", name="要請先の候補を表示").click()
    suggestions = izu_p.locator("ul.suggestions").inner_text()
    assert "杉並区" in suggestions and "災害時相互応援協定あり" in suggestions and "提供可能: 毛布 300枚" in suggestions, suggestions
    izu_p.screenshot(path=str(SHOTS / "staff-aid-compose-ja.png"), full_page=True)
    assert serious(izu_p) == [], "compose"
    izu_p.check("input[name=to][value='131156']")
    # A code with a wrong check digit: the node refuses it, said in the
    # page's language beside the addressees and in the banner; the form
    # keeps what was typed, and nothing is sent.
    izu_p.fill("#to_more", "011001")
    izu_p.get_by_role("button", name="要請を送信する").click()
    alert = izu_p.locator("[role=alert]").inner_text()
    assert "「要請先」" in alert and "団体コードが正しくありません" in alert, alert
    assert "団体コードが正しくありません" in izu_p.locator("#to-error").inner_text()
    assert izu_p.input_value("#w1") == "毛布" and izu_p.input_value("#to_more") == "011001"
    izu_p.screenshot(path=str(SHOTS / "staff-aid-compose-error-ja.png"), full_page=True)
    # The drill checkbox is a checkbox's size beside its words, not a box
    # as wide as a text field with the words squeezed beside it.
    box = izu_p.locator("input[name=exercise]").bounding_box()
    words = izu_p.locator("label.check:has(input[name=exercise])").bounding_box()
    assert box["width"] < 40 and words["height"] < 3 * box["height"], (box, words)
    assert serious(izu_p) == [], "compose refused"
    izu_p.check("input[name=to][value='131156']")
    izu_p.fill("#to_more", "011002")
    izu_p.get_by_role("button", name="要請を送信する").click()
    izu_p.wait_for_url("**/aid/**")
    thread_url = izu_p.url
    path = thread_url.split(izu.base, 1)[1]
    assert "毛布 500枚" in izu_p.locator("h1").inner_text()
    rows = izu_p.locator("table.aid-rows tbody tr")
    assert rows.count() == 2

    # Both addressed nodes sign a receipt as it arrives.
    reload_until(izu_p, "both receipts", lambda: izu_p.locator("table.aid-rows .tag.stale").count() == 0)

    # 杉並区 is told by e-mail over STARTTLS and by a signed webhook.
    mail = staffnet["mail"]
    wait_until("the e-mail to 杉並区's officer", lambda: any("bousai@city.suginami.example.jp" in m["to"] for m in mail.mail))
    m = next(m for m in mail.mail if "bousai@city.suginami.example.jp" in m["to"])
    assert m["tls"], "the mail went over STARTTLS"
    hooks = staffnet["hooks"]
    wait_until("the webhook", lambda: any(b"aid_request" in b for _, b in hooks.calls))
    key = (sugi.home / "staff" / "webhook.key").read_text().strip().encode()
    for headers, body in hooks.calls:
        signed = headers["x-yui-timestamp"].encode() + b"." + body
        assert headers["x-yui-signature"] == "sha256=" + hmac.new(key, signed, hashlib.sha256).hexdigest()

    # 杉並区 offers 300 blankets and 2 nurses from its inbox.
    sugi_ctx, sugi_p = signed_in(browser, sugi, "sugi.bousai")
    assert "毛布 500枚" in sugi_p.locator("#h-inbox + div, #h-inbox ~ *").first.inner_text()
    sugi_p.locator("#h-inbox ~ div a").first.click()
    sugi_p.fill("#q1", "300")
    sugi_p.fill("#q2", "2")
    click_step(sugi_p, "この内容で申し出る")
    sugi_p.screenshot(path=str(SHOTS / "staff-aid-offered-ja.png"), full_page=True)

    # 札幌市 offers 200 blankets.
    sap_ctx, sap_p = signed_in(browser, sap, "sap.bousai")
    reload_until(sap_p, "the request in 札幌市's inbox", lambda: sap_p.locator("#h-inbox ~ div a").count() > 0)
    sap_p.locator("#h-inbox ~ div a").first.click()
    sap_p.fill("#q1", "200")
    sap_p.fill("#q2", "")
    click_step(sap_p, "この内容で申し出る")

    # 南伊豆町 accepts both.
    totals = lambda p: p.locator("table.aid-totals tbody tr").nth(0).locator("td").all_inner_texts()
    izu_p.goto(thread_url)
    reload_until(izu_p, "both offers at 南伊豆町", lambda: totals(izu_p)[1] == "500")
    first = izu_p.locator("form").filter(has=izu_p.get_by_role("button", name="受諾する")).first
    again = {i.get_attribute("name"): i.get_attribute("value") for i in first.locator("input[type=hidden]").all()}
    assert again.get("step") == "accept" and again.get("offer"), again
    click_step(izu_p, "受諾する")
    click_step(izu_p, "受諾する")
    assert totals(izu_p)[2] == "500"
    # The same acceptance sent again (a stale page clicked twice): refused,
    # in the page's language, and nothing more is accepted.
    resp = izu_p.request.post(izu.base + "/staff/aid/step", form=again)
    assert resp.status == 409, resp.status
    assert "「受諾」できる残りがありません" in resp.text(), resp.text()[:3000]
    izu_p.reload()
    assert totals(izu_p)[2] == "500"

    # Each responder commits and dispatches; 南伊豆町 records the arrivals.
    for p, node in [(sugi_p, sugi), (sap_p, sap)]:
        p.goto(node.base + path)
        reload_until(p, "the acceptance", lambda: p.get_by_role("button", name="確約する").count() > 0)
        click_step(p, "確約する")
        click_step(p, "発送を記録")
    izu_p.goto(thread_url)
    reload_until(izu_p, "both dispatches at 南伊豆町", lambda: izu_p.get_by_role("button", name="到着を記録").count() == 2)
    click_step(izu_p, "到着を記録")
    click_step(izu_p, "到着を記録")
    assert totals(izu_p)[3:] == ["500", "500", "500"], totals(izu_p)
    izu_p.screenshot(path=str(SHOTS / "staff-aid-thread-ja.png"), full_page=True)
    assert serious(izu_p) == [], "thread"
    # The same thread for a Korean reader: the interface in Korean (the
    # texts its authors wrote stay as written).
    izu_p.goto(thread_url + "?lang=ko")
    body = izu_p.locator("main").inner_text()
    assert "지자체별 현황" in body and "수량 합계" in body and "Municipality" not in body, body[:2000]
    assert izu_p.locator("h1").inner_text().endswith("2人×7일"), izu_p.locator("h1").inner_text()
    izu_p.screenshot(path=str(SHOTS / "staff-aid-thread-ko.png"), full_page=True)
    assert serious(izu_p) == [], "thread, ko"

    # The board of every node shows the thread, its quantities and who
    # acknowledged.
    reader = browser.new_context(ignore_https_errors=True, locale="ja", viewport={"width": 1280, "height": 1000})
    rp = reader.new_page()
    for slug, node in nodes.items():
        def shown():
            rp.goto(node.base + "/board")
            sec = rp.locator("section.aid-board")
            if sec.count() == 0:
                return False
            t = sec.inner_text()
            # The totals name the unit beside what, as the thread page does.
            return "毛布 500枚" in t and "毛布 (枚)" in t and t.count("到着") >= 3 and "杉並区" in t and "札幌市" in t
        wait_until(f"the thread on {slug}'s board", shown)
    rp.screenshot(path=str(SHOTS / "board-aid-ja.png"), full_page=True)

    # The receipt of 杉並区's offer verifies.
    izu_p.goto(thread_url)
    izu_p.get_by_role("link", name="受領証").first.click()
    izu_p.screenshot(path=str(SHOTS / "staff-aid-receipt-ja.png"), full_page=True)
    assert serious(izu_p) == [], "receipt"
    status, _, body = fetch(izu_p.url + "&format=json")
    assert status == 200
    receipt = staffnet["root"] / "receipt.json"
    receipt.write_bytes(body)
    r = subprocess.run([YUI, "receipt", "verify", str(receipt)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "receipt holds" in r.stdout

    # A form without its token changes nothing.
    head = lambda n: next(h["seq"] for h in n.status()["heads"] if h["author"] == n.status()["node_id"])
    before = head(izu)
    resp = izu_p.request.post(izu.base + "/staff/aid/step", form={"root": path.split("/aid/", 1)[1], "step": "cancel", "note": "x"})
    assert resp.status == 403
    assert head(izu) == before

    # The admin reads who did what, from where.
    adm_ctx, adm = signed_in(browser, izu, "izu.admin")
    adm.goto(izu.base + "/staff/audit")
    log = adm.locator("table").inner_text()
    assert "izu.bousai" in log and "sign_in" in log and "publish" in log and "127.0.0.1" in log
    for c in (izu_ctx, sugi_ctx, sap_ctx, reader, adm_ctx):
        c.close()


def test_publishing_an_event_from_the_browser(browser, staffnet):
    nodes = staffnet["nodes"]
    izu = nodes["izu"]
    # A disaster officer may not publish events: the form says so.
    ctx, p = signed_in(browser, izu, "izu.bousai")
    r = p.goto(izu.base + "/staff/publish/event")
    assert r.status == 403
    ctx.close()

    ctx, p = signed_in(browser, izu, "izu.admin")
    p.goto(izu.base + "/staff/publish/event")
    p.get_by_label("件名", exact=False).first.fill("南伊豆町 防災フェア")
    p.fill("#title_en", "Minami-Izu disaster preparedness fair")
    p.fill("#start", "2027-03-14T10:00")
    p.fill("#end", "2027-03-14T09:00")
    p.fill("#location_ja", "町民体育館")
    # A known category typed by its Japanese name is stored as its slug.
    p.fill("#category", "防災訓練")
    p.get_by_role("button", name="公開する").click()
    # The node's refusal, beside the field it names; nothing published.
    err = p.locator("#end-error")
    assert err.count() == 1 and "開始より前" in err.inner_text(), p.content()[:2000]
    # The banner names the field and the reason in the page's language.
    alert = p.locator("[role=alert]").inner_text()
    assert "「終了日時」" in alert and "開始より前" in alert, alert
    assert p.locator("#end").get_attribute("aria-invalid") == "true"
    assert "end-error" in p.locator("#end").get_attribute("aria-describedby").split()
    p.screenshot(path=str(SHOTS / "staff-publish-error-ja.png"), full_page=True)
    assert serious(p) == [], "publish form"
    p.fill("#end", "2027-03-14T15:00")
    p.get_by_role("button", name="プレビュー").click()
    assert "南伊豆町 防災フェア" in p.locator("section.preview").inner_text()
    p.get_by_role("button", name="公開する").click()
    p.wait_for_url("**/events/**")
    assert "南伊豆町 防災フェア" in p.locator("h1").inner_text()
    # An update starts from what was published and becomes version 2.
    assert "防災訓練" in p.locator("dl").first.inner_text()
    p.get_by_role("link", name="この情報を更新する").click()
    assert p.input_value("#title_ja") == "南伊豆町 防災フェア"
    assert p.input_value("#category") == "防災訓練"
    p.fill("#title_ja", "南伊豆町 防災フェア 2027")
    p.get_by_role("button", name="公開する").click()
    p.wait_for_url("**/events/**")
    assert "2027" in p.locator("h1").inner_text()
    assert "第2版" in p.locator("section.provenance").inner_text()
    # Every node has it, through the relay.
    sap = nodes["sapporo"]
    wait_until("the event at 札幌市", lambda: "防災フェア 2027" in sap.cli("query", "events"))
    fair = next(
        e for e in json.loads(sap.cli("query", "events", "--json"))["items"]
        if "防災フェア 2027" in json.dumps(e, ensure_ascii=False)
    )
    assert fair["body"]["category"] == "disaster-drill", fair
    ctx.close()


def test_each_member_chooses_what_it_is_told(browser, staffnet):
    sugi = staffnet["nodes"]["suginami"]
    ctx, p = signed_in(browser, sugi, "sugi.bousai")
    p.goto(sugi.base + "/staff/settings")
    # What `yui user notify` set shows in the form.
    assert p.locator("input[name=topic][value=aid_request]").is_checked()
    assert not p.locator("input[name=topic][value=alert]").is_checked()
    p.check("input[name=topic][value=alert]")
    p.select_option("#min_alert_level", "4")
    p.check("input[name=exercises]")
    p.get_by_role("button", name="保存する").click()
    assert "保存しました" in p.locator("[role=status]").inner_text()
    users = json.loads(sugi.cli("user", "list", "--json"))
    s = next(u for u in users if u["name"] == "sugi.bousai")["subscriptions"][0]
    assert set(s["topics"]) == {"aid_request", "aid_update", "alert"}
    assert s["min_alert_level"] == 4 and s["exercises"] is True
    # A bad address (past the browser's own check) is refused with the
    # reason; nothing changes.
    csrf = p.input_value("input[name=csrf]")
    resp = p.request.post(sugi.base + "/staff/settings", form={"csrf": csrf, "email": "not-an-address", "topic": "alert"})
    assert resp.status == 422 and "has no @" in resp.text()
    users = json.loads(sugi.cli("user", "list", "--json"))
    assert next(u for u in users if u["name"] == "sugi.bousai")["email"] == "bousai@city.suginami.example.jp"
    ctx.close()


def test_a_case_contact_is_shown_to_partners_staff_only(browser, staffnet):
    """The person in charge of a case goes to partners' staff by default:
    南伊豆町's staff and 杉並区's (its mutual-aid partner) see it on the case
    page, 札幌市's staff are told why they cannot, and a visitor who is not
    signed in is told it is restricted."""
    nodes = staffnet["nodes"]
    izu, sugi, sap = nodes["izu"], nodes["suginami"], nodes["sapporo"]
    email = "kikaku@town.minamiizu.example.jp"

    def key_of(node, of):
        items = json.loads(node.cli("query", "profiles", "--json"))["items"]
        return next((e["body"].get("audience_key", "") for e in items if e["author"] == of.id), "")
    wait_until("杉並区's audience key at 南伊豆町", lambda: len(key_of(izu, sugi)) == 64, 30)
    ctx, p = signed_in(browser, izu, "izu.admin")
    p.goto(izu.base + "/staff/publish/case")
    assert p.locator("#contact_audience").input_value() == "", "the node's default is chosen"
    p.fill("#title_ja", "姉妹都市との防災備蓄の共同購入")
    p.fill("#summary_ja", "備蓄品を共同で調達し、単価を下げた。")
    p.select_option("#policy_area", "disaster_prevention")
    p.fill("#contact_name_ja", "企画課 伊藤")
    p.fill("#contact_email", email)
    assert serious(p) == [], "case form"
    p.get_by_role("button", name="公開する").click()
    p.wait_for_url("**/cases/**")
    path = p.url.split("://", 1)[1].split("/", 1)[1]
    assert email in p.content(), "the author's own staff see the contact"
    # An update keeps who reads the contact.
    p.get_by_role("link", name="この情報を更新する").click()
    assert p.input_value("#contact_email") == email
    assert p.locator("#contact_audience").input_value() == "partners"
    ctx.close()

    ctx, sp = signed_in(browser, sugi, "sugi.bousai")
    wait_until("the contact at 杉並区",
               lambda: sp.goto(sugi.base + "/" + path).status == 200 and email in sp.content(), 30)
    sp.screenshot(path=str(SHOTS / "case-contact-partner-ja.png"), full_page=True)
    assert serious(sp) == [], "case page with its contact"
    r = sp.goto(sugi.base + "/" + path)
    assert r.headers["cache-control"] == "private, no-store", "no cache keeps what staff see"
    # Staff find the case by its person in charge; visitors do not.
    sp.goto(sugi.base + "/cases?q=" + urllib.parse.quote("企画課 伊藤"))
    assert "姉妹都市との防災備蓄の共同購入" in sp.locator("main").inner_text()
    ctx.close()

    ctx, pp = signed_in(browser, sap, "sap.bousai")
    wait_until("the case at 札幌市", lambda: pp.goto(sap.base + "/" + path).status == 200)
    assert email not in pp.content()
    assert "公開先に含まれていない" in pp.content()
    ctx.close()

    anon = browser.new_context(ignore_https_errors=True, locale="ja", viewport={"width": 1280, "height": 1000})
    ap = anon.new_page()
    assert ap.goto(sugi.base + "/" + path).status == 200
    assert email not in ap.content()
    assert ap.get_by_text("提携先の職員に限って公開しています").count() == 1
    ap.goto(sugi.base + "/cases?q=" + urllib.parse.quote("企画課 伊藤"))
    assert "姉妹都市との防災備蓄の共同購入" not in ap.locator("main").inner_text()
    ap.screenshot(path=str(SHOTS / "case-contact-public-ja.png"), full_page=True)
    assert serious(ap) == [], "case page without its contact"
    anon.close()


def test_a_shelter_location_is_shown_to_partners_staff_only(browser, staffnet):
    """A shelter for people fleeing violence: 南伊豆町's disaster officer
    restricts where it is to partners' staff in the readiness form. 杉並区's
    staff read it; 札幌市's board and every visitor see the places and are
    told the location is restricted."""
    nodes = staffnet["nodes"]
    izu, sugi, sap = nodes["izu"], nodes["suginami"], nodes["sapporo"]
    place = "一時保護施設 南伊豆町湊三丁目"
    ctx, p = signed_in(browser, izu, "izu.bousai")
    p.goto(izu.base + "/staff/publish/readiness")
    assert p.locator("#shelter_audience").input_value() == "public", "public unless chosen"
    p.fill("#headline_ja", "DV被害者の一時保護を受け入れ可能")
    p.fill("#valid_hours", "24")
    # A field's help is its accessible description, read out on focus.
    assert p.locator("#valid_hours").get_attribute("aria-describedby") == "valid_hours-help"
    assert "古い情報" in p.locator("#valid_hours-help").inner_text()
    p.fill("#shelter_capacity", "12")
    p.fill("#shelter_available", "5")
    p.fill("#shelter_location_ja", place)
    p.select_option("#shelter_audience", "partners")
    assert serious(p) == [], "readiness form"
    p.screenshot(path=str(SHOTS / "staff-readiness-shelter-ja.png"), full_page=True)
    p.get_by_role("button", name="公開する").click()
    p.wait_for_url("**/entries/**")
    path = p.url.split("://", 1)[1].split("/", 1)[1]
    assert place in p.content(), "the author's own staff see it"
    # An update keeps who reads it.
    p.get_by_role("link", name="この情報を更新する").click()
    assert p.input_value("#shelter_location_ja") == place
    assert p.locator("#shelter_audience").input_value() == "partners"
    ctx.close()

    ctx, sp = signed_in(browser, sugi, "sugi.bousai")
    wait_until("the shelter's location at 杉並区",
               lambda: sp.goto(sugi.base + "/" + path).status == 200 and place in sp.content(), 30)
    ctx.close()

    anon = browser.new_context(ignore_https_errors=True, locale="ja", viewport={"width": 1280, "height": 1000})
    ap = anon.new_page()
    for node in (sap, sugi, izu):
        wait_until(f"the readiness on {node.home.name}'s board",
                   lambda: "DV被害者の一時保護" in fetch(node.base + "/board")[2].decode(), 30)
        ap.goto(node.base + "/board")
        text = ap.locator("main").inner_text()
        assert place not in ap.content()
        assert "所在地は限定公開" in text
        assert "定員 12 人" in text.replace("\u2068", "").replace("\u2069", "")
    ap.screenshot(path=str(SHOTS / "board-shelter-restricted-ja.png"), full_page=True)
    assert serious(ap) == [], "board with a restricted location"
    anon.close()
