#!/usr/bin/env bash
# Installs mlops-ingest like a Debian program and checks the result (run by ctest, tier
# "package"; needs root, exits 77 = skipped otherwise):
#   1. `cmake --install` into a staging root: binary, /etc config, systemd unit whose ExecStart
#      is the installed binary, docs;
#   2. `cpack -G DEB`: the .deb's Depends name the runtime libraries (from dpkg-shlibdeps), and
#      deploy/Dockerfile's runtime stage installs each of them;
#   3. `dpkg -i`: the installed `mlops-ingest --help` runs, the `mlops` user exists, and
#      `systemd-analyze verify` accepts the installed unit; then the package is purged again.
# usage: scripts/test-package.sh BUILD_DIR   (an already built build directory)
set -euo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
  echo "test-package: needs root (dpkg -i); skipped"
  exit 77
fi
fail() { echo "test-package: FAILED: $*" >&2; exit 1; }
work=$(mktemp -d /tmp/mlops-package-XXXXXX)
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then dpkg --purge mlops-ingest >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== cmake --install into a staging root"
for prefix in /usr /usr/local; do
  stage="$work/stage$(echo $prefix | tr / _)"
  DESTDIR="$stage" cmake --install "$build" --prefix "$prefix" >/dev/null
  [ -x "$stage$prefix/bin/mlops-ingest" ] || fail "no $prefix/bin/mlops-ingest"
  [ -f "$stage/etc/mlops-ingest/mlops-ingest.conf" ] || fail "no /etc/mlops-ingest/mlops-ingest.conf"
  [ -f "$stage$prefix/share/doc/mlops-ingest/operations.md" ] || fail "no docs under $prefix/share/doc"
  unit="$stage$prefix/lib/systemd/system/mlops-ingest.service"
  grep -qx "ExecStart=$prefix/bin/mlops-ingest run --config /etc/mlops-ingest/mlops-ingest.conf" "$unit" \
    || fail "the unit installed under $prefix does not start $prefix/bin/mlops-ingest"
done

# systemd takes a "#" after a value as part of the value (a path with "   # comment" in it):
# comments must stand on their own lines.
if grep -nE '^[A-Za-z]+=.*[[:space:]]#' "$src/deploy/mlops-ingest.service"; then
  fail "deploy/mlops-ingest.service has a trailing comment on a setting line"
fi

echo "== cpack -G DEB"
(cd "$build" && cpack -G DEB -B "$work/cpack" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack"; }
deb=$(ls "$work"/cpack/mlops-ingest_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in librdkafka1 libpq5 libsimdjson14 libprometheus-cpp-core1.0 passwd; do
  grep -q "\b$lib\b" <<<"$depends" || fail "Depends lacks $lib"
done
contents=$(dpkg-deb -c "$deb")  # not piped into grep -q: with pipefail, an early exit is a failure
grep -q '\./etc/mlops-ingest/mlops-ingest.conf$' <<<"$contents" || fail "the config is not in the package"
grep -q '\./usr/bin/mlops-ingest$' <<<"$contents" || fail "the binary is not in /usr/bin"
grep -qx /etc/mlops-ingest/mlops-ingest.conf <<<"$(dpkg-deb -I "$deb" conffiles)" || fail "the config is not a conffile"
# The Dockerfile's runtime stage must install every library the binary needs (the base image
# has libc6, libstdc++6, libgcc-s1 and passwd).
runtime=$(sed -n '/^FROM debian:12-slim/,$p' "$src/deploy/Dockerfile")
for pkg in $(tr ',' '\n' <<<"$depends" | sed 's/(.*)//; s/|.*//' | tr -d ' '); do
  case "$pkg" in libc6|libstdc++6|libgcc-s1|passwd) continue ;; esac
  grep -q "\b$pkg\b" <<<"$runtime" || fail "deploy/Dockerfile's runtime stage does not install $pkg"
done

echo "== dpkg -i"
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i"; }
installed=1
/usr/bin/mlops-ingest --help | grep -q "mlops-ingest status" || fail "the installed mlops-ingest --help"
getent passwd mlops >/dev/null || fail "the package did not create the mlops user"
unit=$(dpkg -L mlops-ingest | grep '/systemd/system/mlops-ingest.service$')
# --man=false: Documentation= points at a file, not a man page. Warnings about other units on
# this host are not ours; anything naming our unit is.
if ! systemd-analyze verify --man=false "$unit" >"$work/verify.log" 2>&1 || grep -q mlops-ingest "$work/verify.log"; then
  cat "$work/verify.log" >&2
  fail "systemd-analyze verify $unit"
fi
echo "test-package: ok ($(basename "$deb"))"
