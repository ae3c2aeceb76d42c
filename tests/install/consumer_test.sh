#!/usr/bin/env bash
# Installs pipekit from build dir $1 into a temporary prefix, builds the consumer
# project $2 with find_package(pipekit), runs it on profile $3 and checks its output.
set -euo pipefail
build=$1 consumer=$2 profile=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -x "$tmp/prefix/bin/pipekit"
"$tmp/prefix/bin/pipekit" --version | grep -q "pipekit "
# The installed command hands the training commands to the installed training part.
if [ -x "$build/cli/pipekit-train" ]; then
  test -x "$tmp/prefix/bin/pipekit-train"
  # grep reads it all (not -q): a help longer than one pipe write would
  # otherwise die of SIGPIPE, which pipefail reports as a failure.
  "$tmp/prefix/bin/pipekit" run --help | grep -- "--schedule-file" >/dev/null
fi
cmake -S "$consumer" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$tmp/build" >/dev/null
out=$("$tmp/build/consumer" "$profile")
echo "$out"
grep -q "layers 40" <<<"$out"
grep -q "dp stages 2 first replicas 3 time per minibatch 0.205521 s" <<<"$out"  # PipeDream's published answer
grep -q "simulated 1f1b step 33.0 ms" <<<"$out"                                  # (m+p-1)(F+B)
grep -q "consumer ok" <<<"$out"
