#!/usr/bin/env bash
# One prepared check for a lent GPU machine (PyTorch with CUDA installed):
# builds pipekit against PyTorch's LibTorch, profiles models on cuda, runs a
# 2-rank pipeline with --compare, and prints everything. Results go to $OUT
# (a temporary directory when unset). Every step runs even if an earlier one
# failed; the exit status is the number of failed steps.
#
#   OUT=/tmp/out scripts/gpu_check.sh
#
# What to expect (as of this writing): the profiler times layers with CUDA events
# and reads the caching allocator's statistics when LibTorch has CUDA+NCCL
# (PIPEKIT_TORCH_CUDA, executor/gpu_transport.h). The pipeline runtime
# (executor/stage_runtime.cpp) still trains on the CPU with Gloo, so the 2-rank
# run below measures CPU ranks on the GPU machine; with one GPU, two ranks could
# not use NCCL anyway (one rank per device) and would fall back to Gloo with
# host staging. gpt models on cuda need the causal mask made on the input's
# device (executor/model_layers.cpp); until then their cuda profile fails and
# the mlp profile shows the CUDA path works.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
BUILD=${BUILD:-$ROOT/build-gpu}
JOBS=${JOBS:-$(nproc)}
failed=0
step() {  # step NAME COMMAND...: run, tee the output to $OUT/NAME.log, count failures
  local name=$1; shift
  echo "=== $name: $*"
  local t0=$SECONDS
  "$@" 2>&1 | tee "$OUT/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc after $((SECONDS - t0)) s"
  [ "$rc" -eq 0 ] || failed=$((failed + 1))
  return 0
}

step machine bash -c 'nvidia-smi; nproc; free -g; python3 -c "import torch; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"available\", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else \"\")"'
PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
step configure cmake -S "$ROOT" -B "$BUILD" $GEN -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX"
step build cmake --build "$BUILD" --target pipekit -j "$JOBS"
P="$BUILD/cli/pipekit"
step cuda_flag bash -c "grep -rl USE_C10D_NCCL '$BUILD/executor' >/dev/null 2>&1 && echo 'USE_C10D_NCCL seen in the executor build: PIPEKIT_TORCH_CUDA=1' || echo 'USE_C10D_NCCL not seen: PIPEKIT_TORCH_CUDA=0 (CPU paths only)'; grep -o 'USE_C10D_NCCL' '$BUILD/build.ninja' | head -1"
step profile_mlp_cuda "$P" profile --model mlp --device cuda --microbatch 64 --warmup 3 --repeat 20 --out "$OUT/mlp_cuda.json"
step profile_gpt2_small_cuda "$P" profile --model gpt2-small --device cuda --microbatch 4 --seq 256 --warmup 3 \
  --repeat 10 --out "$OUT/gpt2-small_cuda_mb4_seq256.json"
step profile_gpt2_small_cpu "$P" profile --model gpt2-small --device cpu --microbatch 1 --seq 32 --warmup 1 \
  --repeat 5 --threads 4 --out "$OUT/gpt2-small_cpu_mb1_seq32.json"
step compare_2rank "$P" run --model gpt-tiny --schedule 1f1b --microbatches 8 --nproc 2 --steps 4 --timeout 120 \
  --quiet --compare "$OUT/compare_1f1b_2.json"
step compare_2rank_gpipe "$P" run --model gpt-tiny --schedule gpipe --microbatches 8 --nproc 2 --steps 4 \
  --timeout 120 --quiet --compare "$OUT/compare_gpipe_2.json"
for f in "$OUT"/*.json; do
  case "$f" in *measured-timeline*) continue ;; esac
  echo "=== $f"; head -c 4000 "$f"; echo
done
echo "=== $failed step(s) failed; outputs in $OUT"
exit "$failed"
