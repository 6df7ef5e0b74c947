#!/usr/bin/env bash
# The unit and integration tiers under AddressSanitizer+LeakSanitizer+UBSan, then under
# ThreadSanitizer (CMakePresets.json: asan-ubsan, tsan), one after the other: configure, build,
# ctest. Exits non-zero if any build or test failed (both presets always run, so one run shows
# everything). Each preset has its own build directory (build-asan-ubsan, build-tsan) and its
# own throwaway PostgreSQL port (25443, 25444: below the ephemeral range 32768-60999, so that
# no outgoing connection can hold it), so this can run next to scripts/test.sh.
#
# usage: scripts/test-sanitizers.sh [PRESET...]     (default: asan-ubsan tsan)
#   JOBS=N        build parallelism (default: nproc)
#   extra ctest arguments: CTEST_ARGS="-R Pipeline"
#
# Sanitizer options are set by the test presets; TSan suppressions (third-party only) are in
# tests/sanitizers/tsan.supp. To run a binary by hand outside ctest, export the same options:
#   TSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/tsan.supp:second_deadlock_stack=1 build-tsan/tests/unit_tests
set -uo pipefail
cd "$(dirname "$0")/.."

presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(asan-ubsan tsan)
jobs=${JOBS:-$(nproc)}

scripts/install-deps.sh || exit 1

failed=()
start_all=$(date +%s)
for preset in "${presets[@]}"; do
  start=$(date +%s)
  echo "== $preset: configure + build"
  if ! cmake --preset "$preset" >/dev/null || ! cmake --build --preset "$preset" --parallel "$jobs"; then
    failed+=("$preset:build")
    continue
  fi
  echo "== $preset: unit + integration tiers"
  # shellcheck disable=SC2086  # CTEST_ARGS is a word list on purpose
  if ! ctest --preset "$preset" -L '^(unit|integration)$' ${CTEST_ARGS:-}; then
    failed+=("$preset:tests")
  fi
  echo "== $preset: $(( $(date +%s) - start )) s"
done

echo "== sanitizers: $(( $(date +%s) - start_all )) s in all"
if [ ${#failed[@]} -gt 0 ]; then
  echo "sanitizer run FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "sanitizer run passed: ${presets[*]}"
