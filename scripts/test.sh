#!/usr/bin/env bash
# README command 2: install dependencies, build, run every test:
#   - the unit tier and the fuzz-corpus replay (no servers),
#   - the integration tier (a throwaway PostgreSQL that ctest starts, the embedded Kafka broker),
#   - the fault tier (each test starts its own PostgreSQL and broker and kills, stops, freezes
#     and restarts them and the mlops-ingest binary),
#   - as root, the package tier (the .deb) and the container tier (deploy/Dockerfile built and
#     run with podman, deploy/k8s-sidecar.yaml played with `podman kube play`),
#   - the arm64 tier: the unit tier cross-compiled for arm64 and run under qemu-user
#     (scripts/test-arm64.sh; needs root, skipped otherwise; skip with MLOPS_SKIP_ARM64=1),
#   - then the unit and integration tiers again under AddressSanitizer+UBSan and ThreadSanitizer
#     (skip with MLOPS_SKIP_SANITIZERS=1).
# Extra arguments go to the main ctest run, e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build-test RelWithDebInfo -DMLOPS_WERROR=ON
(cd build-test && ctest --output-on-failure --parallel 2 "$@")
if [ "${MLOPS_SKIP_ARM64:-0}" != 1 ] && [ $# -eq 0 ]; then
  scripts/test-arm64.sh || { rc=$?; [ "$rc" = 77 ] || exit "$rc"; }  # 77: skipped (not root)
fi
if [ "${MLOPS_SKIP_SANITIZERS:-0}" != 1 ] && [ $# -eq 0 ]; then
  scripts/test-sanitizers.sh
fi
