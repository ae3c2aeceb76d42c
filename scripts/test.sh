#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what is missing, check the
# formatting, build, run ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-format.sh
scripts/build.sh
cd build
ctest --output-on-failure -j"${PIPEKIT_TEST_JOBS:-2}" --timeout 900 "$@"
