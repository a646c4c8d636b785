#!/usr/bin/env bash
# Onboarding N users into the emulator in waves, measured (see BENCHMARKS.md).
#
#   scripts/bench-waves.sh [--users 100000] [--work DIR] [--port 18640]
#
# Needs the release binaries and DIR/<users>/spec/ of scripts/bench.sh (run
# that first, or `orgform-gen --users N --seed 1 --out DIR/N`). Starts
# `orgform sim` (default --max-per-request 20000, so 100,000 users go in 5
# waves) behind scripts/http-meter.py, which logs each request's body bytes,
# upload seconds and the emulator's answer seconds; then runs
# `orgform apply spec/ --auto-approve` against an empty state under
# /usr/bin/time, and prints the per-wave table. Then it replays the last
# wave's body (the whole org) straight to the emulator with curl, --runs
# times, for the emulator's own answer time. Both processes it started are
# stopped at the end (by their pids).
set -euo pipefail
cd "$(dirname "$0")/.."

users=100000
work=target/bench-data
port=18640
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --users) users="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 1 ;;
  esac
done
bin="${CARGO_TARGET_DIR:-target}/release"
dir="$work/$users"
out="$work/waves-$users"
rm -rf "$out"
mkdir -p "$out/bodies"
export FRANKLY_API_TOKEN="bench-token-$$-$RANDOM"
# The account's hand-made group that the generated spec lists in
# `externalGroups` (some users are members of it).
echo '{"groups": [{"externalId": "MANUAL-LEADERSHIP", "name": "Leadership"}]}' > "$out/fixture.json"
"$bin/orgform" sim --listen "127.0.0.1:$port" --token-env FRANKLY_API_TOKEN --fixture "$out/fixture.json" \
  > "$out/sim.log" 2>&1 &
sim=$!
python3 scripts/http-meter.py $((port + 1)) "$port" "$out/requests.tsv" "$out/bodies" &
meter=$!
trap 'kill $meter $sim 2>/dev/null || true' EXIT
sleep 1

# An onboarding raises the create limits it needs (a reviewed change of
# the spec): the generated spec keeps the everyday limits of 5,000/200.
mkdir -p "$out/spec"
cp "$dir"/spec/*.yaml "$out/spec/"
sed -i -E 's/^(  max(Users|Groups)Created:) [0-9]+$/\1 1000000/' "$out/spec/org.yaml"
# The plan of the same spec against the same empty state: what apply adds.
/usr/bin/time -o "$out/plan.time" -f '%e %M' \
  "$bin/orgform" plan "$out/spec" --state "$out/state.json" > "$out/plan.out" 2>&1 || true
endpoint="http://127.0.0.1:$((port + 1))/v1/organization"
/usr/bin/time -o "$out/apply.time" -f '%e %M' \
  "$bin/orgform" apply "$out/spec" --state "$out/state.json" --auto-approve --endpoint "$endpoint" \
  > "$out/apply.out" 2>&1 || echo "apply failed: see $out/apply.out" >&2
echo "plan:  $(tail -n 1 "$out/plan.time") (wall s, peak KiB)"
echo "apply: $(tail -n 1 "$out/apply.time") (wall s, peak KiB)"
# Each wave is two requests: validateOnly, then the commit.
echo "| request | wave | what | body MB | upload s | answer s | status |"
echo "|---|---|---|---|---|---|---|"
awk -F'\t' '{printf "| %s | %d | %s | %.1f | %s | %s | %s |\n", $1, int(($1 + 1) / 2), ($1 % 2 ? "validateOnly" : "commit"), $3/1e6, $4, $5, $6}' "$out/requests.tsv"
awk -F'\t' '{b += $3; u += $4; a += $5} END {printf "total: %d requests, %.1f MB sent, %.2f s uploading, %.2f s answering\n", NR, b/1e6, u, a}' "$out/requests.tsv"

# The emulator alone: the largest body sent (the last wave: the whole org),
# POSTed again straight to the emulator (no meter) --runs times, now that
# every user exists (a 100,000-user request that changes nothing), and its
# validateOnly twin.
last=$(ls -S "$out/bodies" | head -n 1)
sed 's/"validateOnly":false/"validateOnly":true/' "$out/bodies/$last" > "$out/validate-only.json"
for body in "$out/bodies/$last" "$out/validate-only.json"; do
  for ((r = 1; r <= runs; r++)); do
    curl -s -o "$out/direct.answer" -w "direct POST $(basename "$body"): %{http_code}, %{size_upload} bytes up, %{size_download} down, %{time_total} s\n" \
      -H "Authorization: $FRANKLY_API_TOKEN" -H 'Content-Type: application/json' \
      --data-binary "@$body" "http://127.0.0.1:$port/v1/organization"
  done
done
