#!/usr/bin/env bash
# Sim vs real on this machine: runs each row with `pipekit run ... --compare`
# and prints one markdown table row per run (predicted, measured, error, the
# same plan with a device per rank, run-calibrated, shared capacity, worst
# peak-activation error). Run it on an otherwise idle machine. Flush
# schedules run 6 steps (the measured step is the median of steps 2-6); an
# asynchronous stream of 3 minibatches is one step.
#
#   bench/simvsreal.sh [build-dir] > table.md
#   EXTRA="--precision bf16" ONLY='1f1b|gpipe' bench/simvsreal.sh   # extra arguments for every row; rows matching ONLY
set -u
BUILD=${1:-build}
P=$BUILD/cli/pipekit
OUT=$(mktemp -d)
rows=(
  "--model gpt2-small --schedule gpipe --microbatches 4 --batch 4 --seq 32 --nproc 2 --steps 6"
  "--model gpt2-small --schedule 1f1b --microbatches 4 --batch 4 --seq 32 --nproc 2 --steps 6"
  "--model gpt2-small --schedule interleaved --virtual 2 --microbatches 4 --batch 4 --seq 32 --nproc 2 --steps 6"
  "--model gpt2-small --schedule pipedream --microbatches 4 --batch 4 --seq 32 --nproc 2 --steps 3"
  "--model gpt2-small --schedule gpipe --microbatches 8 --batch 8 --seq 32 --nproc 4 --steps 6"
  "--model gpt2-small --schedule 1f1b --microbatches 8 --batch 8 --seq 32 --nproc 4 --steps 6"
  "--model gpt2-small --schedule interleaved --virtual 2 --microbatches 8 --batch 8 --seq 32 --nproc 4 --steps 6"
  "--model gpt2-small --schedule pipedream --microbatches 4 --batch 4 --seq 32 --nproc 4 --steps 3"
  "--model gpt-tiny --schedule gpipe --microbatches 8 --batch 32 --seq 64 --nproc 2 --steps 6"
  "--model gpt-tiny --schedule 1f1b --microbatches 8 --batch 32 --seq 64 --nproc 2 --steps 6"
  "--model gpt-tiny --schedule interleaved --virtual 2 --microbatches 8 --batch 32 --seq 64 --nproc 2 --steps 6"
  "--model gpt-tiny --schedule pipedream --microbatches 4 --batch 16 --seq 64 --nproc 2 --steps 3"
  "--model gpt-tiny --schedule gpipe --microbatches 8 --batch 32 --seq 64 --nproc 4 --steps 6"
  "--model gpt-tiny --schedule 1f1b --microbatches 8 --batch 32 --seq 64 --nproc 4 --steps 6"
)
echo "| \`pipekit run\` arguments (+ \`--quiet --compare F.json\`) | predicted ms | measured ms | error | a device per rank ms | run-calibrated ms (error) | capacity | load | worst peak-activation error |"
echo "|---|---|---|---|---|---|---|---|---|"
i=0
for args in "${rows[@]}"; do
  i=$((i + 1))
  [[ -z ${ONLY:-} || $args =~ $ONLY ]] || continue
  args="$args ${EXTRA:-}"
  f=$OUT/row$i.json
  if ! $P run $args --quiet --timeout 300 --compare "$f" >"$OUT/row$i.log" 2>&1; then
    echo "| \`$args\` | failed: see $OUT/row$i.log | | | | | | | |"
    continue
  fi
  /usr/bin/python3 - "$f" "$args" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); c = d["calibration"]
worst = max(abs(r["peak_activation_error"]) for r in d["per_rank"])
print("| `%s` | %.1f | %.1f | %+.1f%% | %.1f | %.1f (%+.1f%%) | %.2f | %s | %.1f%% |" % (
    sys.argv[2], d["predicted_step_ms"], d["measured_step_ms"], 100 * d["step_time_error"], d["dedicated_step_ms"],
    d["run_calibrated_step_ms"], 100 * d["run_calibrated_step_time_error"], c["shared_capacity"],
    c["load_average_1min"], 100 * worst))
PY
done
