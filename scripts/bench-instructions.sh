#!/usr/bin/env bash
# Instruction counts of orgform against the serde_yaml floor (see BENCHMARKS.md).
#
#   scripts/bench-instructions.sh [--users 20000] [--work DIR] [--top 25]
#
# On a shared, loaded machine wall time drifts; instruction counts do not.
# Runs each command once under `valgrind --tool=callgrind` (the release
# binaries and DIR/<users>/ of scripts/bench.sh; the counts are exact, so one
# run is enough), prints the total instructions (Ir) of each and the ratio to
# its floor, and writes DIR/callgrind/<users>-<name>.out, whose top functions
# `callgrind_annotate --inclusive=no FILE | head -n 40` shows. Callgrind is
# ~50x slower than a native run: 20,000 users (the same generator, so the
# same mix) keeps a run under a minute; the ratios do not depend on the size
# (every pass is linear: see the 200k/100k table).
set -euo pipefail
cd "$(dirname "$0")/.."

users=20000
work=target/bench-data
top=25
while [ $# -gt 0 ]; do
  case "$1" in
    --users) users="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 1 ;;
  esac
done
bin="${CARGO_TARGET_DIR:-target}/release"
dir="$work/$users"
out="$work/callgrind"
mkdir -p "$out"
if [ ! -f "$dir/state.json" ]; then
  "$bin/orgform-gen" --users "$users" --seed 1 --out "$dir" >&2
fi

names=(baseline validate plan-json plan-text baseline-spec plan-empty-json)
cmds=("$bin/yaml-baseline $dir/next"
  "$bin/orgform validate $dir/next"
  "$bin/orgform plan $dir/next --state $dir/state.json --format json"
  "$bin/orgform plan $dir/next --state $dir/state.json --format text"
  "$bin/yaml-baseline $dir/spec"
  "$bin/orgform plan $dir/spec --state $dir/no-state.json --format json")
declare -A ir
for i in "${!names[@]}"; do
  f="$out/$users-${names[$i]}.out"
  valgrind --tool=callgrind --callgrind-out-file="$f" ${cmds[$i]} > /dev/null 2> "$f.log" || true
  ir[${names[$i]}]=$(grep -m1 '^summary:' "$f" | awk '{print $2}')
done
echo "| users | command | instructions (Ir) | x floor |"
echo "|---|---|---|---|"
for name in "${names[@]}"; do
  case "$name" in
    baseline-spec | plan-empty-json) floor=baseline-spec ;;
    *) floor=baseline ;;
  esac
  awk -v u="$users" -v n="$name" -v a="${ir[$name]}" -v b="${ir[$floor]}" \
    'BEGIN { printf "| %s | %s | %.3e | %.2f |\n", u, n, a, a / b }'
done
for name in plan-json plan-empty-json; do
  echo
  echo "Top $top functions (self) of $name:"
  callgrind_annotate --inclusive=no "$out/$users-$name.out" 2> /dev/null | sed -n "1,$((top + 20))p" | grep -E '^ *[0-9,]+ \(' | head -n "$top"
done
