#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) into build-fuzz and runs each
# for SECONDS (default 600) on a seed corpus made from the shipped files.
# Usage: scripts/fuzz.sh [SECONDS] [READER...]   (readers: see fuzz/CMakeLists.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
readers=("$@")
[ ${#readers[@]} -gt 0 ] || readers=(profile_json pipedream_graph plan_json cluster_json schedule_text schedule_csv schedule_json timeline_json checkpoint_manifest)
san="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="$san" -DPIPEKIT_FUZZ=ON -DPIPEKIT_WITH_TORCH=OFF -DPIPEKIT_BUILD_TESTS=OFF \
  -DPIPEKIT_BUILD_BENCH=OFF >/dev/null
ninja -C build-fuzz $(printf 'fuzz_%s ' "${readers[@]}") >/dev/null
mkdir -p fuzz/artifacts
for r in "${readers[@]}"; do
  corpus=fuzz/corpus-$r
  mkdir -p "$corpus"
  case $r in
    profile_json) cp profiles/pipedream/{alexnet,vgg16,gnmt}.json "$corpus/" ;;
    pipedream_graph) for m in alexnet vgg16 gnmt resnet18; do cp profiles/pipedream/graph/$m/graph.txt "$corpus/$m.txt"; done ;;
    *) cp fuzz/seeds/$r.* "$corpus/" 2>/dev/null || true ;;
  esac
  echo "fuzz_$r: ${seconds}s"
  ./build-fuzz/fuzz/fuzz_$r "$corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -print_final_stats=1 -artifact_prefix=fuzz/artifacts/$r-  2>&1 | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)|ERROR|SUMMARY" || true
done
