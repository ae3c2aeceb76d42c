#!/usr/bin/env bash
# Sim vs real over a grid of shapes (issue 18): every cell runs
# `pipekit run ... --compare` on this machine and the table says, per cell,
# the predicted step, its p10-p90 spread, the measured median step, the error,
# whether the measurement landed in the spread, and the worst per-rank busy
# error; the summary gives the median and 90th percentile |step error|, the
# share of cells inside their spread and of busy errors within 10%.
# Run it on an otherwise idle machine.
#
#   bench/fidelity_grid.sh [build-dir] > table.md
#   FULL=1 bench/fidelity_grid.sh             # the whole grid (176 cells run, 12 n/a; 69 min on 2 cores)
#   ROWS="1 4" SEQS=32 SCHEDULES=1f1b RANKS=2 bench/fidelity_grid.sh   # a subset
#   OUT=dir keeps every cell's JSON there (default: a temporary directory)
#
# gpt-tiny cells: rows per micro-batch x seq x schedule x ranks, 8 micro-batches
# (pipedream: minibatches of 4, a stream of 3), 8 steps (the median of 7).
# Each shape is profiled once (CPU time, as --compare does) and every cell of
# that shape reuses it; PROFILE=cell leaves --profile out, so each cell's
# --compare profiles in-process right after its run, as a user's `run
# --compare` does (the profile then sees the machine's speed of that minute).
# gpt2-small adds two shapes (GPT2=0 leaves them out).
set -u
BUILD=${1:-build}
P=$BUILD/cli/pipekit
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
if [[ ${FULL:-0} == 1 ]]; then
  ROWS=${ROWS:-"1 2 4 8 16 32"}; SEQS=${SEQS:-"32 64"}; RANKS=${RANKS:-"2 3 4"}
else
  ROWS=${ROWS:-"1 4 16"}; SEQS=${SEQS:-"32 64"}; RANKS=${RANKS:-"2 3 4"}
fi
SCHEDULES=${SCHEDULES:-"gpipe 1f1b interleaved zb-h1 pipedream"}
STEPS=${STEPS:-8}
layers=6  # gpt-tiny: embedding, 4 blocks, head

cells=()
for rows in $ROWS; do for seq in $SEQS; do for s in $SCHEDULES; do for p in $RANKS; do
  cells+=("gpt-tiny $rows $seq $s $p")
done; done; done; done
if [[ ${GPT2:-1} == 1 ]]; then
  for shape in "1 32" "2 64"; do for s in 1f1b gpipe; do for p in 2 4; do
    cells+=("gpt2-small $shape $s $p")
  done; done; done
fi

echo "| model | rows x seq | schedule | ranks | predicted ms | p10-p90 ms | measured ms | error | in band | worst busy error | speed p10-p90 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for cell in "${cells[@]}"; do
  read -r model rows seq s p <<<"$cell"
  extra="--microbatches 8 --steps $STEPS"
  v=1
  case $s in
    interleaved) v=2; extra="$extra --virtual 2" ;;
    pipedream) extra="--microbatches 4 --steps 3" ;;
  esac
  if [[ $model == gpt-tiny ]] && (( p * v > layers )); then
    echo "| $model | $rows x $seq | $s | $p | n/a: $((p * v)) stages > $layers layers | | | | | |"
    continue
  fi
  m=$(sed -E 's/.*--microbatches ([0-9]+).*/\1/' <<<"$extra")
  prof=$OUT/profile-$model-$rows-$seq.json
  given=()
  if [[ ${PROFILE:-shape} != cell ]]; then
    if [[ ! -f $prof ]]; then
      "$P" profile --model "$model" --microbatch "$rows" --seq "$seq" --cpu-time --quiet --out "$prof" >/dev/null 2>&1 ||
        { echo "| $model | $rows x $seq | $s | $p | profile failed | | | | | |"; continue; }
    fi
    given=(--profile "$prof")
  fi
  f=$OUT/$model-$rows-$seq-$s-$p.json
  if ! "$P" run --model "$model" --schedule "$s" $extra --batch $((rows * m)) --seq "$seq" --nproc "$p" \
      "${given[@]}" --quiet --timeout 300 --compare "$f" >"$f.log" 2>&1; then
    echo "| $model | $rows x $seq | $s | $p | failed: see $f.log | | | | | |"
    continue
  fi
  /usr/bin/python3 - "$f" "$model" "$rows x $seq" "$s" "$p" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
busy = max(abs(r["busy_error"]) for r in d["per_rank"])
print("| %s | %s | %s | %s | %.1f | %.1f-%.1f | %.1f | %+.1f%% | %s | %.1f%% | %.2f-%.2f |" % (
    sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], d["predicted_step_ms"], d["predicted_step_p10_ms"],
    d["predicted_step_p90_ms"], d["measured_step_ms"], 100 * d["step_time_error"],
    "yes" if d["measured_in_band"] else "no", 100 * busy, d.get("spread_speed_p10", 1), d.get("spread_speed_p90", 1)))
PY
done
/usr/bin/python3 - "$OUT" <<'PY'
import glob, json, sys
rows = []
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    if "/profile-" in f or f.endswith("-timeline.json"):
        continue
    try:
        rows.append(json.load(open(f)))
    except Exception:
        pass
if not rows:
    sys.exit(0)
err = sorted(abs(d["step_time_error"]) for d in rows)
q = lambda v, p: v[min(len(v) - 1, int(p * len(v)))]
busy = [abs(r["busy_error"]) for d in rows for r in d["per_rank"]]
print()
print("%d cells: median |step error| %.1f%%, 90th percentile %.1f%%; measured inside p10-p90 in %d (%.0f%%); "
      "per-rank busy error within 10%% in %d of %d ranks (%.0f%%)" % (
          len(rows), 100 * q(err, 0.5), 100 * q(err, 0.9), sum(d["measured_in_band"] for d in rows),
          100.0 * sum(d["measured_in_band"] for d in rows) / len(rows), sum(b <= 0.10 for b in busy), len(busy),
          100.0 * sum(b <= 0.10 for b in busy) / len(busy)))
PY
