#!/usr/bin/env bash
# Issue 24's "linear" target measured pair by pair (see BENCHMARKS.md).
#
#   scripts/bench-scale.sh [--small 100000] [--large 200000] [--rounds 7] [--work DIR]
#
# For each command, each round runs it on the small org and right after on
# the large one, and takes the ratio of the two wall times within the
# round (a ratio of medians taken minutes apart on a shared machine mostly
# measures the drift). Prints the median ratio and its spread, for wall
# time and for CPU seconds (user + sys). Needs the release binaries and
# DIR/<n>/ of scripts/bench.sh for both sizes (import: its export.csv).
set -euo pipefail
cd "$(dirname "$0")/.."

small=100000
large=200000
rounds=7
work=target/bench-data
while [ $# -gt 0 ]; do
  case "$1" in
    --small) small="$2"; shift 2 ;;
    --large) large="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 1 ;;
  esac
done
bin="${CARGO_TARGET_DIR:-target}/release"
raw="$work/scale-$small-$large.tsv"
: > "$raw"
names=(baseline validate plan-json plan-text plan-empty-json import)
cmd() { # cmd NAME DIR
  local d="$2"
  case "$1" in
    baseline) echo "$bin/yaml-baseline $d/next" ;;
    validate) echo "$bin/orgform validate $d/next" ;;
    plan-json) echo "$bin/orgform plan $d/next --state $d/state.json --format json" ;;
    plan-text) echo "$bin/orgform plan $d/next --state $d/state.json --format text" ;;
    plan-empty-json) echo "$bin/orgform plan $d/spec --state $d/no-state.json --format json" ;;
    import) echo "$bin/orgform import $d/export.csv --mapping examples/hr-import/mapping.yaml --out $d/imported" ;;
  esac
}
for n in "$small" "$large"; do cat "$work/$n"/next/* "$work/$n"/spec/* "$work/$n/state.json" > /dev/null; done
for r in $(seq 1 "$rounds"); do
  for name in "${names[@]}"; do
    for n in "$small" "$large"; do
      /usr/bin/time -f "%e %U %S" -o "$raw.one" $(cmd "$name" "$work/$n") > /dev/null 2>&1 || true
      printf '%s\t%s\t%s\t%s\n' "$r" "$name" "$n" "$(tail -n 1 "$raw.one")" >> "$raw"
    done
  done
  echo "  round $r/$rounds done" >&2
done
rm -f "$raw.one"
python3 - "$raw" "$small" "$large" <<'PY'
import sys, statistics as st
raw, small, large = sys.argv[1], sys.argv[2], sys.argv[3]
d = {}
for line in open(raw):
    r, name, n, fig = line.rstrip("\n").split("\t")
    wall, user, sys_ = fig.split()
    d.setdefault(name, {}).setdefault(r, {})[n] = (float(wall), float(user) + float(sys_))
print(f"| command | wall {large}/{small}, pair by pair: median (min-max) | CPU s {large}/{small}: median | median wall s {small} / {large} |")
print("|---|---|---|---|")
for name, rs in d.items():
    w = [v[large][0] / v[small][0] for v in rs.values()]
    c = [v[large][1] / v[small][1] for v in rs.values()]
    ms = st.median(v[small][0] for v in rs.values())
    ml = st.median(v[large][0] for v in rs.values())
    print(f"| {name} | **{st.median(w):.2f}** ({min(w):.2f}-{max(w):.2f}) | {st.median(c):.2f} | {ms:.2f} / {ml:.2f} |")
print(f"\n{len(next(iter(d.values())))} rounds; raw runs: {raw}")
PY
