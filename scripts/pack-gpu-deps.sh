#!/usr/bin/env bash
# Packs the Debian build dependencies pipekit needs (headers of Boost.Graph (used header-only),
# fmt, nlohmann/json, CLI11, Gloo, xxHash, doctest; libfmt, libxxhash; their CMake
# package files) into DIR/usr, for building on a machine that has a CUDA
# PyTorch but none of Debian's -dev packages and no network (the lent GPU
# machine). Boost's 160 MB of headers travel as DIR/boost.tgz (19 MB), which
# scripts/gpu_check.sh unpacks into DIR/usr/include there.
#
#   scripts/pack-gpu-deps.sh [DIR]      then: cmake -DCMAKE_PREFIX_PATH="<torch>;DIR/usr" ...
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(realpath -m "${1:-$ROOT/.gpu-deps}")
ARCH=x86_64-linux-gnu
rm -rf "$DIR"
mkdir -p "$DIR/usr/include" "$DIR/usr/lib/$ARCH/cmake" "$DIR/usr/share/cmake"
# Whole header trees of the small libraries.
for d in fmt nlohmann CLI doctest; do cp -a "/usr/include/$d" "$DIR/usr/include/"; done
cp -a /usr/include/xxhash.h /usr/include/xxh3.h "$DIR/usr/include/"
# Gloo only as a fallback (-idirafter): LibTorch may bundle its own, which must win.
mkdir -p "$DIR/fallback/include" && cp -a /usr/include/gloo "$DIR/fallback/include/"
tar -czf "$DIR/boost.tgz" -C /usr/include boost
# Libraries and CMake package files (they locate the prefix relative to themselves).
cp -a /usr/lib/$ARCH/libfmt.so* /usr/lib/$ARCH/libxxhash.so* "$DIR/usr/lib/$ARCH/"
for d in fmt Boost-1.74.0 boost_headers-1.74.0; do
  cp -a "/usr/lib/$ARCH/cmake/$d" "$DIR/usr/lib/$ARCH/cmake/"
done
for d in CLI11 nlohmann_json; do cp -a "/usr/share/cmake/$d" "$DIR/usr/share/cmake/"; done
# doctest, for building the executor's unit tests against the GPU's LibTorch.
# Its package file names /usr/include, so the header also goes to the fallback path.
mkdir -p "$DIR/usr/lib/cmake" && cp -a /usr/lib/cmake/doctest "$DIR/usr/lib/cmake/"
cp -a /usr/include/doctest "$DIR/fallback/include/"
echo "packed into $DIR: $(du -sh "$DIR" | cut -f1)"
