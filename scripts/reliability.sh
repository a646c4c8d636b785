#!/usr/bin/env bash
# Regenerates the figures of RELIABILITY.md (they are part of `cargo test
# --workspace`; this shows them).
#
#   scripts/reliability.sh [--rounds N]
#
# Runs the reliability suites one test at a time with their output shown,
# N times (default 1), and prints each test's `RELIABILITY …` figure lines
# and each binary's closing `test result:` line, with the wall time:
#   tests/failure.rs                      apply under failure, --preflight (issue 7)
#   tests/reliability.rs                  kills, emulator crashes, ten applies at once (issue 13)
#   crates/orgform-state/tests/processes.rs  lock contention and SIGKILL inside the state write
#   crates/orgform-frankly/tests/{client,logs}.rs  the client's retries and its logs, against scripted servers
# Debug builds only: apply's pause hook (ORGFORM_TEST_PAUSE_AT) is compiled
# out of release builds, so never add --release.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    *) echo "usage: $0 [--rounds N]" >&2; exit 1 ;;
  esac
done

cargo build --locked --tests -q
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for ((round = 1; round <= rounds; round++)); do
  [[ $rounds -gt 1 ]] && echo "## round $round"
  for suite in "--test failure" "--test reliability" "-p orgform-state --test processes" \
               "-p orgform-frankly --test client --test logs"; do
    start=$(date +%s.%N)
    # shellcheck disable=SC2086 # the suite is several words on purpose
    if ! cargo test --locked -q $suite -- --nocapture --test-threads=1 >"$log" 2>&1; then
      cat "$log"
      echo "FAILED: cargo test $suite" >&2
      exit 1
    fi
    end=$(date +%s.%N)
    echo "### cargo test $suite ($(printf '%.1f' "$(echo "$end - $start" | bc)") s)"
    # With --nocapture a test's first line follows its `test NAME ... ` prefix.
    grep -oE 'RELIABILITY .*|^  [0-9]+ rounds.*|^test result:.*' "$log" || true
  done
done
