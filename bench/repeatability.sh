#!/usr/bin/env bash
# The same `pipekit run` N times: each run's mean step and how far the runs
# lie from their median, i.e. the floor under any prediction's error on this
# machine (docs/sim-vs-real.md, "The machine's own speed").
#
#   bench/repeatability.sh [build-dir] [N=8] -- RUN-ARGUMENTS
#   bench/repeatability.sh build 8 -- --model gpt-tiny --schedule 1f1b --microbatches 8 --batch 16 --seq 32 --nproc 2 --steps 8
set -eu
BUILD=${1:-build}; N=${2:-8}
shift 2 || true
[[ ${1:-} == -- ]] && shift
ms=()
for ((i = 1; i <= N; i++)); do
  line=$("$BUILD/cli/pipekit" run "$@" 2>&1 | grep '^done:')
  v=$(sed -E 's/.*mean ([0-9.]+) ms\/step.*/\1/' <<<"$line")
  echo "run $i: $v ms/step"
  ms+=("$v")
done
/usr/bin/python3 - "${ms[@]}" <<'PY'
import statistics, sys
v = [float(x) for x in sys.argv[1:]]
m = statistics.median(v)
d = sorted(abs(x / m - 1) for x in v)
print("%d runs: %.1f-%.1f ms/step, median %.1f; |run / median - 1|: median %.1f%%, max %.1f%%" %
      (len(v), min(v), max(v), m, 100 * statistics.median(d), 100 * d[-1]))
PY
