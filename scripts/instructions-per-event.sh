#!/usr/bin/env bash
# Instructions the engine executes per event, counted by callgrind over the simulation alone
# (`sim::world::simulate`). Unlike `detsim bench`, the count does not depend on what else the
# machine is doing, so two builds can be compared on a shared machine; it ignores cache misses
# and branch mispredictions, so confirm a change with `detsim bench` too.
#
# Usage: scripts/instructions-per-event.sh [DETSIM_BINARY] [SCENARIO:DURATION ...]
# (default binary: target/release/detsim, or $CARGO_TARGET_DIR/release/detsim; default
# scenarios: quickstart for 120 s and the Raft and Multi-Paxos steady states for 60 s).
# Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
detsim="${1:-${CARGO_TARGET_DIR:-target}/release/detsim}"
shift || true
runs=("$@")
if [ ${#runs[@]} -eq 0 ]; then
  runs=(scenarios/quickstart.toml:120s scenarios/raft/steady-state.toml:60s
    scenarios/paxos/steady-state.toml:60s)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-40s %10s %14s %12s\n' scenario events instructions per-event
for run in "${runs[@]}"; do
  scenario="${run%%:*}"
  duration="${run##*:}"
  # The run length is the only change: the same file with a longer [run] duration.
  sed "s/^duration = .*/duration = \"$duration\"/" "$scenario" > "$work/scenario.toml"
  valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
    --toggle-collect='sim::world::simulate*' \
    "$detsim" run "$work/scenario.toml" --no-trace --no-report --out "$work/out" \
    > "$work/run.log" 2> "$work/valgrind.log"
  events=$(sed -n 's/^events: \([0-9]*\) .*/\1/p' "$work/run.log")
  instructions=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/valgrind.log")
  if [ -z "$events" ] || [ "${instructions:-0}" -eq 0 ]; then
    echo "$scenario: nothing counted (a build without sim::world::simulate?); see $work" >&2
    trap - EXIT
    exit 1
  fi
  printf '%-40s %10s %14s %12s\n' "$scenario ($duration)" "$events" "$instructions" \
    "$((instructions / events))"
done
