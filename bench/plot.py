"""Draws the scaling plots of bench/run.sh as SVG line charts, with no
dependency beyond Python itself: cost against entries, authors and nodes,
both axes logarithmic where the sizes span decades."""
import math
import sys
from pathlib import Path


def parse(path):
    rows = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0] != "result":
            continue
        row = {"kind": parts[1]}
        for kv in parts[2:]:
            k, _, v = kv.partition("=")
            row[k] = float(v)
        rows.append(row)
    return rows


def chart(title, xlabel, series, out, logx=True, logy=True):
    """series: [(label, [(x, y), ...])]"""
    w, h, m = 640, 400, 70
    pts = [p for _, s in series for p in s if p[0] > 0 and p[1] > 0]
    if not pts:
        return
    fx = (lambda v: math.log10(v)) if logx else (lambda v: v)
    fy = (lambda v: math.log10(v)) if logy else (lambda v: v)
    xs = [fx(p[0]) for p in pts]
    ys = [fy(p[1]) for p in pts]
    x0, x1 = min(xs), max(xs) or 1
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    y0, y1 = y0 - 0.05 * (y1 - y0), y1 + 0.05 * (y1 - y0)
    sx = lambda v: m + (fx(v) - x0) / (x1 - x0) * (w - 2 * m)
    sy = lambda v: h - m - (fy(v) - y0) / (y1 - y0) * (h - 2 * m)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w/2}" y="24" text-anchor="middle" font-size="15">{title}</text>',
           f'<line x1="{m}" y1="{h-m}" x2="{w-m}" y2="{h-m}" stroke="black"/>',
           f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h-m}" stroke="black"/>',
           f'<text x="{w/2}" y="{h-20}" text-anchor="middle">{xlabel}</text>']
    for x in sorted({p[0] for p in pts}):
        svg.append(f'<text x="{sx(x):.1f}" y="{h-m+16}" text-anchor="middle">{x:g}</text>')
    for i, (label, s) in enumerate(series):
        s = [p for p in s if p[0] > 0 and p[1] > 0]
        if not s:
            continue
        c = colours[i % len(colours)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(s))
        svg.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        for x, y in s:
            svg.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{c}"/>')
            svg.append(f'<text x="{sx(x)+5:.1f}" y="{sy(y)-5:.1f}" fill="{c}" font-size="10">{y:.3g}</text>')
        svg.append(f'<text x="{w-m+5}" y="{m + 16*i}" fill="{c}">{label}</text>')
    svg.append("</svg>")
    Path(out).write_text("\n".join(svg))


def main():
    rows = parse(sys.argv[1])
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    sync = [r for r in rows if r["kind"] == "sync"]
    by_entries = {}
    for r in sync:
        # bench/run.sh: entries / 10 authors below 2,000 entries, else 2,000.
        if r["authors"] == (r["entries"] // 10 if r["entries"] < 2000 else 2000):
            by_entries[r["entries"]] = r
    e = sorted(by_entries.values(), key=lambda r: r["entries"])
    chart("Full sync: time against entries held", "entries",
          [("seconds", [(r["entries"], r["secs"]) for r in e]),
           ("µs per entry", [(r["entries"], 1e6 * r["secs"] / r["entries"]) for r in e])],
          out / "sync-entries.svg")
    a = sorted([r for r in sync if r["entries"] == 100000], key=lambda r: r["authors"])
    chart("100,000 entries: sync rate and reconciliation bytes against authors", "authors",
          [("entries/s", [(r["authors"], r["rate"]) for r in a]),
           ("reconcile bytes", [(r["authors"], r["reconcile_bytes"]) for r in a])],
          out / "sync-authors.svg")
    p = sorted([r for r in rows if r["kind"] == "propagation"], key=lambda r: r["nodes"])
    chart("Readiness to every node: p50 and p99 against nodes", "nodes",
          [("quiet p50 ms", [(r["nodes"], r["quiet_p50_ms"]) for r in p]),
           ("quiet p99 ms", [(r["nodes"], r["quiet_p99_ms"]) for r in p]),
           ("backfill p50 ms", [(r["nodes"], r["busy_p50_ms"]) for r in p]),
           ("backfill p99 ms", [(r["nodes"], r["busy_p99_ms"]) for r in p])],
          out / "propagation-nodes.svg")


if __name__ == "__main__":
    main()
