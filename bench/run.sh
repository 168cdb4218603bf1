#!/usr/bin/env bash
# Runs every yui benchmark on this machine in bounded time and writes
# target/bench/results.txt (everything printed), target/bench/results.csv
# (the `result …` lines) and the scaling plots docs/bench/*.svg.
#   bash bench/run.sh          # full run (about 20 minutes on 2 cores)
#   QUICK=1 bash bench/run.sh  # smaller sizes (about 3 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin yui
Y=target/release/yui
OUT=target/bench
mkdir -p "$OUT" docs/bench
: > "$OUT/results.txt"
run() {
  echo "== yui bench $*" | tee -a "$OUT/results.txt"
  timeout 1800 "$Y" bench "$@" 2>&1 | tee -a "$OUT/results.txt"
}
if [ -n "${QUICK:-}" ]; then
  ENTRIES="1000 10000 100000"; AUTHORS="10 100 1000"; NODES="3 10 30"; BIG=100000
else
  ENTRIES="1000 10000 100000 1000000"; AUTHORS="10 100 1000 2000"; NODES="3 10 30 100"; BIG=1000000
fi
run ingest --entries 50000 --authors 100
run ingest --entries 200000 --authors 2000
for e in $ENTRIES; do run sync --entries "$e" --authors "$(( e < 2000 ? e / 10 : 2000 ))"; done
for a in $AUTHORS; do run sync --entries 100000 --authors "$a"; done
# The opening exchange at 100,000 authors (one entry each).
[ -z "${QUICK:-}" ] && run sync --entries 100000 --authors 100000
for n in $NODES; do
  r=$(( n / 20 )); [ "$r" -lt 1 ] && r=1
  run propagation --nodes "$n" --relays "$r" --samples 30 --backfill $(( 80 * n ))
done
# The same with every node a `yui run` process of its own.
if [ -n "${QUICK:-}" ]; then
  run propagation --processes --nodes 30 --relays 2 --samples 30 --backfill 2400
else
  run propagation --processes --nodes 100 --relays 5 --samples 30 --backfill 8000
fi
run node --entries "$BIG" --authors 2000
run query --entries "$BIG" --authors 2000
run pages --entries "$BIG" --authors 2000
run relay --members 500
if [ -n "${QUICK:-}" ]; then
  run simulate --municipalities 200 --relays 10 --burst 20
else
  run simulate
fi
grep '^result ' "$OUT/results.txt" > "$OUT/results.csv" || true
python3 bench/plot.py "$OUT/results.csv" docs/bench
# Every target a benchmark checked, met or not (`target` lines).
echo "== targets"
grep '^target ' "$OUT/results.txt" | sed 's/^target //' | tee "$OUT/targets.txt"
echo "$(grep -c '^met' "$OUT/targets.txt" || true) met, $(grep -c '^NOT MET' "$OUT/targets.txt" || true) not met"
echo "figures: $OUT/results.txt; targets: $OUT/targets.txt; plots: docs/bench/*.svg"
