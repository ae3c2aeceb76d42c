#!/usr/bin/env bash
# Measured profiles of one model at several micro-batch sizes, for checking
# planner/profile_interpolation against a size measured in between
# (tests/planner/profile_interpolation_test.cpp reads them).
#
#   bench/interpolation_check.sh [build-dir] [rounds]
#
# Writes profiles/cpu/interpolation/gpt-tiny_mb{2,3,4,6,8,12,16,24,32}_seq64.json,
# each timed as thread CPU time (--cpu-time), one intra-op thread as a rank
# runs. This machine (a VM) has bursts of seconds in which a whole process runs
# up to ~35% slower even in CPU time, so every size is profiled in `rounds`
# interleaved rounds (default 3) and the round with the smallest total
# forward + backward time is kept. Then runs the test that prints the errors.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(realpath "${1:-$ROOT/build}")
ROUNDS=${2:-3}
OUT=$ROOT/profiles/cpu/interpolation
SIZES=(2 3 4 6 8 12 16 24 32)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$OUT"
total() { jq '[.layers[] | .forward_ms + .backward_ms] | add' "$1"; }
for r in $(seq "$ROUNDS"); do
  for mb in "${SIZES[@]}"; do
    f=$tmp/mb${mb}_r$r.json
    "$B/cli/pipekit" profile --model gpt-tiny --microbatch "$mb" --seq 64 --warmup 3 --repeat 9 --cpu-time \
      --quiet --out "$f"
    best=$OUT/gpt-tiny_mb${mb}_seq64.json
    if [ "$r" = 1 ] || [ "$(jq -n "$(total "$f") < $(total "$best")")" = true ]; then cp "$f" "$best"; fi
  done
  echo "round $r done"
done
for mb in "${SIZES[@]}"; do
  printf 'micro-batch %2d: forward + backward %8.3f ms\n' "$mb" "$(total "$OUT/gpt-tiny_mb${mb}_seq64.json")"
done
"$B/tests/planner/planner_tests" -tc='*measured*' -s | grep 'MESSAGE' | sed 's/.*MESSAGE: //' || true
