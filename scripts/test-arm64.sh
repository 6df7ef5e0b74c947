#!/usr/bin/env bash
# The arm64 build, proved on an x86-64 machine (run by scripts/test.sh; needs root, exits 77 =
# skipped otherwise):
#   1. installs the cross toolchain (g++-aarch64-linux-gnu) and qemu-user-static if missing;
#   2. makes an arm64 sysroot from Debian's own arm64 packages (dpkg --add-architecture arm64,
#      apt-get download, dpkg -x), cached in MLOPS_ARM64_SYSROOT (default
#      /var/cache/mlops-ingest/arm64-sysroot) and made again only when a package's version changes;
#   3. cross-compiles what the unit tier runs, and nothing else (unit_tests,
#      parse_event_fuzz_replay; no bench, no fuzzer, no server tiers), with
#      cmake/toolchain-aarch64.cmake, into BUILD_DIR (default build-arm64);
#   4. runs `ctest -L unit` there: ctest runs every test executable under qemu-aarch64-static
#      with the sysroot as its root (CMAKE_CROSSCOMPILING_EMULATOR), gtest's test listing too.
# What runs where in step 4: the gtest executables (every unit test, and the parser's tests once
# per kernel: parser_kernel_haswell and _icelake report "skipped", those kernels are x86-64 only,
# and EventParserKernel.AutoTakesTheWidestKernelTheTargetRuns checks the portable kernel is the
# one chosen) and the fuzz-corpus replay run under qemu. layout_floors and deploy_files are shell
# scripts that read the sources, not the binaries: they run on the host, as in the x86-64 run.
# portable_binary (no AVX instruction outside the AVX kernels) is not registered off x86-64:
# there are no AVX kernels and no AVX instructions to look for.
# usage: scripts/test-arm64.sh [BUILD_DIR] [extra ctest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
build=${1:-build-arm64}
shift $(( $# > 0 ? 1 : 0 ))
sysroot=${MLOPS_ARM64_SYSROOT:-/var/cache/mlops-ingest/arm64-sysroot}

if [ "$(id -u)" != 0 ]; then
  echo "test-arm64: needs root (dpkg --add-architecture, apt-get); skipped"
  exit 77
fi
export DEBIAN_FRONTEND=noninteractive

# --- 1. toolchain ---------------------------------------------------------------------------
missing=()
for p in g++-aarch64-linux-gnu qemu-user-static; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-arm64: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. sysroot -----------------------------------------------------------------------------
# What the build links, as on x86-64 (scripts/install-deps.sh); their dependencies are resolved
# below. libbenchmark-dev is not needed (no bench in this build).
roots=(librdkafka-dev libsimdjson-dev libboost-dev libpq-dev prometheus-cpp-dev libgtest-dev)
# Left out of the resolved set: the C and C++ development files, which the cross toolchain
# brings for arm64 itself (libc6-dev-arm64-cross, libstdc++-12-dev-arm64-cross; its headers come
# first on the include path), and what only they pull in (gcc's sanitizer, OpenMP and
# transactional-memory runtimes, Sun RPC). The runtime libraries (libc6, libstdc++6, libgcc-s1)
# stay: qemu's dynamic loader takes them from the sysroot.
toolchain_provided='^(libc6-dev|libc-dev-bin|linux-libc-dev|libcrypt-dev|libnsl-dev|libnsl2|libtirpc-dev|libtirpc3|rpcsvc-proto|libstdc\+\+-12-dev|libgcc-12-dev|libasan8|libhwasan0|liblsan0|libtsan2|libubsan1|libgomp1|libitm1|libatomic1)$'

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "test-arm64: dpkg --add-architecture arm64"
  dpkg --add-architecture arm64
fi
if ! compgen -G '/var/lib/apt/lists/*_binary-arm64_Packages*' >/dev/null; then
  apt-get update -qq  # the arm64 package lists
fi
# Every arm64 package the roots need, recursively (Depends only). Unsuffixed names are host or
# architecture-independent packages (googletest's sources, libtirpc-common): not needed here.
mapfile -t packages < <(
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances "${roots[@]/%/:arm64}" |
    grep -E '^[a-z0-9][a-z0-9.+-]*:arm64$' | sed 's/:arm64$//' | grep -Ev "$toolchain_provided" | sort -u)
# The stamp names each package and the version apt would download: a new version (a Debian
# point release) makes the sysroot again.
stamp=$(apt-cache show --no-all-versions "${packages[@]/%/:arm64}" |
          awk '/^Package:/ { p = $2 } /^Version:/ { print p, $2 }' | sort)
if [ -f "$sysroot/.packages" ] && [ "$(cat "$sysroot/.packages")" = "$stamp" ]; then
  echo "test-arm64: sysroot $sysroot is current (${#packages[@]} packages)"
else
  echo "test-arm64: making the sysroot $sysroot from ${#packages[@]} arm64 packages"
  mkdir -p "$(dirname "$sysroot")"
  work=$(mktemp -d "$(dirname "$sysroot")/arm64-sysroot-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  chmod 755 "$work"
  mkdir "$work/debs" "$work/root"
  chown _apt "$work/debs" 2>/dev/null || true  # apt downloads as _apt where it may
  (cd "$work/debs" && apt-get download -qq "${packages[@]/%/:arm64}")
  for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
  # Absolute symlinks (a few lib*.so → /lib/...) would point into the host: make them relative.
  while IFS= read -r link; do
    target=$(readlink "$link")
    ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$work/root$target")" "$link"
  done < <(find "$work/root" -type l -lname '/*')
  [ -e "$work/root/lib/ld-linux-aarch64.so.1" ] || { echo "test-arm64: no arm64 dynamic loader in the sysroot" >&2; exit 1; }
  printf '%s\n' "$stamp" >"$work/root/.packages"
  rm -rf "$sysroot"
  mv "$work/root" "$sysroot"
fi

# --- 3. build -------------------------------------------------------------------------------
cmake -S . -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchain-aarch64.cmake" \
  -DMLOPS_ARM64_SYSROOT="$sysroot" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLOPS_WERROR=ON \
  -DMLOPS_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --parallel "$(nproc)" --target unit_tests parse_event_fuzz_replay

# --- 4. the unit tier under qemu ------------------------------------------------------------
cd "$build"
ctest -L unit --output-on-failure --parallel "$(nproc)" "$@"
