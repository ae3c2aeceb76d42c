#!/usr/bin/env bash
# The main job, end to end, on the built-in default (a small GPT on this CPU):
#   install what is missing -> build -> profile -> plan for 2 ranks -> simulate the
#   seed's schedules side by side -> run the chosen plan -> one HTML report with the
#   predicted and measured timelines on one time scale.
# Everything goes to out/demo/. Takes a few minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
pk=build/cli/pipekit
out=out/demo
mkdir -p "$out"
mb=32 seq=64 m=8 ranks=2

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. profile gpt-tiny on this CPU (micro-batch $mb, sequence $seq)"
$pk profile --model gpt-tiny --device cpu --microbatch $mb --seq $seq --warmup 2 --repeat 5 --out "$out/profile.json"
$pk inspect "$out/profile.json"

step "2. plan it for $ranks ranks: every schedule the executor runs, scored by simulation"
$pk plan --profile "$out/profile.json" --devices $ranks --straight --search --microbatches $m \
  --out "$out/plan.json"

step "3. the seed's schedules on the same profile, layers split evenly over $ranks ranks (x2 chunks for interleaved, zbv)"
printf '%-26s %12s %12s %8s %14s\n' schedule "step ms" "ms/minibatch" bubble "peak memory"
for s in "naive|--microbatches 1" "gpipe|" "gpipe --recompute always|" "1f1b|" "interleaved --virtual 2|" \
         "pipedream|" "2bw|" "zb-h1|" "zbv --virtual 2|"; do
  IFS='|' read -r sched extra <<<"$s"
  stages=$ranks
  case $sched in *--virtual\ 2*) stages=$((ranks * 2)) ;; esac
  [ -n "$extra" ] || extra="--microbatches $m"
  json=$($pk simulate --profile "$out/profile.json" --stages $stages --schedule $sched $extra --json)
  python3 - "$sched" "$json" <<'PY'
import json, sys
name, j = sys.argv[1], json.loads(sys.argv[2])
per = j["time_per_minibatch_ms"] if j["asynchronous"] else j["step_time_ms"]
bubble = "-" if j["asynchronous"] else f'{100 * j["bubble_fraction"]:.1f}%'
print(f'{name:26s} {j["step_time_ms"]:12.2f} {per:12.2f} {bubble:>8s} {j["peak_memory_bytes"] / 1e6:11.2f} MB')
PY
done
echo "(pipedream and 2bw run several minibatches back to back without a flush: compare ms/minibatch)"

step "4. run the chosen plan: $ranks processes, Gloo, checked against one-process training"
$pk run --plan "$out/plan.json" --nproc $ranks --microbatches $m --batch $((mb * m)) --seq $seq --steps 6 \
  --verify --metrics "$out/metrics.jsonl" --timeline "$out/measured.json" \
  --compare "$out/compare.json" --profile "$out/profile.json" --html "$out/report.html"

step "done"
echo "profile:           $out/profile.json"
echo "plan:              $out/plan.json"
echo "measured timeline: $out/measured.json"
echo "predicted vs measured: $out/compare.json"
echo "report (open in a browser): $(pwd)/$out/report.html"
