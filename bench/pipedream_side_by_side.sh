#!/usr/bin/env bash
# pipekit's planner beside PipeDream's own optimizer on the same graph.txt
# profiles: prints each case's two answers (time per stage) so that they can
# be seen to agree, and the two commands, which bench/RESULTS.md times side by
# side. PipeDream's optimizer is not in this repository: give the directory of
# a checkout of github.com/msr-fiddle/pipedream (it needs python3-graphviz).
#
#   bench/pipedream_side_by_side.sh PIPEDREAM_DIR [build-dir]
set -euo pipefail
PD=$(realpath "${1:?usage: $0 PIPEDREAM_DIR [build-dir]}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
P=$(realpath "${2:-$ROOT/build}")/cli/pipekit
OUT=$(mktemp -d)
cases=(  # model | PipeDream's -n and -b | pipekit's --devices and --bandwidth
  "vgg16|-n 16 -b 1000000000|--devices 16 --bandwidth 1e9"
  "gnmt|-n 4 -b 1000000000|--devices 4 --bandwidth 1e9"
  "resnet50|-n 8 2 -b 10000000000 1000000000|--devices 8,2 --bandwidth 10GB/s,1GB/s"
)
for c in "${cases[@]}"; do
  IFS='|' read -r model pd_args pk_args <<<"$c"
  graph=$ROOT/profiles/pipedream/graph/$model/graph.txt
  # PipeDream without --activation_compression_ratio ignores activation transfers.
  pd_cmd="/usr/bin/python3 $PD/optimizer/optimizer_graph_hierarchical.py -f $graph $pd_args -o $OUT/$model"
  pk_cmd="$P plan --profile $ROOT/profiles/pipedream/$model.json $pk_args --cost-model pipedream --no-transfers"
  echo "== $model"
  echo "PipeDream: (cd $PD/optimizer && $pd_cmd)"
  echo "pipekit:   $pk_cmd"
  (cd "$PD/optimizer" && $pd_cmd) | grep -m1 'Time per stage in pipeline' | sed 's/^/  PipeDream /'
  $pk_cmd | grep -i -m2 'time per\|per minibatch' | sed 's/^/  pipekit   /'
done
