#!/usr/bin/env bash
# README command 2: install dependencies, build, run every test (unit, fuzz-corpus replay and
# integration against a throwaway PostgreSQL and the embedded Kafka broker that ctest starts).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build-test RelWithDebInfo -DMLOPS_WERROR=ON
cd build-test
ctest --output-on-failure --parallel 2 "$@"
