#!/usr/bin/env bash
# Configures and builds pipekit into ./build (Release). Extra arguments go to cmake.
# Compiler output goes to build.log and is shown only when the build fails.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${PIPEKIT_JOBS:-$(nproc)}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >build.log 2>&1 || { cat build.log; exit 1; }
grep '^-- pipekit:' build.log || true
echo "building with $jobs jobs (compiler output: build.log; LibTorch parts take a few minutes the first time)"
if ! ninja -C build -j"$jobs" >>build.log 2>&1; then
  grep -E 'error|FAILED' -A5 build.log | head -60
  echo "build failed; the whole log is in build.log" >&2
  exit 1
fi
echo "built: build/cli/pipekit"
