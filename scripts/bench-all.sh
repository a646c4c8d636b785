#!/usr/bin/env bash
# The whole recorded benchmark run of BENCHMARKS.md, in the order it was
# recorded (issues 19, 20, 24).
#
#   git clone REPO clean && cd clean
#   scripts/bench-all.sh [--work DIR] [--runs 5]
#
# Builds the release binaries once, then runs, each printing its table:
#   scripts/bench.sh --users 100000,200000   every command against its floor
#   scripts/bench-pairs.sh                    the plan targets, ratios pair by pair
#   scripts/bench-scale.sh                    200k over 100k, pair by pair
#   scripts/bench-waves.sh --users 100000     onboarding in 5 waves (and 200000, 1 run)
#   scripts/bench-instructions.sh --users 20000   callgrind instruction counts
#   cargo bench -p orgform-state --bench store    file vs PostgreSQL, release
# The state-store bench starts its own PostgreSQL server from the local
# binaries (`initdb` on PATH or under /usr/lib/postgresql/*/bin); without
# them it says so and measures the file store only. `uptime` is printed
# between the steps, so the load the machine was under is on record.
# Never run by CI (release builds, minutes of work).
set -euo pipefail
cd "$(dirname "$0")/.."

work=target/bench-data
runs=5
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 1 ;;
  esac
done

echo "commit $(git rev-parse --short HEAD)"
uptime
cargo build --release --locked -p orgform -p orgform-gen --features orgform-gen/bench --bins 2>&1 | tail -n 1
uptime
scripts/bench.sh --users 100000,200000 --runs "$runs" --no-build --work "$work"
uptime
scripts/bench-pairs.sh --users 100000 --rounds 11 --work "$work"
uptime
scripts/bench-scale.sh --rounds 7 --work "$work"
uptime
scripts/bench-waves.sh --users 100000 --work "$work" --runs 3
uptime
scripts/bench-waves.sh --users 200000 --work "$work" --runs 1
uptime
scripts/bench-instructions.sh --users 20000 --work "$work"
uptime
cargo bench --locked -p orgform-state --bench store 2>&1 | grep -v '^ *\(Compiling\|Finished\|Running\)'
uptime
