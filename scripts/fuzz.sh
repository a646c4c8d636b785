#!/usr/bin/env bash
# Runs orgform's fuzz targets (fuzz/, outside the workspace; issue 12) one
# after another, each for a bounded time. Not part of CI.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Default: 60 seconds each for spec_file, spec_dir and plan. The machine is
# shared: targets run one at a time, one libFuzzer process each.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). libFuzzer needs
# nightly-only rustc flags (-Zsanitizer=address, coverage passes); on the
# stable toolchain RUSTC_BOOTSTRAP=1 unlocks them, which this script sets.
# Builds use `--dev` with fuzz/Cargo.toml's opt-level 2 profile (debug
# assertions and overflow checks stay on).
#
# Each input gets at most 10 s (-timeout) and 2 GiB (-rss_limit_mb); a
# slower or larger one is a finding like a panic. Findings land in
# fuzz/artifacts/TARGET/; minimise one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz tmin --dev TARGET fuzz/artifacts/TARGET/crash-…
# fix the cause, and commit the input under fuzz/regressions/TARGET/ (the
# workspace test crates/orgform-plan/tests/fuzz_regressions.rs replays every
# file there). The corpus (fuzz/corpus/) is kept between runs, not committed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

secs="${1:-60}"
shift || true
if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=(spec_file spec_dir plan)
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
  exit 1
fi
export RUSTC_BOOTSTRAP=1

# Seeds: every spec of the repository, and the committed regressions.
mkdir -p corpus/spec_file corpus/spec_dir corpus/plan
while IFS= read -r -d '' f; do
  cp "$f" "corpus/spec_file/seed-$(basename "$(dirname "$f")")-$(basename "$f")"
done < <(find "$root/specs" -name '*.yaml' -print0)
# spec_dir inputs: 2 bytes (the first file's length, little-endian), then both files.
seed_pair() {
  local a="$1" b="$2" out="$3" len
  len=$(wc -c <"$a")
  ((len < 65536)) || return 0
  {
    printf "\\x$(printf %02x $((len & 255)))\\x$(printf %02x $((len >> 8)))"
    cat "$a" "$b"
  } >"$out"
}
seed_pair "$root/specs/acme/org.yaml" "$root/specs/acme/groups.yaml" corpus/spec_dir/seed-acme-1
seed_pair "$root/specs/acme/groups.yaml" "$root/specs/acme/users.yaml" corpus/spec_dir/seed-acme-2
for f in "$root"/specs/invalid/duplicate-top-level-key/*.yaml; do
  seed_pair "$f" "$root/specs/quickstart/orgform.yaml" "corpus/spec_dir/seed-$(basename "$f")"
done

cargo fuzz build --dev

status=0
for t in "${targets[@]}"; do
  case "$t" in
    plan) max_len=4096 ;;
    *) max_len=65536 ;;
  esac
  echo "== $t: ${secs}s" >&2
  start=$(date +%s)
  if ! cargo fuzz run --dev "$t" "corpus/$t" "regressions/$t" -- \
    -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1; then
    status=1
    echo "== $t: FOUND SOMETHING, see fuzz/artifacts/$t/" >&2
  fi
  echo "== $t: ran $(($(date +%s) - start))s" >&2
done
exit "$status"
