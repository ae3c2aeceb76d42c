#!/usr/bin/env bash
# Configures and builds pipekit into ./build (Release). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${PIPEKIT_JOBS:-$(nproc)}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >build.log 2>&1 || { cat build.log; exit 1; }
grep '^-- pipekit:' build.log || true
ninja -C build -j"$jobs"
