#!/usr/bin/env bash
# Regenerates docs/figures/*.svg: the Gantt chart of every schedule of the
# tutorial on a uniform 4-rank model (forward 1 ms, backward 2 ms of which the
# weight gradient is 1 ms, 8 micro-batches (naive: 1, it has no micro-batching),
# free links), predicted by
# `pipekit simulate` and drawn by `pipekit viz`. The cost-aware zb-auto is
# drawn on unequal measured costs instead (PipeDream's AlexNet profile split
# into 4 stages), next to zb-h1 on the same costs.
#
# Usage: docs/figures/regenerate.sh [PIPEKIT_BINARY]   (default: build/cli/pipekit)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pipekit=${1:-$here/../../build/cli/pipekit}
[ -x "$pipekit" ] || { echo "regenerate.sh: no pipekit binary at $pipekit; build it or pass its path" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

common=(--synthetic 4 --fwd 1 --bwd 2 --wgrad 1)
alexnet="--profile $here/../../profiles/pipedream/alexnet.json --stages 4"
# name | simulate flags | title | costs (default: the uniform model above)
figures=(
  "naive|--schedule naive --microbatches 1|naive: one micro-batch at a time"
  "gpipe|--schedule gpipe --microbatches 8|GPipe: all forwards, then all backwards"
  "gpipe-recompute|--schedule gpipe --recompute always --microbatches 8|GPipe with activation recomputation"
  "1f1b|--schedule 1f1b --microbatches 8|1F1B: one forward, one backward"
  "pipedream|--schedule pipedream --minibatches 2 --microbatches 8|PipeDream: asynchronous 1F1B, weight stashing"
  "2bw|--schedule 2bw --minibatches 2 --microbatches 8|PipeDream-2BW: double-buffered weights"
  "interleaved|--schedule interleaved --virtual 2 --microbatches 8|Interleaved 1F1B, 2 chunks per rank"
  "zb-h1|--schedule zb-h1 --microbatches 8|Zero bubble ZB-H1: backward split into I and W"
  "zbv|--schedule zbv --virtual 2 --microbatches 8|Zero bubble V (ZBV): 2 chunks per rank in a V"
  "zb-interleaved|--schedule zb-interleaved --virtual 2 --microbatches 8|Interleaved zero bubble, 2 chunks per rank"
  "dualpipev|--schedule dualpipev --virtual 2 --microbatches 8|DualPipeV: 2 chunks per rank in a V, bidirectional"
  "zb-h1-alexnet|--schedule zb-h1 --microbatches 8|ZB-H1 on AlexNet's unequal stages (unit-cost order)|$alexnet"
  "zb-auto|--schedule zb-auto --microbatches 8|zb-auto on AlexNet's unequal stages (built for these costs)|$alexnet"
)
for f in "${figures[@]}"; do
  IFS='|' read -r name flags title costs <<<"$f"
  # shellcheck disable=SC2086
  if [ -n "$costs" ]; then
    "$pipekit" simulate $costs $flags --timeline "$tmp/$name.json" >/dev/null
  else
    "$pipekit" simulate "${common[@]}" $flags --timeline "$tmp/$name.json" >/dev/null
  fi
  "$pipekit" viz "$tmp/$name.json" --svg "$here/$name.svg" --title "$title" | tail -n 1
done
