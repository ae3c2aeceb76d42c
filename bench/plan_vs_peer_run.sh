#!/usr/bin/env bash
# The planner's gain, measured: pipekit's searched plan and the best peer
# default plan (the peer plan the simulator scores fastest) for gpt2-small,
# each run on this CPU with pipekit run, alternated A B A B.
#
#   bench/plan_vs_peer_run.sh [build-dir] [ranks...]     (default ranks: 2 4)
#
# Per rank count p: a profile measured now (micro-batch 1, seq 32, --cpu-time),
# global batch G = 8p, link bandwidth 10 GB/s; `plan --search` against every
# `plan --peer` rule (planner/peer_plans.h). Each plan runs STEPS optimizer
# steps (default 4; pipedream/2bw: 4 minibatches in one stream); the figure is
# the run's mean time per sample over all steps, warm-up included for both
# plans alike. When the ranks outnumber this machine's cores they share them:
# `pipekit corun` measures the capacity and both the search and the peers
# are scored with `--shared-device` at it. Prints one Markdown row per p: predicted and measured ms/sample
# and the measured ratio (peer / pipekit: > 1 means pipekit's plan is faster).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(realpath "${1:-$ROOT/build}")
shift || true
if [ $# -gt 0 ]; then RANKS=("$@"); else RANKS=(2 4); fi
STEPS=${STEPS:-4}
PK=$B/cli/pipekit
PEERS=(megatron megatron-interleaved deepspeed torchtitan torchtitan-interleaved torchtitan-zbv)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PK" profile --model gpt2-small --microbatch 1 --seq 32 --warmup 1 --repeat 5 --cpu-time --quiet --out "$tmp/prof.json"
describe() { jq -r '"\(.schedule.kind) p=\(.stages|length) x\([.stages[].replicas // 1]|max) m=\(.schedule.microbatches)"' "$1"; }
# mean ms per sample of one run of plan $1 on $2 ranks with global batch $3
run_plan() {
  "$PK" run --plan "$1" --nproc "$2" --batch "$3" --seq 32 --steps "$STEPS" --quiet \
    --metrics "$tmp/m.jsonl" >"$tmp/run.log" 2>&1 || { cat "$tmp/run.log" >&2; exit 1; }
  jq -s --argjson g "$3" '(map(.step_time_ms) | add) / length / $g' "$tmp/m.jsonl"
}
echo "| ranks | global batch | pipekit plan | best peer | predicted ms/sample (pipekit / peer) | measured ms/sample, A B A B (pipekit / peer) | measured ratio peer/pipekit |"
echo "|---|---|---|---|---|---|---|"
for p in "${RANKS[@]}"; do
  G=$((8 * p))
  shared=()
  label=$p
  if ((p > $(nproc))); then
    cap=$("$PK" corun --model gpt2-small --ranks "$p" --microbatch 1 --seq 32 --window 1 |
      awk '/^capacity:/ {print $2}')
    shared=(--shared-device "$cap")
    label="$p (on $(nproc) cores, capacity $cap)"
  fi
  "$PK" plan --profile "$tmp/prof.json" --devices "$p" --global-batch "$G" --bandwidth 10GB/s --search \
    "${shared[@]}" --out "$tmp/pk.json" >/dev/null
  best="" best_t=""
  for peer in "${PEERS[@]}"; do
    t=$("$PK" plan --profile "$tmp/prof.json" --devices "$p" --global-batch "$G" --bandwidth 10GB/s --peer "$peer" \
      "${shared[@]}" --json 2>/dev/null | jq -r '.predicted.time_per_sample_ms // empty') || continue
    [ -n "$t" ] || continue
    if [ -z "$best" ] || [ "$(jq -n "$t < $best_t")" = true ]; then best=$peer best_t=$t; fi
  done
  "$PK" plan --profile "$tmp/prof.json" --devices "$p" --global-batch "$G" --bandwidth 10GB/s --peer "$best" \
    "${shared[@]}" --out "$tmp/peer.json" >/dev/null
  pk_t=$(jq -r '.predicted.time_per_sample_ms' "$tmp/pk.json")
  a=() b=()
  for round in 1 2; do
    a+=("$(run_plan "$tmp/pk.json" "$p" "$G")")
    b+=("$(run_plan "$tmp/peer.json" "$p" "$G")")
  done
  ma=$(printf '%s\n' "${a[@]}" | awk '{s+=$1} END {print s/NR}')
  mb=$(printf '%s\n' "${b[@]}" | awk '{s+=$1} END {print s/NR}')
  printf '| %s | %d | %s | %s: %s | %.2f / %.2f | %.2f, %.2f / %.2f, %.2f | %.3f |\n' "$label" "$G" \
    "$(describe "$tmp/pk.json")" "$best" "$(describe "$tmp/peer.json")" "$pk_t" "$best_t" \
    "${a[0]}" "${a[1]}" "${b[0]}" "${b[1]}" "$(jq -n "$mb / $ma")"
done
