#!/usr/bin/env bash
# Formats every C++ file the repository tracks with .clang-format, in place.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files '*.cpp' '*.h' | xargs clang-format -i
