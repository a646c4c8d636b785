#!/usr/bin/env bash
# Whole-process benchmarks of orgform at large sizes (see BENCHMARKS.md).
#
#   scripts/bench.sh [--users 100000,200000] [--runs 5] [--work DIR] [--no-build]
#                    [--users-per-file K]
#
# Builds release binaries (never in CI), generates each size once with
# orgform-gen (seed 1) into DIR/<users>/ (spec/, next/, state.json; all
# users in one users.yaml, or K per file into DIR/<users>-per<K>/), then
# runs every command --runs times, interleaved (run 1 of each command, then
# run 2 of each, ...) so that the load of a shared machine hits all of them
# alike. Each run is measured by GNU time: wall seconds and peak RSS. The
# medians (and min/max, for the noise) go to stdout as a Markdown table,
# and every raw run to DIR/runs.tsv.
#
# The commands, for the "next" spec (about 4% of the users changed) against
# the state of the current one:
#   baseline   yaml-baseline next/      serde_yaml into the model's serde structs
#   validate   orgform validate next/
#   plan-json  orgform plan next/ --state state.json --format json
#   plan-text, plan-markdown, plan-diff: the same with the other formats
# and (unless ORGFORM_BENCH_CORE=1):
#   baseline-spec    yaml-baseline spec/    the floor of the empty-state shape
#   plan-empty-json  orgform plan spec/ --state no-state.json --format json
#   plan-empty-text  the same, text
#   show-text        orgform show next.plan --state state.json
#   import           orgform import export.csv --mapping examples/hr-import/mapping.yaml
#   validate-imported  orgform validate imported/
# Ratios in the table are to `baseline`, except the empty-state plans, whose
# floor is `baseline-spec`, and validate-imported, to which import is compared.
set -euo pipefail
cd "$(dirname "$0")/.."

users=100000
runs=5
work=target/bench-data
build=1
per_file=
while [ $# -gt 0 ]; do
  case "$1" in
    --users) users="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --users-per-file) per_file="$2"; shift 2 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 1 ;;
  esac
done
if [ ! -x /usr/bin/time ]; then
  echo "GNU time is needed for peak RSS: apt-get install time" >&2
  exit 1
fi
if [ "$build" = 1 ]; then
  cargo build --release --locked -p orgform -p orgform-gen --features orgform-gen/bench --bins >&2
fi
bin="${CARGO_TARGET_DIR:-target}/release"
mkdir -p "$work"

formats="${ORGFORM_BENCH_FORMATS:-json text markdown diff}"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?')" >&2
raw="$work/runs.tsv"
: > "$raw"
for n in ${users//,/ }; do
  dir="$work/$n${per_file:+-per$per_file}"
  marker="seed 1 per-file ${per_file:-all}"
  if [ ! -f "$dir/state.json" ] || [ "$(cat "$dir/.gen" 2>/dev/null)" != "$marker" ]; then
    echo "generating $n users into $dir" >&2
    "$bin/orgform-gen" --users "$n" --seed 1 ${per_file:+--users-per-file "$per_file"} --out "$dir" >&2
    echo "$marker" > "$dir/.gen"
  fi
  # Warm the page cache once, so every run reads from memory.
  cat "$dir"/next/*.yaml "$dir/state.json" > /dev/null

  # The saved plan `show` reads, and the HR export `import` reads (the
  # same number of rows as users; scripts/gen-export.py).
  "$bin/orgform" plan "$dir/next" --state "$dir/state.json" --out "$dir/next.plan" > /dev/null 2>&1 || true
  if [ ! -f "$dir/export.csv" ]; then
    python3 scripts/gen-export.py "$n" "$dir/export.csv"
  fi
  mapping=examples/hr-import/mapping.yaml
  rm -rf "$dir/imported"
  "$bin/orgform" import "$dir/export.csv" --mapping "$mapping" --out "$dir/imported" > /dev/null 2>&1 || true
  cat "$dir/export.csv" > /dev/null

  names=(baseline validate)
  cmds=("$bin/yaml-baseline $dir/next" "$bin/orgform validate $dir/next")
  for f in $formats; do
    names+=("plan-$f")
    cmds+=("$bin/orgform plan $dir/next --state $dir/state.json --format $f")
  done
  if [ -z "${ORGFORM_BENCH_CORE:-}" ]; then
    # The empty-state shape (every record a create) against the parse of
    # the same spec; `show` of the saved plan; `import` of the export and
    # `validate` of what it wrote.
    names+=(baseline-spec plan-empty-json plan-empty-text show-text import validate-imported)
    cmds+=("$bin/yaml-baseline $dir/spec"
      "$bin/orgform plan $dir/spec --state $dir/no-state.json --format json"
      "$bin/orgform plan $dir/spec --state $dir/no-state.json --format text"
      "$bin/orgform show $dir/next.plan --state $dir/state.json"
      "$bin/orgform import $dir/export.csv --mapping $mapping --out $dir/imported"
      "$bin/orgform validate $dir/imported")
  fi
  for ((r = 1; r <= runs; r++)); do
    for i in "${!names[@]}"; do
      /usr/bin/time -o "$work/.time" -f '%e %M' ${cmds[$i]} > /dev/null 2>&1 || true
      out=$(tail -n 1 "$work/.time")
      # Exit codes: plan exits 0 (or 2 with --detailed-exitcode); anything
      # else shows up as a missing figure.
      printf '%s\t%s\t%s\t%s\n' "$n" "${names[$i]}" "$r" "$out" >> "$raw"
    done
    echo "  $n users: run $r/$runs done" >&2
  done
done

python3 - "$raw" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    n, name, run, fig = line.rstrip("\n").split("\t")
    parts = fig.split()
    if len(parts) != 2:
        continue
    key = (int(n), name)
    if key not in rows:
        order.append(key)
    rows[key].append((float(parts[0]), int(parts[1]) / 1024))
print("| users | command | runs | median s | min-max s | median peak MiB | x floor time | x floor mem |")
print("|---|---|---|---|---|---|---|---|")
for key in order:
    v = rows[key]
    t = statistics.median(x[0] for x in v)
    m = statistics.median(x[1] for x in v)
    floor = {"plan-empty-json": "baseline-spec", "plan-empty-text": "baseline-spec",
             "import": "validate-imported"}.get(key[1], "baseline")
    base = rows.get((key[0], floor))
    bt = statistics.median(x[0] for x in base) if base else float("nan")
    bm = statistics.median(x[1] for x in base) if base else float("nan")
    lo = min(x[0] for x in v)
    hi = max(x[0] for x in v)
    print(f"| {key[0]} | {key[1]} | {len(v)} | {t:.2f} | {lo:.2f}-{hi:.2f} | {m:.0f} | {t/bt:.2f} | {m/bm:.2f} |")
sizes = sorted({k[0] for k in order})
if len(sizes) > 1:
    a, b = sizes[0], sizes[-1]
    print()
    print(f"| command | time {b}/{a} | mem {b}/{a} |")
    print("|---|---|---|")
    for key in order:
        if key[0] != a or (b, key[1]) not in rows:
            continue
        va, vb = rows[key], rows[(b, key[1])]
        ta = statistics.median(x[0] for x in va); tb = statistics.median(x[0] for x in vb)
        ma = statistics.median(x[1] for x in va); mb = statistics.median(x[1] for x in vb)
        print(f"| {key[1]} | {tb/ta:.2f} | {mb/ma:.2f} |")
PY
