#!/usr/bin/env bash
# Installs what pipekit needs from Debian's packages, and only what is missing.
# Idempotent and quick when everything is there (one dpkg-query, no apt-get).
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config clang-format git
  libfmt-dev nlohmann-json3-dev libxxhash-dev libboost-graph-dev libcli11-dev doctest-dev libbenchmark-dev
  libtorch-dev libgloo-dev libopenblas0-pthread python3-torch
  clang libclang-rt-14-dev
  chromium libxml2-utils
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
