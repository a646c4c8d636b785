#!/usr/bin/env bash
# The issue-24 plan targets measured pair by pair (see BENCHMARKS.md).
#
#   scripts/bench-pairs.sh [--users 100000] [--rounds 11] [--work DIR]
#
# On a shared machine a run's wall time drifts by tens of percent from
# one minute to the next, so a ratio of two medians taken minutes apart
# mostly measures the drift. This runs, in each round, every plan right
# after its floor (yaml-baseline of the same spec) and takes the ratio
# within the round: plan next --format json|text against yaml-baseline
# next, and plan spec (empty state) --format json|text against
# yaml-baseline spec. It prints the median and the spread of each ratio
# over the rounds, and the medians of the wall times and of the CPU
# seconds (user + sys). Needs the release binaries and DIR/<users>/ of
# scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

users=100000
rounds=11
work=target/bench-data
while [ $# -gt 0 ]; do
  case "$1" in
    --users) users="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 1 ;;
  esac
done
bin="${CARGO_TARGET_DIR:-target}/release"
dir="$work/$users"
raw="$work/pairs-$users.tsv"
: > "$raw"
names=(floor-next plan-json plan-text floor-spec plan-empty-json plan-empty-text)
cmds=("$bin/yaml-baseline $dir/next"
  "$bin/orgform plan $dir/next --state $dir/state.json --format json"
  "$bin/orgform plan $dir/next --state $dir/state.json --format text"
  "$bin/yaml-baseline $dir/spec"
  "$bin/orgform plan $dir/spec --state $dir/no-state.json --format json"
  "$bin/orgform plan $dir/spec --state $dir/no-state.json --format text")
# Warm the page cache.
cat "$dir"/next/* "$dir"/spec/* "$dir/state.json" > /dev/null
for r in $(seq 1 "$rounds"); do
  for i in "${!names[@]}"; do
    # A blocked plan (the empty-state one: its creates exceed the limits)
    # exits 1 and is printed in full; GNU time then adds a line before its figures.
    /usr/bin/time -f "%e %U %S %M" -o "$raw.one" ${cmds[$i]} > /dev/null || true
    printf '%s\t%s\t%s\n' "$r" "${names[$i]}" "$(tail -n 1 "$raw.one")" >> "$raw"
  done
  echo "  round $r/$rounds done" >&2
done
rm -f "$raw.one"
python3 - "$raw" "$users" <<'PY'
import sys, statistics as st
raw, users = sys.argv[1], sys.argv[2]
rounds = {}
for line in open(raw):
    r, name, fig = line.rstrip("\n").split("\t")
    wall, user, sys_, rss = fig.split()
    rounds.setdefault(int(r), {})[name] = (float(wall), float(user) + float(sys_), int(rss))
names = ["floor-next", "plan-json", "plan-text", "floor-spec", "plan-empty-json", "plan-empty-text"]
floor = {"plan-json": "floor-next", "plan-text": "floor-next",
         "plan-empty-json": "floor-spec", "plan-empty-text": "floor-spec"}
print(f"| users | command | median wall s | median CPU s | peak MiB | x floor, pair by pair: median (min-max) |")
print("|---|---|---|---|---|---|")
for n in names:
    walls = [v[n][0] for v in rounds.values()]
    cpus = [v[n][1] for v in rounds.values()]
    rss = st.median(v[n][2] for v in rounds.values()) / 1024
    cell = ""
    if n in floor:
        ratios = [v[n][0] / v[floor[n]][0] for v in rounds.values()]
        cell = f"**{st.median(ratios):.2f}** ({min(ratios):.2f}-{max(ratios):.2f})"
    print(f"| {users} | {n} | {st.median(walls):.2f} | {st.median(cpus):.2f} | {rss:.0f} | {cell} |")
print(f"\n{len(rounds)} rounds; raw runs: {raw}")
PY
