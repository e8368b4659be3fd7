#!/usr/bin/env bash
# Shrinks the failing seed of every planted bug (each bug scenario file names its first failing
# seed) and prints a table: faults and client operations before -> after, the runs and seconds
# each shrink took, and the median and worst case of the share removed.
#
# Usage: scripts/shrink-sweep.sh [DETSIM_BINARY] [OUT_DIR]
# (default: target/release/detsim, or $CARGO_TARGET_DIR/release/detsim; OUT_DIR /tmp/shrink-sweep)
set -euo pipefail
cd "$(dirname "$0")/.."
detsim="${1:-${CARGO_TARGET_DIR:-target}/release/detsim}"
out="${2:-/tmp/shrink-sweep}"
mkdir -p "$out"
scenarios=(scenarios/raft/bug-*.toml scenarios/paxos/bug-*.toml scenarios/2pc/bug-*.toml scenarios/locks/bug-*.toml
  scenarios/canary-lost-writes.toml scenarios/counter-bug-reapply-duplicates.toml)
printf '%-52s %5s %14s %16s %6s %8s  %s\n' scenario seed faults operations runs seconds verdict
rows="$out/rows.tsv"
: > "$rows"
for scenario in "${scenarios[@]}"; do
  name=$(echo "$scenario" | sed 's|scenarios/||; s|\.toml$||; s|/|-|g')
  seed=$(sed -n 's/^seed = //p' "$scenario")
  log="$out/$name.log"
  start=$(date +%s.%N)
  "$detsim" shrink "$scenario" --out "$out/$name.shrunk.toml" > "$log" 2>&1 || true
  end=$(date +%s.%N)
  seconds=$(echo "$end - $start" | bc)
  faults=$(sed -n 's/^faults: //p' "$log")
  ops=$(sed -n 's/^client operations: //p' "$log")
  runs=$(sed -n 's/.* in \([0-9]*\) runs.*/\1/p' "$log")
  verdict=$(sed -n 's/^verdict: \([^:]*: [^ ]*\).*/\1/p' "$log")
  printf '%-52s %5s %14s %16s %6s %8.1f  %s\n' "$scenario" "$seed" "$faults" "$ops" "$runs" \
    "$seconds" "$verdict"
  printf '%s\t%s\t%s\n' "$scenario" "$faults" "$ops" >> "$rows"
done
# Share removed per scenario (a scenario with nothing to remove counts as fully removed).
share() { awk -F' -> ' '{ if ($1 == 0) print 100; else printf "%.1f\n", 100 * ($1 - $2) / $1 }'; }
median_worst() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "median %.1f%%, worst %.1f%%\n", m, v[1] }'; }
echo
echo "faults removed:     $(cut -f2 "$rows" | share | median_worst)"
echo "operations removed: $(cut -f3 "$rows" | share | median_worst)"
